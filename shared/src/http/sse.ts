import { HttpResponse } from './http-response.ts';

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
export function sse(events: AsyncIterable<ServerSentEvent | string>): HttpResponse {
  return new HttpResponse(200, encodeEvents(events), {
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
