import {
  StreamedValue,
  SwitchboardError,
  ValueStream,
  toSwitchboardError,
  type CallerInfo,
} from '@switchboard/shared';
import type { Dispatcher } from '../hub/dispatcher.ts';
import type { CallHandle, CallSink } from '../hub/provider.ts';
import type { AnvilCallFrame } from './anvil-frames.ts';
import {
  callLiveObject,
  callPrivate,
  type EndpointContext,
  type PrivateCall,
  type PrivateDeps,
} from './anvil-private.ts';
import { anvilError } from './anvil-values.ts';

const PRIVATE_PREFIX = 'anvil.private.';

/** What the calls an Anvil uplink makes need of its connection. */
export interface InboundLink {
  readonly dispatcher: Dispatcher;
  readonly privateDeps: PrivateDeps;
  readonly remoteAddress: string;
  /** Who calls: the uplink, with its key. */
  caller(): CallerInfo;
  /** The server call in flight on this uplink that a nested call names (`call-stack-id`). */
  context(callStackId: string | undefined): { context?: EndpointContext; requestId?: string };
  /** See InboundLink.refusesNewWork of the native dialect: shutdown refuses idle pollers. */
  refusesNewWork(): boolean;
  /** Sends an answer (with its media) while the connection is open. */
  post(message: Record<string, unknown>): void;
}

/**
 * The calls one Anvil uplink makes (`anvil.server.call`, and the library's own
 * `anvil.private.*` calls): the private ones answered here, the rest dispatched like any call;
 * each answered with `{id, response}` or `{id, error}`. Withdrawn when the uplink leaves.
 */
export class AnvilInbound {
  private readonly calls = new Map<string, CallHandle | undefined>();

  constructor(private readonly link: InboundLink) {}

  get size(): number {
    return this.calls.size;
  }

  /** Whether a call with this id is in progress (a second one with it is a protocol error). */
  has(id: string): boolean {
    return this.calls.has(id);
  }

  accept(frame: AnvilCallFrame): void {
    const { link } = this;
    const { id, command } = frame;
    const { liveObject } = frame;
    if (command === undefined && liveObject === undefined) {
      this.refuse(id, 'Live objects (Data Tables rows) are not served by Switchboard');
      return;
    }
    const { context, requestId } = link.context(frame.callStackId);
    this.calls.set(id, undefined);
    if (command === undefined || command.startsWith(PRIVATE_PREFIX)) {
      const call: PrivateCall = {
        name: command?.slice(PRIVATE_PREFIX.length) ?? '',
        args: frame.args,
        kwargs: frame.kwargs,
        context,
        remoteAddress: link.remoteAddress,
        caller: link.caller(),
      };
      let outcome: unknown;
      try {
        outcome =
          liveObject === undefined
            ? callPrivate(call, link.privateDeps)
            : callLiveObject(liveObject, call, link.privateDeps);
      } catch (error) {
        this.fail(id, toSwitchboardError(error));
        return;
      }
      if (outcome instanceof Promise)
        outcome.then(
          (value) => this.answer(id, value),
          (error: unknown) => this.fail(id, toSwitchboardError(error)),
        );
      else this.answer(id, outcome);
      return;
    }
    if (link.refusesNewWork()) {
      this.fail(
        id,
        new SwitchboardError(
          'SB_ERR_SERVER_CLOSING',
          'The server is shutting down and takes no new calls',
        ),
      );
      return;
    }
    // Native functions take positional arguments: keyword arguments arrive as one last object.
    const args =
      Object.keys(frame.kwargs).length === 0 ? frame.args : [...frame.args, frame.kwargs];
    const sink: CallSink = {
      resolve: (value) => this.answer(id, value),
      reject: (error) => this.fail(id, error),
    };
    const handle = link.dispatcher.dispatch(
      { name: command, args, timeoutMs: undefined, caller: link.caller(), requestId },
      sink,
    );
    if (this.calls.has(id)) this.calls.set(id, handle);
  }

  private refuse(id: string, message: string): void {
    this.calls.set(id, undefined);
    this.fail(id, new SwitchboardError('SB_ERR_ANVIL_UNSUPPORTED', message));
  }

  /**
   * Answers call `id`: a result still arriving from another uplink is decoded first, progressive
   * results collected (the dialect has one answer per call).
   */
  private answer(id: string, value: unknown): void {
    if (value instanceof StreamedValue || value instanceof ValueStream) {
      const whole = value instanceof StreamedValue ? value.decode() : value.collect();
      whole.then(
        (decoded) => this.answer(id, decoded),
        (error: unknown) => this.fail(id, toSwitchboardError(error)),
      );
      return;
    }
    if (!this.calls.delete(id)) return;
    this.link.post({ id, response: value });
  }

  private fail(id: string, error: SwitchboardError): void {
    if (!this.calls.delete(id)) return;
    // A function's own stack only for server keys, as in the native dialect.
    const trusted = this.link.caller().keyKind === 'server' && error.remoteStack !== undefined;
    this.link.post({ id, error: anvilError(error, trusted) });
  }

  /** The uplink is gone: every call it made is cancelled where it runs. */
  cancelAll(): void {
    const handles = [...this.calls.values()];
    this.calls.clear();
    for (const handle of handles) handle?.cancel();
  }
}
