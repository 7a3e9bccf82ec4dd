import { toSwitchboardError } from '../errors/switchboard-error.ts';
import type { StreamTarget } from './stream-receiver.ts';
import type { ByteSource } from './stream-sender.ts';

/** A response body being produced: sent to a target as it comes, or abandoned. */
export interface ResponseStream {
  attach(target: StreamTarget): void;
  /** Nobody reads any more: stop producing. */
  abort(): void;
}

/**
 * A stream produced in this process (an app endpoint's body): pulled straight from its source,
 * the next piece only after the previous one was flushed, so a slow reader slows the producer.
 */
export class LocalStream implements ResponseStream {
  private iterator: AsyncIterator<Uint8Array | string> | undefined;
  private stopped = false;

  constructor(
    private readonly source: ByteSource,
    private readonly onAbort: () => void,
  ) {}

  attach(target: StreamTarget): void {
    void this.pump(target);
  }

  abort(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.onAbort();
    this.iterator?.return?.().catch(() => undefined);
  }

  private async pump(target: StreamTarget): Promise<void> {
    try {
      this.iterator = this.source[Symbol.asyncIterator]();
      for (;;) {
        const next = await this.iterator.next();
        if (this.stopped) return;
        if (next.done === true) break;
        const value = next.value;
        const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
        if (!(bytes instanceof Uint8Array))
          throw new TypeError(`a stream must yield bytes or strings, got ${typeof bytes}`);
        await new Promise<void>((flushed) => target.write(bytes, flushed));
        if (this.stopped) return;
      }
      this.stopped = true;
      target.end();
    } catch (error) {
      if (this.stopped) return;
      this.stopped = true;
      target.fail(toSwitchboardError(error));
    }
  }
}
