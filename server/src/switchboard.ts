import Fastify, { type FastifyInstance } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import {
  type CallableOptions,
  type EndpointHandler,
  type EndpointOptions,
  type User,
  registerResource,
  type ResourceHandlers,
  type ResourceOptions,
  type Task,
  type TaskLaunchOptions,
} from '@switchboard/shared';
import { SwitchboardCore } from './core.ts';
import { doorRootHandlers, doorServerOptions } from './http/door-server.ts';
import { homeRoute } from './http/home-route.ts';
import { resolveOptions, type SwitchboardOptions } from './options.ts';
import type { CallOptions } from './hub/dispatcher.ts';
import type { AppFunction } from './hub/in-process-provider.ts';
import type { ShutdownOutcome } from './shutdown.ts';
import type { KeyStore } from './store/key-store.ts';
import type { UserStore } from './store/user-store.ts';
import type { UserTokenStore } from './store/user-token-store.ts';
import type { CallStats } from './observe/call-stats.ts';
import { scheduleApi, type ScheduleApi } from './schedules/schedule-api.ts';
import type { ScheduleInput, ScheduleRecord } from './schedules/schedule-types.ts';

/** The public face of a Switchboard server. */
export interface Switchboard {
  /** The Fastify instance serving the front door; add your own routes to it. */
  readonly app: FastifyInstance;
  /** The server key this start created in an empty store (print it once), else undefined. */
  readonly initialKey: string | undefined;
  /** Uplink keys (create, list, revoke). */
  readonly keys: KeyStore;
  /** Users (create, find, list, update, remove, verify); never exposes password hashes. */
  readonly users: UserStore;
  /** Users' API tokens (create, list, get, revoke, verify); the secret is only in `create`'s answer. */
  readonly userTokens: UserTokenStore;
  /** Live call statistics: forFunction(name), forEndpoint(pattern), forProvider(id), recentErrors(). */
  readonly stats: CallStats;
  /** Starts listening; resolves with the base URL. */
  listen(): Promise<{ url: string }>;
  /** Calls a registered function with the default deadline. */
  call(name: string, ...args: unknown[]): Promise<unknown>;
  callWithOptions(name: string, args: unknown[], options?: CallOptions): Promise<unknown>;
  /**
   * Calls a function that returns an async iterable and yields its parts as they come:
   * `for await (const part of switchboard.stream('fn', ...args))`; stopping early stops it.
   */
  stream(name: string, ...args: unknown[]): AsyncIterable<unknown>;
  streamWithOptions(name: string, args: unknown[], options?: CallOptions): AsyncIterable<unknown>;
  /**
   * Launches a registered function as a background task (docs/tasks.md): it runs on a provider
   * of `name` with no deadline, outlives whoever launched it, and is returned at once as a Task
   * (`status`, `state()`, `result()`, `kill()`). Throws SB_ERR_NO_SUCH_FUNCTION (or the
   * arguments' SB_ERR_VALIDATION) before anything is recorded.
   */
  launch(name: string, ...args: unknown[]): Task;
  /** launch() with options: `timeoutMs` gives the task a deadline. */
  launchWithOptions(name: string, args: unknown[], options?: TaskLaunchOptions): Task;
  /** A task by its id (any task: app code is trusted); throws SB_ERR_NO_SUCH_TASK. */
  task(id: string): Task;
  /**
   * Makes the schedule `name` launch `function(...args)` as a background task whenever `cron`
   * fires (five fields, or six with seconds first; read in `timezone`, UTC by default): creates
   * it, or updates the one of that name, so app code may declare its schedules at every start
   * (a run missed while the server was down still runs once; `enabled` left out stays as it
   * is). SB_ERR_SCHEDULE_INVALID.
   */
  schedule(input: ScheduleInput): ScheduleRecord;
  /** Schedules: list, get, update, remove, runNow, history (docs/tasks.md, "Schedules"). */
  readonly schedules: ScheduleApi;
  /**
   * Registers an in-process function (server keys and app code only, unless `allowClients`);
   * returns a function that unregisters it. `args`/`returns` JSON Schemas make every call's
   * arguments checked before any provider runs (SB_ERR_VALIDATION) and are published in
   * /_/functions.json; throws SB_ERR_SCHEMA_INVALID or SB_ERR_FUNCTION_CONFLICT at once.
   */
  callable(name: string, fn: AppFunction, options?: CallableOptions<User>): () => void;
  /** Serves `/_/api<path>` from this process; returns a function that withdraws it. */
  httpEndpoint(path: string, options: EndpointOptions, handler: EndpointHandler): () => void;
  /**
   * Serves a REST resource from this process (docs/rest.md): list, create, get, update (PUT and
   * PATCH), remove, any subset; returns a function that withdraws it.
   */
  resource<T extends object = Record<string, unknown>>(
    path: string,
    handlers: ResourceHandlers<T>,
    options?: ResourceOptions,
  ): () => void;
  /** Closes uplinks (they reconnect elsewhere), fails calls in flight, closes the store. */
  close(): Promise<void>;
  /**
   * Graceful shutdown (what `switchboard start` does on SIGTERM): /readyz turns 503, no new
   * connections, new HTTP requests get 503 SB_ERR_SERVER_CLOSING, uplinks are told (`goaway`);
   * calls and requests in flight (streamed answers included) finish for up to `graceMs`
   * (default: the `shutdownGraceMs` option, 10 s); then it closes as `close()` does. What was
   * still running at the deadline is cut off (SB_ERR_DRAIN_TIMEOUT) and counted in the outcome.
   */
  shutdown(options?: { graceMs?: number }): Promise<ShutdownOutcome>;
}

