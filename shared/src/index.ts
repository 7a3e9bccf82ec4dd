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
export { encodeValue, decodeValue, decodeValues, MEDIA_EXT_TYPE } from './codec/msgpack-codec.ts';
export * from './protocol/frames.ts';
export {
  decodeUplinkMessage,
  decodeServerMessage,
  isFunctionName,
  assertCallable,
  MAX_CALL_ID,
} from './protocol/decode-frames.ts';
export { PendingCalls, type PendingEntry } from './calls/pending-calls.ts';
export {
  getCallContext,
  getRequest,
  getApiOrigin,
  getAppOrigin,
  runWithCallContext,
  type CallContext,
} from './calls/call-context.ts';
export { HttpRequest } from './http/http-request.ts';
export {
  HttpResponse,
  toWireResponse,
  jsonReplacer,
  type HeaderValues,
} from './http/http-response.ts';
export type { FormValues } from './http/form-data.ts';
export { endpointShape, endpointMethods, assertEndpoint } from './protocol/endpoint-path.ts';
export {
  FrameBatcher,
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
