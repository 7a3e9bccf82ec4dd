export {
  ERROR_CODES,
  isErrorCode,
  type ErrorCode,
  type ErrorCodeInfo,
} from './errors/error-codes.ts';
export {
  SwitchboardError,
  toSwitchboardError,
  handlerErrorToWire,
  type WireError,
  type SwitchboardErrorOptions,
} from './errors/switchboard-error.ts';
export { Media } from './values/media.ts';
export { MediaStream } from './values/media-stream.ts';
export { encodeValue, decodeValue, decodeValues, MEDIA_EXT_TYPE } from './codec/msgpack-codec.ts';
export {
  DEFAULT_DECODE_LIMITS,
  MAX_DECODE_DEPTH,
  type DecodeLimits,
} from './codec/decode-limits.ts';
export { checkJsonLimits } from './codec/json-limits.ts';
export {
  encodeFrame,
  encodeSpliced,
  joined,
  SPLICE_MIN_BYTES,
  type SplicedMessage,
} from './codec/spliced-encoding.ts';
export { MessageWriter, type BinarySocket } from './transport/message-writer.ts';
export * from './protocol/frames.ts';
export * from './protocol/caller.ts';
export * from './protocol/registrations.ts';
export * from './protocol/wire-http.ts';
export * from './protocol/connection-limits.ts';
export { decodeUplinkMessage, decodeServerMessage } from './protocol/decode-frames.ts';
export {
  isFunctionName,
  assertCallable,
  isReservedName,
  reservedNameError,
  RESERVED_NAME_PREFIX,
  isUplinkName,
  MAX_UPLINK_NAME_LENGTH,
} from './protocol/names.ts';
export { isRequestId, MAX_REQUEST_ID_LENGTH } from './protocol/request-id.ts';
export { USER_FUNCTIONS, type User, type NewUser, type UserChanges } from './users/user.ts';
export {
  USER_TOKEN_FUNCTIONS,
  USER_TOKEN_PREFIX,
  type CreatedUserToken,
  type UserToken,
} from './users/user-token.ts';
export { MAX_TIMER_MS, PendingCalls, type PendingEntry } from './calls/pending-calls.ts';
export { emptyMap, emptySet, own } from './collections/empty-until-used.ts';
export {
  PeerEngine,
  dropAnswer,
  type PeerHooks,
  type PeerSettings,
  type SharedFrame,
} from './peer/peer-engine.ts';
export type { PeerCall } from './peer/peer-call.ts';
export {
  getCallContext,
  findCallContext,
  outgoingRequestId,
  getRequest,
  getApiOrigin,
  getAppOrigin,
  runWithCallContext,
  inCallContext,
  type CallContext,
} from './calls/call-context.ts';
export { HttpRequest, type LocalHttpRequest } from './http/http-request.ts';
export {
  HttpResponse,
  toWireResponse,
  type MappedResponse,
  jsonReplacer,
  type HeaderValues,
} from './http/http-response.ts';
export type { FormValues } from './http/form-data.ts';
export {
  endpointShape,
  endpointMethods,
  endpointRegistration,
  type EndpointOptions,
} from './protocol/endpoint-path.ts';
export {
  SERVER_ONLY,
  accessOf,
  functionRegistration,
  sameAccess,
  normalizePolicy,
  rateLimitOf,
  rateOf,
  samePolicy,
  type CallableOptions,
} from './protocol/access-policy.ts';
export { cookieJar } from './protocol/decode-wire-http.ts';
export {
  functionSignature,
  sameSignature,
  MAX_ARGS_SCHEMAS,
} from './protocol/function-signature.ts';
export {
  endpointDoc,
  sameDoc,
  canonicalJson,
  MAX_SCHEMA_BYTES,
  MAX_SCHEMA_DEPTH,
} from './protocol/endpoint-doc.ts';
export { isTrustedCaller, guardedByUser } from './calls/access-guard.ts';
export {
  CookieJar,
  DEFAULT_COOKIE_EXPIRY_DAYS,
  MAX_COOKIE_JAR_JSON_BYTES,
} from './http/cookie-jar.ts';
export {
  FrameBatcher,
  type MessageSink,
  LARGE_FRAME_BYTES,
  MAX_FRAMES_PER_MESSAGE,
} from './transport/frame-batcher.ts';
export {
  invoke,
  invokeWith,
  serveHttp,
  serveHttpWith,
  type EndpointHandler,
  type Settle,
} from './calls/invoke.ts';
export { CallScope } from './calls/call-scope.ts';
export {
  TASK_STATUSES,
  TASK_FUNCTIONS,
  isFinishedStatus,
  isTaskId,
  taskOutcome,
  type Task,
  type TaskInfo,
  type TaskError,
  type TaskStatus,
  type TaskLaunchOptions,
} from './tasks/task.ts';
export { getTaskContext, taskContextOf, type TaskContext } from './tasks/task-context.ts';
export { typed, type FunctionCaller } from './calls/typed.ts';
export {
  StreamSender,
  MAX_CHUNK_BYTES,
  DEFAULT_STREAM_WINDOW_BYTES,
  type ByteSource,
  type StreamOutcome,
} from './streams/stream-sender.ts';
export { StreamReceiver, IncomingStream, type StreamTarget } from './streams/stream-receiver.ts';
export { LocalStream, type ResponseStream } from './streams/local-stream.ts';
export { asByteSource } from './streams/byte-source.ts';
export { sse, formatEvent, type ServerSentEvent } from './http/sse.ts';
export { StreamQueue } from './streams/stream-queue.ts';
export { StreamedBody } from './http/streamed-body.ts';
export { ValueStream, isValueSource } from './streams/value-stream.ts';
export { LargeMessages, DEFAULT_MAX_MESSAGE_BYTES } from './streams/large-messages.ts';
export { StreamedValue } from './streams/streamed-value.ts';
export {
  resourceEndpoints,
  registerResource,
  type ResourceEndpoint,
} from './rest/resource-endpoints.ts';
export {
  DEFAULT_RESULTS_PER_PAGE,
  DEFAULT_MAX_RESULTS_PER_PAGE,
  type ListQuery,
  type ListResult,
  type ResourceHandlers,
  type ResourceOptions,
} from './rest/resource-types.ts';
export {
  parseSearchQuery,
  FILTER_OPS,
  FILTER_OP_SPELLINGS,
  MAX_FILTERS,
  MAX_FILTER_DEPTH,
  MAX_ORDER_BY,
  type Filter,
  type FieldFilter,
  type AndFilter,
  type OrFilter,
  type FilterOp,
  type OrderBy,
  type SearchQuery,
} from './rest/search-query.ts';
export { applyListQuery, matchesFilter } from './rest/apply-query.ts';
export { resourceSchemas, type ResourceSchemas } from './rest/resource-schemas.ts';