declare module 'fastify' {
  interface FastifyInstance {
    switchboard: SwitchboardCore;
  }
}

/** Creates a standalone Switchboard server: a Fastify app with the front door and uplink hub. */
export function createSwitchboard(options: SwitchboardOptions = {}): Switchboard {
  // Documented: the SWITCHBOARD_* variables apply beneath the options given here.
  const resolved = resolveOptions(options, process.env);
  const app = Fastify(doorServerOptions(resolved));
  const core = new SwitchboardCore(resolved, app.server, app.log);
  app.decorate('switchboard', core);
  core.attachLifecycle(app);
  core.observe(app);
  doorRootHandlers(app, resolved);
  void app.register((scope) => core.routes(scope));
  // Only standalone: a host app that mounts the plugin owns its `/`.
  void app.register(homeRoute(resolved));

  return {
    app,
    initialKey: core.initialKey,
    keys: core.keys,
    users: core.users,
    userTokens: core.userTokens,
    stats: core.stats,
    async listen() {
      await app.listen({ host: resolved.host, port: resolved.port });
      const address = app.server.address();
      if (address === null || typeof address === 'string') return { url: String(address) };
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return { url: `http://${host}:${address.port}` };
    },
    call: (name, ...args) => core.call(name, ...args),
    callWithOptions: (name, args, callOptions) => core.callWithOptions(name, args, callOptions),
    stream: (name, ...args) => core.streamWithOptions(name, args),
    streamWithOptions: (name, args, callOptions) => core.streamWithOptions(name, args, callOptions),
    launch: (name, ...args) => core.launch(name, args),
    launchWithOptions: (name, args, launchOptions) => core.launch(name, args, launchOptions),
    task: (id) => core.task(id),
    schedule: (input) => core.schedules.define(input),
    schedules: scheduleApi(core.schedules, (id) => core.task(id)),
    callable: (name, fn, callableOptions) => core.callable(name, fn, callableOptions),
    httpEndpoint: (path, endpointOptions, handler) =>
      core.httpEndpoint(path, endpointOptions, handler),
    resource: (path, handlers, resourceOptions) =>
      registerResource(
        (at, endpointOptions, handler) => core.httpEndpoint(at, endpointOptions, handler),
        path,
        handlers,
        resourceOptions,
      ),
    close: () => app.close(),
    shutdown: (shutdownOptions = {}) => core.shutdown(shutdownOptions.graceMs),
  };
}

/**
 * The same server as a Fastify plugin, for mounting into an existing app:
 * `await app.register(switchboardPlugin, { dataDir })`; then `app.switchboard.call(...)`.
 */
export const switchboardPlugin = fastifyPlugin<SwitchboardOptions>(
  async (app, options) => {
    const core = new SwitchboardCore(resolveOptions(options, process.env), app.server, app.log);
    app.decorate('switchboard', core);
    core.attachLifecycle(app);
    await app.register((scope) => {
      core.observe(scope);
      return core.routes(scope);
    });
  },
  { name: '@switchboard/server', fastify: '5.x' },
);
