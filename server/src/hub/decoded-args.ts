import { SwitchboardError, toSwitchboardError } from '@switchboard/shared';
import type { CallHandle, CallRequest, CallSink } from './provider.ts';

/**
 * For providers that need a call's args whole: args still arriving from another uplink
 * (`request.payload`) are collected and decoded first (bounded by the calling connection's
 * message limit), then `start` runs with them. Cancelling before then stops their collection.
 */
export function startWithDecodedArgs(
  request: CallRequest,
  sink: CallSink,
  start: (request: CallRequest, sink: CallSink) => CallHandle,
): CallHandle {
  const { payload } = request;
  if (payload === undefined) return start(request, sink);
  let started: CallHandle | undefined;
  let cancelled = false;
  payload.decode().then(
    (args) => {
      if (cancelled) return;
      if (!Array.isArray(args)) {
        sink.reject(new SwitchboardError('SB_ERR_PROTO_BAD_FRAME', 'call args must be an array'));
        return;
      }
      started = start({ ...request, args, payload: undefined }, sink);
    },
    (error: unknown) => {
      if (!cancelled) sink.reject(toSwitchboardError(error));
    },
  );
  return {
    cancel() {
      if (started !== undefined) started.cancel();
      else if (!cancelled) {
        cancelled = true;
        payload.discard(); // stop collecting what nobody will use
        sink.reject(new SwitchboardError('SB_ERR_CALL_CANCELLED'));
      }
    },
  };
}
