import {
  accessOf,
  assertCallable,
  endpointRegistration,
  functionRegistration,
  functionSignature,
  guardedByUser,
  sameSignature,
  type CallableOptions,
  type EndpointHandler,
  type EndpointOptions,
  type EndpointRegistration,
  type FunctionRegistration,
  SwitchboardError,
  type User,
  type WelcomeFrame,
} from '@switchboard/shared';
import type { UplinkFunction } from './incoming-calls.ts';
import type { OutgoingCalls, Registers } from './outgoing-calls.ts';

/** What the registrations need of the uplink. */
export interface ServedLink {
  /**
   * Where register and unregister requests go (sent now, or at the next welcome): the session
   * of the moment (see Session).
   */
  outgoing(): OutgoingCalls;
  readonly callTimeoutMs: number;
  /** The current connection's welcome, if connected. */
  welcome(): WelcomeFrame | undefined;
  /** Drained: out of rotation for good, nothing more is registered or withdrawn. */
  draining(): boolean;
  /** A refusal, for the uplink's `error` event. */
  report(error: SwitchboardError): void;
}

/**
 * What this uplink serves: its functions and endpoint handlers with their registrations, sent
 * when made and again after every reconnect, and the server's answers to them (`synced`).
 */
export class Served {
  readonly functions = new Map<string, UplinkFunction>();
  readonly handlers = new Map<string, EndpointHandler>();
  private readonly functionRegistrations = new Map<string, FunctionRegistration>();
  private readonly endpointRegistrations = new Map<string, EndpointRegistration>();
  /** Outcomes of registrations not yet answered: undefined, or the server's refusal. */
  private readonly outcomes = new Set<Promise<SwitchboardError | undefined>>();

  constructor(private readonly link: ServedLink) {}

  get size(): number {
    return this.functions.size + this.handlers.size;
  }

  /**
   * A new connection is welcomed: everything served is registered again. Returns the answer
   * to that registration (settled either way), if one was sent.
   */
  welcomed(welcome: WelcomeFrame): Promise<unknown> | undefined {
    if (this.size === 0) return undefined;
    if (welcome.keyKind === 'client') {
      this.link.report(
        new SwitchboardError('SB_ERR_PERMISSION_DENIED', 'A client key may not register functions'),
      );
      return undefined;
    }
    return this.register({
      functions: [...this.functionRegistrations.values()],
      endpoints: [...this.endpointRegistrations.values()],
    });
  }

  /** See `Uplink.callable`. */
  addFunction(name: string, fn: UplinkFunction, options?: CallableOptions<User>): () => void {
    assertCallable(name, fn);
    const registration = functionRegistration(
      name,
      accessOf(options),
      options === undefined ? undefined : functionSignature(options),
    );
    this.refuseClientKey();
    const check = options?.requireUser;
    const served = typeof check === 'function' ? guardedByUser(fn, check) : fn;
    const previous = this.functionRegistrations.get(name);
    this.functions.set(name, served);
    this.functionRegistrations.set(name, registration);
    const changed =
      previous === undefined ||
      previous.allowClients !== registration.allowClients ||
      previous.requireUser !== registration.requireUser ||
      !sameSignature(previous, registration);
    if (changed && this.link.welcome() !== undefined)
      void this.register({ functions: [registration], endpoints: [] });
    return () => {
      if (this.functions.get(name) !== served) return;
      this.functions.delete(name);
      this.functionRegistrations.delete(name);
      this.unregister([name], []);
    };
  }

  /** See `Uplink.httpEndpoint`. */
  addEndpoint(path: string, options: EndpointOptions, handler: EndpointHandler): () => void {
    const registration = endpointRegistration(path, options, handler);
    this.refuseClientKey();
    this.handlers.set(path, handler);
    this.endpointRegistrations.set(path, registration);
    if (this.link.welcome() !== undefined)
      void this.register({ functions: [], endpoints: [registration] });
    return () => {
      if (this.handlers.get(path) !== handler) return;
      this.handlers.delete(path);
      this.endpointRegistrations.delete(path);
      this.unregister([], [path]);
    };
  }

  /** Drops registrations the server could not take, unless they were replaced meanwhile. */
  forget(registers: Registers): void {
    for (const registration of registers.functions) {
      if (this.functionRegistrations.get(registration.name) !== registration) continue;
      this.functionRegistrations.delete(registration.name);
      this.functions.delete(registration.name);
    }
    for (const registration of registers.endpoints) {
      if (this.endpointRegistrations.get(registration.path) !== registration) continue;
      this.endpointRegistrations.delete(registration.path);
      this.handlers.delete(registration.path);
    }
  }

  private register(registers: Registers): Promise<unknown> | undefined {
    if (this.link.draining()) return undefined; // out of rotation for good
    const { functions, endpoints } = registers;
    const request = this.link
      .outgoing()
      .request(
        (id) => ({ type: 'register', id, functions, endpoints }),
        this.link.callTimeoutMs,
        registers,
      );
    return this.track(request.promise);
  }

  private unregister(names: string[], paths: string[]): void {
    if (this.link.welcome() === undefined) return; // the next welcome registers only what is left
    if (this.link.draining()) return; // the server has withdrawn everything already
    const request = this.link
      .outgoing()
      .request((id) => ({ type: 'unregister', id, names, paths }), this.link.callTimeoutMs);
    void this.track(request.promise);
  }

  private refuseClientKey(): void {
    if (this.link.welcome()?.keyKind === 'client') {
      throw new SwitchboardError(
        'SB_ERR_PERMISSION_DENIED',
        'A client key may call functions but not register them or endpoints',
      );
    }
  }

  /**
   * Follows a (un)registration's answer for `synced()`. One lost with its connection counts as
   * answered (it is sent again after the next welcome); a refusal is also reported.
   */
  private track(answer: Promise<unknown>): Promise<unknown> {
    const outcome = answer.then(
      () => undefined,
      (error: SwitchboardError) => {
        if (error.code === 'SB_ERR_CONNECTION_LOST') return undefined;
        if (error.code !== 'SB_ERR_CLIENT_CLOSED') this.link.report(error);
        return error;
      },
    );
    this.outcomes.add(outcome);
    void outcome.then(() => this.outcomes.delete(outcome));
    return outcome;
  }

  /** Resolves once every registration made so far is answered; rejects with a refusal. */
  async synced(): Promise<void> {
    const outcomes = await Promise.all(this.outcomes);
    const refusal = outcomes.find((error) => error !== undefined);
    if (refusal !== undefined) throw refusal;
  }
}
