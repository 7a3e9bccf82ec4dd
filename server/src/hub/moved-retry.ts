import { performance } from 'node:perf_hooks';
import { SwitchboardError } from '@switchboard/shared';
import {
  NOOP_HANDLE,
  type CallHandle,
  type CallRequest,
  type CallSink,
  type Provider,
} from './provider.ts';

/** How many times a call refused with SB_ERR_NOT_SERVED_HERE is started again elsewhere. */
export const MOVED_RETRIES = 3;
/**
 * How long a retry waits for another provider to show up: an uplink that moved registers on its
 * new server before it leaves the old one, and the new server's catalog reaches the others with
 * its next heartbeat (250 ms) and a catalog request.
 */
export const MOVED_WAIT_MS = 2_000;
/** How often the catalog is looked at while waiting. */
const MOVED_POLL_MS = 25;

/** Another provider for the call, none of `tried`; undefined if there is none now. */
export type Repick = (tried: ReadonlySet<Provider>) => Provider | undefined;

/**
 * Whether a call can be sent again as it is: its args and body are in hand, not a stream that
 * the first provider may have begun to read.
 */
export function replayable(request: CallRequest): boolean {
  return request.payload === undefined && request.http?.bodySource === undefined;
}

/**
 * Starts `request` on `first`, another server of the cluster. When a server answers
 * SB_ERR_NOT_SERVED_HERE (it no longer has a provider; nothing ran), the call starts again on
 * another provider (`repick`), at most MOVED_RETRIES times, within its own deadline, waiting up to
 * MOVED_WAIT_MS for one to appear. `sink` is settled once; `cancel()` stops whichever attempt or
 * wait is under way.
 */
export function startMovable(
  request: CallRequest,
  first: Provider,
  repick: Repick,
  sink: CallSink,
): CallHandle {
  const startedAt = performance.now();
  const deadlineAt = startedAt + request.timeoutMs;
  const tried = new Set<Provider>();
  let attempts = 0;
  let current: CallHandle = NOOP_HANDLE;
  let timer: NodeJS.Timeout | undefined;
  let settled = false;
  const settle = (error: SwitchboardError | undefined, value?: unknown): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (error === undefined) sink.resolve(value);
    else sink.reject(error);
  };

  const attempt = (provider: Provider): void => {
    tried.add(provider);
    const number = ++attempts;
    const timeoutMs =
      number === 1 ? request.timeoutMs : Math.max(1, Math.floor(deadlineAt - performance.now()));
    const handle = provider.start(number === 1 ? request : { ...request, timeoutMs }, {
      resolve: (value) => settle(undefined, value),
      reject: (error) => {
        if (settled || number !== attempts) return;
        if (error.code !== 'SB_ERR_NOT_SERVED_HERE' || attempts > MOVED_RETRIES) settle(error);
        else retry(error, Math.min(performance.now() + MOVED_WAIT_MS, deadlineAt));
      },
    });
    if (number === attempts) current = handle;
  };

  const retry = (error: SwitchboardError, waitUntil: number): void => {
    const provider = repick(tried);
    if (provider !== undefined) {
      attempt(provider);
      return;
    }
    const now = performance.now();
    if (now >= deadlineAt) {
      settle(
        new SwitchboardError('SB_ERR_CALL_TIMEOUT', `No provider took ${request.name} in time`),
      );
      return;
    }
    if (now >= waitUntil) {
      settle(error);
      return;
    }
    current = NOOP_HANDLE;
    timer = setTimeout(() => {
      timer = undefined;
      if (!settled) retry(error, waitUntil);
    }, MOVED_POLL_MS);
  };

  attempt(first);
  return {
    cancel() {
      if (settled) return;
      if (timer === undefined) {
        current.cancel();
        return;
      }
      settle(new SwitchboardError('SB_ERR_CALL_CANCELLED'));
    },
  };
}
