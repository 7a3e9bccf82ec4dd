import { SwitchboardError } from '@switchboard/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './error-reply.ts';

/** Answered as usual while shutting down: probes and scrapers learn the state from them. */
const ALWAYS_OPEN = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The door's gate for shutdown: counts the HTTP requests in flight (until their response is
 * finished or the client is gone, so streamed answers count to the end), and once shutdown has
 * begun answers new ones 503 SB_ERR_SERVER_CLOSING with `Connection: close`, so clients on a
 * kept-alive connection go elsewhere.
 */
export class RequestGate {
  private active = 0;
  private closing = false;

  /** Requests received and not yet answered in full. */
  get inFlight(): number {
    return this.active;
  }

  get isClosing(): boolean {
    return this.closing;
  }

  /** From now on new requests (but health checks) are refused. */
  close(): void {
    this.closing = true;
  }

  /** Adds the gate to `app`; routes registered on it afterwards pass through it. */
  register(app: FastifyInstance): void {
    app.addHook('onRequest', (request, reply, done) => this.onRequest(request, reply, done));
  }

  private onRequest(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
    if (this.closing) {
      void reply.header('connection', 'close');
      const path = (request.raw.url ?? '/').split('?', 1)[0]!;
      if (!ALWAYS_OPEN.has(path)) {
        sendError(
          reply,
          new SwitchboardError('SB_ERR_SERVER_CLOSING', 'The server is shutting down'),
          false,
        );
        return;
      }
    }
    this.active++;
    // A response emits 'close' once (finished or cut off); `on` spares once()'s wrapper.
    reply.raw.on('close', this.release);
    done();
  }

  private readonly release = (): void => {
    this.active--;
  };
}
