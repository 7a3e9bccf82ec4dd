/**
 * The one table of Switchboard error codes. Every failure anywhere in the system carries one of
 * these codes. Codes are stable: never rename or reuse one; retire it by marking it `retired`.
 * `docs/errors.md` lists the same rows; `test/errors-doc.test.ts` keeps the two in step.
 */
export interface ErrorCodeInfo {
  /** HTTP status the front door answers with. */
  readonly status: number;
  /** Whether the same call may succeed if simply tried again later. */
  readonly retryable: boolean;
  /** Default message when none more specific is given. */
  readonly message: string;
}

export const ERROR_CODES = {
  SB_ERR_PROTO_BAD_FRAME: {
    status: 400,
    retryable: false,
    message: 'Malformed or unknown protocol frame',
  },
  SB_ERR_PROTO_FRAME_TOO_LARGE: {
    status: 413,
    retryable: false,
    message: 'Frame exceeds the negotiated maximum size',
  },
  SB_ERR_PROTO_VERSION: {
    status: 400,
    retryable: false,
    message: 'Unsupported protocol version',
  },
  SB_ERR_AUTH_MISSING_KEY: {
    status: 401,
    retryable: false,
    message: 'An uplink key is required',
  },
  SB_ERR_AUTH_BAD_KEY: {
    status: 401,
    retryable: false,
    message: 'The key is unknown or revoked',
  },
  SB_ERR_AUTH_TIMEOUT: {
    status: 401,
    retryable: true,
    message: 'No hello frame arrived before the authentication deadline',
  },
  SB_ERR_AUTH_NOT_AUTHENTICATED: {
    status: 401,
    retryable: false,
    message: 'The first frame on a connection must be hello',
  },
  SB_ERR_PERMISSION_DENIED: {
    status: 403,
    retryable: false,
    message: 'The caller is not allowed to do that',
  },
  SB_ERR_NAME_INVALID: {
    status: 400,
    retryable: false,
    message: 'Invalid function name',
  },
  SB_ERR_NO_SUCH_FUNCTION: {
    status: 404,
    retryable: false,
    message: 'No function with that name is registered',
  },
  SB_ERR_UPLINK_DISCONNECTED: {
    status: 502,
    retryable: true,
    message: 'The uplink serving the call disconnected before answering',
  },
  SB_ERR_UPLINK_UNRESPONSIVE: {
    status: 502,
    retryable: true,
    message: 'The uplink serving the call stopped answering pings and was closed',
  },
  SB_ERR_CALL_TIMEOUT: {
    status: 504,
    retryable: true,
    message: 'The call did not finish before its deadline',
  },
  SB_ERR_CALL_CANCELLED: {
    status: 499,
    retryable: false,
    message: 'The caller cancelled the call',
  },
  SB_ERR_REMOTE_ERROR: {
    status: 500,
    retryable: false,
    message: 'The function threw an exception',
  },
  SB_ERR_VALUE_NOT_SERIALIZABLE: {
    status: 500,
    retryable: false,
    message: 'A value could not be encoded',
  },
  SB_ERR_CONNECTION_LOST: {
    status: 503,
    retryable: true,
    message: 'The connection to the server was lost',
  },
  SB_ERR_CONNECTION_FAILED: {
    status: 503,
    retryable: true,
    message: 'Could not connect to the server',
  },
  SB_ERR_CLIENT_CLOSED: {
    status: 503,
    retryable: false,
    message: 'The uplink client was closed',
  },
  SB_ERR_SERVER_CLOSING: {
    status: 503,
    retryable: true,
    message: 'The server is shutting down',
  },
  SB_ERR_NOT_SERVED_HERE: {
    status: 503,
    retryable: true,
    message:
      'The server of the cluster this call was sent to no longer serves it (its uplink moved); nothing ran',
  },
  SB_ERR_UPLINK_DRAINED: {
    status: 503,
    retryable: false,
    message: 'The uplink was drained: it takes no new calls and closes once its calls finish',
  },
  SB_ERR_DRAIN_TIMEOUT: {
    status: 503,
    retryable: true,
    message: 'The call was still running when the drain or shutdown deadline passed',
  },
  SB_ERR_HTTP_BAD_BODY: {
    status: 400,
    retryable: false,
    message: 'The request body could not be read',
  },
  SB_ERR_HTTP_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    retryable: false,
    message: 'Unsupported request content type',
  },
  SB_ERR_HTTP_BODY_TOO_LARGE: {
    status: 413,
    retryable: false,
    message: 'The request body is larger than the limit',
  },
  SB_ERR_HTTP_NOT_FOUND: {
    status: 404,
    retryable: false,
    message: 'Not found',
  },
  SB_ERR_HTTP_METHOD_NOT_ALLOWED: {
    status: 405,
    retryable: false,
    message: 'This endpoint does not accept that method',
  },
  SB_ERR_HTTP_NO_PROVIDER: {
    status: 503,
    retryable: true,
    message: 'No uplink serving this endpoint is connected',
  },
  SB_ERR_HTTP_BAD_RESPONSE: {
    status: 500,
    retryable: false,
    message: 'The handler returned a value that cannot be sent as an HTTP response',
  },
  SB_ERR_ENDPOINT_PATH_INVALID: {
    status: 400,
    retryable: false,
    message: 'Invalid endpoint path or methods',
  },
  SB_ERR_ENDPOINT_CONFLICT: {
    status: 409,
    retryable: false,
    message: 'The endpoint path conflicts with a different live registration',
  },
  SB_ERR_SCHEMA_INVALID: {
    status: 400,
    retryable: false,
    message: 'An endpoint or function schema is not a valid JSON Schema',
  },
  SB_ERR_VALIDATION: {
    status: 400,
    retryable: false,
    message: 'The request (or the arguments of a call) does not match its schema',
  },
  SB_ERR_RESPONSE_INVALID: {
    status: 502,
    retryable: false,
    message: "The handler's response does not match the endpoint's response schema",
  },
  SB_ERR_RESOURCE_NOT_FOUND: {
    status: 404,
    retryable: false,
    message: 'No item with that id',
  },
  SB_ERR_AUTH_REQUIRED: {
    status: 401,
    retryable: false,
    message: 'Sign-in is required',
  },
  SB_ERR_AUTH_FAILED: {
    status: 401,
    retryable: false,
    message: 'Invalid login name or password',
  },
  SB_ERR_USER_DISABLED: {
    status: 403,
    retryable: false,
    message: 'This user account is disabled',
  },
  SB_ERR_HTTP_BAD_AUTH_HEADER: {
    status: 400,
    retryable: false,
    message: 'Malformed Authorization header',
  },
  SB_ERR_HTTP_BAD_REQUEST: {
    status: 400,
    retryable: false,
    message: 'The request is not valid HTTP, or its URL cannot be decoded',
  },
  SB_ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    retryable: true,
    message: 'The request did not arrive in time',
  },
  SB_ERR_HTTP_HEADERS_TOO_LARGE: {
    status: 431,
    retryable: false,
    message: 'The request head is larger than the server accepts',
  },
  SB_ERR_LOGIN_THROTTLED: {
    status: 429,
    retryable: true,
    message: 'Too many failed sign-in attempts; try again later',
  },
  SB_ERR_RATE_LIMITED: {
    status: 429,
    retryable: true,
    message: 'Too many requests; try again later',
  },
  SB_ERR_METRICS_FORBIDDEN: {
    status: 403,
    retryable: false,
    message:
      '/metrics is served to loopback clients, and to others only with the metrics token (Authorization: Bearer)',
  },
  SB_ERR_COOKIE_TOO_LARGE: {
    status: 500,
    retryable: false,
    message: 'A cookie would be larger than 4 KB',
  },
  SB_ERR_ANVIL_UNSUPPORTED: {
    status: 501,
    retryable: false,
    message: 'This Anvil service is not available on Switchboard',
  },
  SB_ERR_NO_HTTP_REQUEST: {
    status: 400,
    retryable: false,
    message: 'The call is not made while serving an HTTP request, so it has no cookies',
  },
  SB_ERR_CLUSTER_UNAVAILABLE: {
    status: 503,
    retryable: true,
    message: 'The cluster store (NATS) cannot be reached',
  },
  SB_ERR_USER_EXISTS: {
    status: 409,
    retryable: false,
    message: 'A user with that login name already exists',
  },
  SB_ERR_NO_SUCH_USER: {
    status: 404,
    retryable: false,
    message: 'No such user',
  },
  SB_ERR_USER_INVALID: {
    status: 400,
    retryable: false,
    message: 'Invalid user login name, password or data',
  },
  SB_ERR_FUNCTION_CONFLICT: {
    status: 409,
    retryable: false,
    message: 'The function is live with different permissions or schemas',
  },
  SB_ERR_ADMIN_TOKEN_MISSING: {
    status: 401,
    retryable: false,
    message: 'The admin API needs an admin token (Authorization: Token <token>)',
  },
  SB_ERR_ADMIN_TOKEN_INVALID: {
    status: 401,
    retryable: false,
    message: 'The admin token is unknown or revoked',
  },
  SB_ERR_ADMIN_TOKEN_EXISTS: {
    status: 409,
    retryable: false,
    message: 'An active admin token with that name exists',
  },
  SB_ERR_NO_SUCH_ADMIN_TOKEN: {
    status: 404,
    retryable: false,
    message: 'No active admin token with that id or name',
  },
  SB_ERR_NO_SUCH_USER_TOKEN: {
    status: 404,
    retryable: false,
    message: 'The user has no API token with that id',
  },
  SB_ERR_USER_TOKEN_INVALID: {
    status: 400,
    retryable: false,
    message: 'Invalid user API token name',
  },
  SB_ERR_SCHEDULE_INVALID: {
    status: 400,
    retryable: false,
    message: 'Invalid schedule: its name, cron expression, timezone, function or arguments',
  },
  SB_ERR_NO_SUCH_SCHEDULE: {
    status: 404,
    retryable: false,
    message: 'No schedule with that id or name',
  },
  SB_ERR_SCHEDULE_EXISTS: {
    status: 409,
    retryable: false,
    message: 'A schedule with that name exists',
  },
  SB_ERR_ADMIN_BAD_REQUEST: {
    status: 400,
    retryable: false,
    message: 'Invalid admin request: a field is missing, unknown or of the wrong type',
  },
  SB_ERR_KEY_INVALID: {
    status: 400,
    retryable: false,
    message: 'Invalid key name or kind',
  },
  SB_ERR_NO_SUCH_KEY: {
    status: 404,
    retryable: false,
    message: 'No key with that id',
  },
  SB_ERR_KEY_EXISTS: {
    status: 409,
    retryable: false,
    message: 'An active key with that name exists',
  },
  SB_ERR_KEY_AMBIGUOUS: {
    status: 409,
    retryable: false,
    message: 'Several active keys have that name; name the key by id',
  },
  SB_ERR_NO_SUCH_UPLINK: {
    status: 404,
    retryable: false,
    message: 'No connected uplink with that id',
  },
  SB_ERR_STREAM_STALLED: {
    status: 504,
    retryable: true,
    message: 'A stream sent nothing for too long while it could have',
  },
  SB_ERR_STREAM_LIMIT: {
    status: 503,
    retryable: true,
    message: 'Too many streams are open on this connection',
  },
  SB_ERR_STREAM_CREDIT_EXCEEDED: {
    status: 502,
    retryable: false,
    message: 'A stream sender sent more than its credit allowed',
  },
  SB_ERR_NO_CALL_CONTEXT: {
    status: 500,
    retryable: false,
    message: 'getCallContext() was called outside a registered function',
  },
  SB_ERR_NO_TASK_CONTEXT: {
    status: 500,
    retryable: false,
    message: 'getTaskContext() was called outside a function running as a background task',
  },
  SB_ERR_NO_SUCH_TASK: {
    status: 404,
    retryable: false,
    message: 'No such task',
  },
  SB_ERR_TASK_STATE_TOO_LARGE: {
    status: 413,
    retryable: false,
    message: "The task's state exceeds the server's bound",
  },
  SB_ERR_TASK_RESULT_TOO_LARGE: {
    status: 500,
    retryable: false,
    message: "The task's return value exceeds the server's bound",
  },
  SB_ERR_TOO_MANY_TASKS: {
    status: 429,
    retryable: true,
    message: 'This server runs as many background tasks as it may; try again later',
  },
  SB_ERR_TASK_KILLED: {
    status: 409,
    retryable: false,
    message: 'The task was killed',
  },
  SB_ERR_TASK_INTERRUPTED: {
    status: 503,
    retryable: true,
    message: 'The server running the task stopped before it ended',
  },
  SB_ERR_TASK_ONLY: {
    status: 400,
    retryable: false,
    message: 'The function runs only as a background task: launch it instead of calling it',
  },
  SB_ERR_OPTIONS_INVALID: {
    status: 500,
    retryable: false,
    message: 'Invalid options',
  },
  SB_ERR_INTERNAL: {
    status: 500,
    retryable: false,
    message: 'Internal error',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}
