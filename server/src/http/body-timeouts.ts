import type { IncomingMessage } from 'node:http';
import { SwitchboardError } from '@switchboard/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Set by a route that streams its body on to a handler as it arrives (an endpoint with its
     * own `maxBodyBytes`): no total deadline then, only the idle one.
     */
    switchboardUntimedBody: boolean;
  }
}

/** Limits of request bodies the server waits for. */
export interface BodyLimits {
  /** A buffered body must arrive whole within this. */
  bodyTimeoutMs: number;
  /** A body that sends nothing for this long while it is awaited is cut off. */
  bodyIdleTimeoutMs: number;
}

/** A request whose body is still arriving. */
interface Upload {
  request: FastifyRequest;
  reply: FastifyReply;
  startedAt: number;
  lastProgressAt: number;
  bytesRead: number;
}

/** Sweeps at most this often, at least this rarely. */
const MIN_SWEEP_MS = 10;
const MAX_SWEEP_MS = 1000;

/**
 * Deadlines for request bodies, so a client that trickles (or stops sending) a body cannot
 * hold a socket and a buffer forever. Node's `requestTimeout` would also cut off a streamed
 * upload of many gigabytes that is making progress; here a streamed body has an idle limit
 * only. One sweep timer for all uploads (running only while there are some), no timer per
 * request; a request without a body costs one header lookup.
 *
 * Progress is the socket's byte count, or bytes the server has not consumed yet (the server
 * being slow, e.g. a handler reading a streamed body slowly, is not the client's fault). At the
 * deadline the body stream fails with 408 SB_ERR_HTTP_REQUEST_TIMEOUT, which its reader answers
 * with `Connection: close`; a body nobody reads just has its connection closed.
 */
export class BodyTimeouts {
  private readonly uploads = new Set<Upload>();
  private timer: NodeJS.Timeout | undefined;
  private readonly sweepMs: number;

  constructor(private readonly limits: BodyLimits) {
    const shortest = Math.min(limits.bodyTimeoutMs, limits.bodyIdleTimeoutMs);
    this.sweepMs = Math.min(MAX_SWEEP_MS, Math.max(MIN_SWEEP_MS, Math.floor(shortest / 4)));
  }

  /** Watches the bodies of every request to `app`'s routes (registered before them). */
  register(app: FastifyInstance): void {
    app.decorateRequest('switchboardUntimedBody', false);
    app.addHook('onRequest', (request, reply, done) => {
      this.watch(request, reply);
      done();
    });
    app.addHook('onClose', (_instance, done) => {
      this.stop();
      done();
    });
  }

  /** Stops the sweep (the server is closing). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.uploads.clear();
  }

  private watch(request: FastifyRequest, reply: FastifyReply): void {
    const raw = request.raw;
    if (raw.complete || !hasBody(raw)) return;
    const now = Date.now();
    this.uploads.add({ request, reply, startedAt: now, lastProgressAt: now, bytesRead: -1 });
    this.timer ??= setInterval(() => this.sweep(), this.sweepMs);
    this.timer.unref();
  }

  private sweep(): void {
    const now = Date.now();
    const { bodyTimeoutMs, bodyIdleTimeoutMs } = this.limits;
    for (const upload of this.uploads) {
      const { request } = upload;
      const raw = request.raw;
      const socket = raw.socket as IncomingMessage['socket'] | null;
      if (raw.complete || socket === null || socket.destroyed) {
        this.uploads.delete(upload);
        continue;
      }
      const bytesRead = socket.bytesRead;
      if (bytesRead !== upload.bytesRead || raw.readableLength > 0) {
        upload.bytesRead = bytesRead;
        upload.lastProgressAt = now;
      }
      if (now - upload.lastProgressAt >= bodyIdleTimeoutMs) {
        this.expire(upload, `The request body sent nothing for ${bodyIdleTimeoutMs} ms`);
      } else if (!request.switchboardUntimedBody && now - upload.startedAt >= bodyTimeoutMs) {
        this.expire(upload, `The request body did not arrive within ${bodyTimeoutMs} ms`);
      }
    }
    if (this.uploads.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private expire(upload: Upload, message: string): void {
    this.uploads.delete(upload);
    const { request, reply } = upload;
    const raw = request.raw;
    request.log.info({ code: 'SB_ERR_HTTP_REQUEST_TIMEOUT' }, message);
    const answering = !reply.raw.headersSent;
    // The rest of the body will never be read: the connection ends with this request.
    if (answering) void reply.header('connection', 'close');
    if (answering && raw.listenerCount('error') > 0) {
      // The body's reader (Fastify's parser, the door's) fails with the coded error and answers.
      raw.emit('error', new SwitchboardError('SB_ERR_HTTP_REQUEST_TIMEOUT', message));
    } else {
      raw.socket.destroy();
    }
  }
}

function hasBody(raw: IncomingMessage): boolean {
  const { headers } = raw;
  const length = headers['content-length'];
  if (length !== undefined) return length !== '0';
  return headers['transfer-encoding'] !== undefined;
}
