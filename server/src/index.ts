export { createSwitchboard, switchboardPlugin, type Switchboard } from './switchboard.ts';
export type { SwitchboardCore } from './core.ts';
export {
  resolveOptions,
  DEFAULT_HOST,
  DEFAULT_PORT,
  DEFAULT_DATA_DIR,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_AUTH_TIMEOUT_MS,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_MAX_CALL_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_OPENAPI_INFO,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_SHUTDOWN_GRACE_MS,
  type SwitchboardOptions,
  type ProvisionedKey,
} from './options.ts';
export type { CallOptions } from './hub/dispatcher.ts';
export type { CallStats, StatsSnapshot, LastError, RecentError } from './observe/call-stats.ts';
export type { ShutdownOutcome } from './shutdown.ts';
export type { UplinkHub } from './hub/uplink-hub.ts';
export type { UplinkConnection } from './hub/uplink-connection.ts';
export type { KeyStore, KeyRecord, CreatedKey } from './store/key-store.ts';
export type { UserStore, PublicUser, VerifyResult } from './store/user-store.ts';
export type { UserTokenStore } from './store/user-token-store.ts';
export type {
  ScheduleInput,
  ScheduleChanges,
  ScheduleRecord,
  ScheduleError,
} from './schedules/schedule-types.ts';
export type { ScheduleApi } from './schedules/schedule-api.ts';
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
  type CallableOptions,
  CookieJar,
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
