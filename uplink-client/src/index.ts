export { connect } from './connect.ts';
export { Uplink, type DrainOptions } from './uplink.ts';
export type { CallOptions } from './outgoing-calls.ts';
export type { DrainReason } from './drain.ts';
export type { UplinkStatus, UplinkEvents } from './events.ts';
export type { UplinkFunction } from './incoming-calls.ts';
export type { UsersClient } from './users-client.ts';
export type { UserTokensClient } from './user-tokens-client.ts';
export { jsonLogger, type UplinkLogger, type LogLevel } from './logger.ts';
export {
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_INITIAL_DELAY_MS,
  DEFAULT_MAX_CONCURRENT_CALLS,
  DEFAULT_MAX_DELAY_MS,
  DEFAULT_MAX_FRAME_BYTES,
  type ConnectOptions,
  type ReconnectOptions,
} from './options.ts';
export {
  SwitchboardError,
  Media,
  MediaStream,
  StreamedBody,
  HttpResponse,
  HttpRequest,
  sse,
  type ServerSentEvent,
  getCallContext,
  findCallContext,
  getRequest,
  getApiOrigin,
  getAppOrigin,
  type EndpointHandler,
  type EndpointOptions,
  type EndpointSchema,
  type JsonSchema,
  type HttpMethod,
  type CallContext,
  type CallerInfo,
  type ErrorCode,
  type User,
  type NewUser,
  type UserChanges,
  applyListQuery,
  DEFAULT_RESULTS_PER_PAGE,
  DEFAULT_MAX_RESULTS_PER_PAGE,
  type ListQuery,
  type ListResult,
  type ResourceHandlers,
  type ResourceOptions,
  type Filter,
  type FieldFilter,
  type FilterOp,
  type OrderBy,
  type UserToken,
  type CreatedUserToken,
  getTaskContext,
  type TaskContext,
  type Task,
  type TaskInfo,
  type TaskError,
  type TaskStatus,
  type TaskLaunchOptions,
  TASK_FUNCTIONS,
} from '@switchboard/shared';
/** Typed calls: `typed<Api>(x).add(2, 3)` with `Api` from `switchboard types`. */
export { typed, type FunctionCaller } from '@switchboard/shared';
