import { HttpResponse } from './http-response.ts';

/**
 * A comment line sent when no event came for this long: keeps proxies and the stall timeout
 * (30 s) from cutting a quiet event stream: 15 s.
 */
export const SSE_HEARTBEAT_MS = 15_000;

/** One server-sent event; `data` that is not a string is sent as JSON. */
export interface ServerSentEvent {
  data: unknown;
  event?: string;
  id?: string;
  /** Reconnection time the browser should use, in ms. */
  retry?: number;
}

/**
 * A `text/event-stream` response from an async iterable of events (or plain strings, sent as
 * `data`): `return sse(ticks())` in an endpoint handler. Each event is sent as it is produced;
 * when the client goes away the handler's signal fires and the iterable is no longer pulled.
 */
export function sse(
  events: AsyncIterable<ServerSentEvent | string>,
  options: { heartbeatMs?: number } = {},
): HttpResponse {
  const heartbeatMs = options.heartbeatMs ?? SSE_HEARTBEAT_MS;
  return new HttpResponse(200, withHeartbeat(encodeEvents(events), heartbeatMs), {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
}

async function* encodeEvents(
  events: AsyncIterable<ServerSentEvent | string>,
): AsyncGenerator<string> {
  for await (const item of events)
    yield formatEvent(typeof item === 'string' ? { data: item } : item);
}

/** The wire text of one event (lines of `data`, each field on its own line, blank line after). */
export function formatEvent(event: ServerSentEvent): string {
  let text = '';
  if (event.event !== undefined) text += `event: ${singleLine(event.event)}\n`;
  if (event.id !== undefined) text += `id: ${singleLine(event.id)}\n`;
  if (event.retry !== undefined) text += `retry: ${Math.max(0, Math.floor(event.retry))}\n`;
  const data = typeof event.data === 'string' ? event.data : JSON.stringify(event.data);
  for (const line of (data ?? '').split(/\r\n|\r|\n/)) text += `data: ${line}\n`;
  return text + '\n';
}

function singleLine(value: string): string {
  return value.replace(/[\r\n]/g, ' ');
}

/** Yields `texts`, and a comment line (`:`) whenever nothing came for `everyMs`. */
async function* withHeartbeat(
  texts: AsyncIterable<string>,
  everyMs: number,
): AsyncGenerator<string> {
  const iterator = texts[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<string>> | undefined;
  try {
    for (;;) {
      pending ??= iterator.next();
      let timer: NodeJS.Timeout | undefined;
      const beat = new Promise<'beat'>(
        (resolve) => (timer = setTimeout(() => resolve('beat'), everyMs)),
      );
      const next = await Promise.race([pending, beat]);
      clearTimeout(timer);
      if (next === 'beat') {
        yield ':\n\n';
        continue;
      }
      pending = undefined;
      if (next.done === true) return;
      yield next.value;
    }
  } finally {
    await iterator.return?.();
  }
}
