import {
  Media,
  SwitchboardError,
  type HttpRequest,
  type LocalHttpRequest,
  type WireHttpResponse,
} from '@switchboard/shared';

/**
 * The keyword arguments Anvil's `http_endpoint` wrapper takes (every one is required by it),
 * built from the request the door forwarded and its parsed form.
 */
export function endpointKwargs(
  request: HttpRequest,
  http: LocalHttpRequest,
): Record<string, unknown> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(http.headers))
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  let body: Media | null = null;
  if (http.body !== undefined) {
    const type = headers['content-type'];
    body = new Media(
      type === undefined || type === '' ? 'application/octet-stream' : type,
      http.body,
      attachmentName(headers['content-disposition']),
    );
  }
  return {
    // The door answers HEAD from what GET sends (the library's wrapper knows no HEAD).
    method: http.method === 'HEAD' ? 'GET' : http.method,
    path: http.path,
    query_params: { ...request.query },
    form_params: { ...request.form },
    origin: headers.origin ?? null,
    headers,
    remote_address: http.remoteAddress,
    body,
    username: request.username ?? null,
    password: request.password ?? null,
    // Only for other origins of the same app in Anvil; the wrapper breaks on HttpResponse
    // answers when it is set, and Switchboard has one origin per app.
    same_app_alternate_origin: null,
  };
}

/** `filename` of a `Content-Disposition: attachment; filename="…"` header. */
function attachmentName(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /filename="([^"]*)"/i.exec(header);
  return match === null ? undefined : match[1];
}

/**
 * The wrapper's answer `{status, body, headers}` as the door takes it: a string body is
 * `text/plain; charset=utf-8`, a Media its own type (with `Content-Disposition: inline` when it
 * has a name), anything else JSON; the handler's own `Content-Type` wins. Headers come as a map
 * or as a list of `[name, value]` pairs (HttpResponse).
 */
export function endpointAnswer(value: unknown): WireHttpResponse {
  const answer = value as { status?: unknown; body?: unknown; headers?: unknown } | null;
  if (typeof answer !== 'object' || answer === null)
    throw badAnswer('the endpoint wrapper answered with no {status, body, headers}');
  const status = answer.status ?? 200;
  if (!Number.isInteger(status)) throw badAnswer('status must be an integer');
  const headers = headerMap(answer.headers);
  const { body } = answer;
  let bytes: Uint8Array;
  let type: string;
  if (typeof body === 'string') {
    bytes = Buffer.from(body, 'utf8');
    type = 'text/plain; charset=utf-8';
  } else if (body instanceof Media) {
    bytes = body.bytes;
    type = body.contentType;
    if (body.name !== undefined && headers['content-disposition'] === undefined)
      headers['content-disposition'] = `inline; filename="${body.name.replace(/["\\\r\n]/g, '_')}"`;
  } else {
    bytes = Buffer.from(JSON.stringify(body ?? null) ?? 'null', 'utf8');
    type = 'application/json';
  }
  headers['content-type'] ??= type;
  return { status: status as number, headers, body: bytes };
}

function headerMap(raw: unknown): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  if (raw === undefined || raw === null) return headers;
  const pairs: unknown[] = Array.isArray(raw)
    ? raw
    : typeof raw === 'object'
      ? Object.entries(raw)
      : [undefined];
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string')
      throw badAnswer('headers must be a map or a list of [name, value] pairs');
    if (pair[1] === null || pair[1] === undefined) continue; // Python's None: no header
    const name = pair[0].toLowerCase();
    const value = typeof pair[1] === 'string' ? pair[1] : String(pair[1] as string | number);
    const previous = headers[name];
    headers[name] =
      previous === undefined
        ? value
        : Array.isArray(previous)
          ? [...previous, value]
          : [previous, value];
  }
  return headers;
}

function badAnswer(message: string): SwitchboardError {
  return new SwitchboardError('SB_ERR_HTTP_BAD_RESPONSE', message);
}
