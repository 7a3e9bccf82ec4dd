import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  SwitchboardError,
  toSwitchboardError,
  type ResponseStream,
  type WireHttpResponse,
} from '@switchboard/shared';
import type { CallSink } from '../hub/provider.ts';
import { REQUEST_ID_HEADER, requestIdOf } from '../observe/request-id.ts';
import { mayKeepState, type Admission, type StateDeps } from './admission.ts';
import type { Matched } from './api-target.ts';
import { redactUrl } from './door-server.ts';
import { sendError } from './error-reply.ts';
import { setsOwnCookie } from './request-state.ts';
import { answerHeaders } from './response-headers.ts';
import { isSecure } from './site.ts';

const NO_COOKIES: readonly string[] = [];

/**
 * Writes a provider's outcome to the HTTP reply, once: the answer is checked (a provider is not
 * trusted blindly), the handler's session and cookie changes are saved where the request may
 * keep them, and the bytes go straight to the socket. Any failure becomes a coded error reply.
 */
export class ReplySink implements CallSink {
  settled = false;
  readonly request: FastifyRequest;

  constructor(
    private readonly deps: StateDeps,
    readonly reply: FastifyReply,
    /** The endpoint the request matched: its policy and schemas. */
    readonly matched: Matched,
    readonly admission: Admission,
  ) {
    this.request = reply.request;
  }

  resolve(value: unknown): void {
    if (this.settled) return;
    this.settled = true;
    let response: DoorResponse | undefined;
    try {
      response = checkResponse(value);
      // A response schema checks buffered answers only: a streamed body is sent as it is made.
      const { validators } = this.matched;
      if (validators !== undefined && response.stream === undefined)
        validators.checkResponse(response);
      // Header names from a provider are not necessarily lower-case (another uplink library).
      for (const name in response.headers) {
        if (
          name.length === 10 &&
          name.toLowerCase() === 'set-cookie' &&
          setsOwnCookie(response.headers[name])
        ) {
          throw new SwitchboardError(
            'SB_ERR_HTTP_BAD_RESPONSE',
            'A handler may not set the cookies sb_session, sb_local or sb_shared; use request.session and request.cookies',
          );
        }
      }
      const { incoming } = this.admission;
      const setCookies =
        response.effects === undefined && incoming.session === undefined
          ? NO_COOKIES
          : this.effects(response.effects);
      if (this.reply.raw.destroyed) {
        response.stream?.abort(); // the client went away while the head was on its way
        return;
      }
      sendResponse(this.request, this.reply, response, setCookies);
    } catch (error) {
      (value as { stream?: Partial<ResponseStream> } | null)?.stream?.abort?.();
      const coded = toSwitchboardError(error);
      // The client sees only a 502; the operator learns which handler broke its schema.
      if (coded.code === 'SB_ERR_RESPONSE_INVALID')
        this.request.log.warn({ endpoint: redactUrl(this.request.url) }, coded.message);
      sendError(this.reply, coded, this.deps.options.debug);
    }
  }

  reject(error: SwitchboardError): void {
    if (this.settled) return;
    this.settled = true;
    if (this.reply.raw.destroyed) return; // the client went away; nobody to answer
    sendError(this.reply, error, this.deps.options.debug);
  }

  /** Saves the handler's session and cookie changes unless the request may not keep state. */
  private effects(effects: unknown): readonly string[] {
    const { admission, request } = this;
    const { policy } = this.matched;
    const { options, state } = this.deps;
    if (!(admission.keepsState ?? mayKeepState(request, policy, options))) return NO_COOKIES;
    return state.apply(admission.incoming, effects, isSecure(request, options));
  }
}

/**
 * Writes the provider's answer straight to the socket (Fastify's reply pipeline adds nothing
 * here: the answer is already bytes), after checking it is one: a provider is not trusted blindly.
 */
function sendResponse(
  request: FastifyRequest,
  reply: FastifyReply,
  response: DoorResponse,
  setCookies: readonly string[],
): void {
  const { body, stream } = response;
  const res = reply.raw;
  // One writeHead with a plain object (Node's fast path, as Fastify's own replies use) instead
  // of a setHeader per header. Framing is the door's alone (answerHeaders drops a handler's);
  // checked before anything touches `res`, so a bad header leaves the error reply intact.
  const headOnly = request.method === 'HEAD' && body === undefined && stream === undefined;
  const checked = answerHeaders(response.headers, {
    headOnly,
    doorVary: () => res.getHeader('vary'),
  });
  const { headers } = checked;
  if (checked.dropped !== undefined)
    request.log.debug({ dropped: checked.dropped }, 'server-only headers of a handler dropped');
  const cookies = checked.cookies === undefined ? setCookies : [...checked.cookies, ...setCookies];
  if (cookies.length > 0) headers['set-cookie'] = [...cookies];
  const requestId = requestIdOf(request);
  if (requestId !== undefined) headers[REQUEST_ID_HEADER] = requestId;
  const bodiless = response.status === 204 || response.status === 304;
  if (body !== undefined && !bodiless) headers['content-length'] = body.byteLength;
  try {
    res.writeHead(response.status, headers);
  } catch (error) {
    // Nothing was sent; Node keeps the status text it chose (`500 OK` otherwise).
    res.statusMessage = '';
    throw new SwitchboardError(
      'SB_ERR_HTTP_BAD_RESPONSE',
      `The handler's answer cannot be written: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  reply.hijack();
  if (stream !== undefined) {
    sendStream(request, res, stream);
    return;
  }
  if (body === undefined || bodiless || request.method === 'HEAD') res.end();
  else res.end(body);
}

/**
 * A streamed body, written with chunked transfer encoding as it arrives; credit goes back to the
 * producer only for bytes the socket took, so a slow client slows the producer. A client that
 * goes away aborts the stream (the handler's signal fires); a producer that fails or vanishes
 * mid-way cuts the connection, so the client never mistakes a partial body for a whole one.
 */
function sendStream(request: FastifyRequest, res: ServerResponse, stream: ResponseStream): void {
  const noBody = request.method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304;
  if (noBody) {
    stream.abort();
    res.end();
    return;
  }
  let finished = false;
  res.once('close', () => {
    if (!finished) stream.abort();
  });
  res.flushHeaders();
  stream.attach({
    write: (data, flushed) => {
      res.write(data, () => flushed());
    },
    end: () => {
      finished = true;
      res.end();
    },
    fail: (error) => {
      finished = true;
      request.log.warn({ err: error }, 'streamed response broke off');
      res.destroy();
    },
  });
}

function checkResponse(value: unknown): DoorResponse {
  const response = value as Partial<DoorResponse> | null;
  if (
    response === null ||
    typeof response !== 'object' ||
    !Number.isInteger(response.status) ||
    (response.status ?? 0) < 200 ||
    (response.status ?? 0) > 999 ||
    typeof response.headers !== 'object' ||
    response.headers === null ||
    (response.body !== undefined && !(response.body instanceof Uint8Array)) ||
    (response.stream !== undefined &&
      (typeof response.stream !== 'object' || typeof response.stream.attach !== 'function'))
  ) {
    throw new SwitchboardError(
      'SB_ERR_HTTP_BAD_RESPONSE',
      'The provider answered with something that is not an HTTP response',
    );
  }
  return response as DoorResponse;
}

/** An answer as the door gets it: a streamed body arrives as the stream itself. */
type DoorResponse = Omit<WireHttpResponse, 'stream'> & { stream?: ResponseStream };
