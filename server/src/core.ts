import type { IncomingMessage, Server } from 'node:http';
import type Database from 'better-sqlite3';
import {
  SERVER_ONLY,
  SwitchboardError,
  ValueStream,
  accessOf,
  assertCallable,
  endpointRegistration,
  guardedByUser,
  type CallableOptions,
  type CallerInfo,
  type EndpointHandler,
  type EndpointOptions,
  functionSignature,
  type User,
  type TaskLaunchOptions,
} from '@switchboard/shared';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { apiRoutes } from './http/api-routes.ts';
import { callRoutes } from './http/call-routes.ts';
import { healthRoutes } from './http/health-routes.ts';
import { dashboardRoutes } from './http/admin/dashboard-routes.ts';
import { openApiRoutes } from './http/openapi-routes.ts';
import { functionsRoutes } from './http/functions-routes.ts';
import { RequestGate } from './http/request-gate.ts';
import type { ShutdownOutcome } from './shutdown.ts';
import { Lifecycle } from './lifecycle.ts';
import { EndpointTable } from './catalog/endpoint-table.ts';
import { Dispatcher, type CallOptions } from './hub/dispatcher.ts';
import { InProcessProvider, type AppFunction } from './hub/in-process-provider.ts';
import { functionRegistry, type FunctionMeta } from './catalog/registry.ts';
import { checkAccess } from './catalog/provider-registrations.ts';
import { UplinkHub } from './hub/uplink-hub.ts';
import { KeyThrottle } from './auth/key-throttle.ts';
import type { ResolvedOptions } from './options.ts';
import { openDatabase } from './store/database.ts';
import { KeyStore } from './store/key-store.ts';
import { UserStore } from './store/user-store.ts';
import { UserTokenStore } from './store/user-token-store.ts';
import { SignIn } from './auth/sign-in.ts';
import { RateLimits } from './limits/rate-limits.ts';
import { BodyTimeouts } from './http/body-timeouts.ts';
import { clientAddressFunction } from './http/client-address.ts';
import { RequestState } from './http/request-state.ts';
import { loadSecret, saveSecret } from './store/secrets.ts';
import { ReplicaTables, setReplicationTriggers } from './store/replica-tables.ts';
import { SessionStore } from './store/session-store.ts';
import { userFunctions } from './builtins/user-functions.ts';
import { CallStats } from './observe/call-stats.ts';
import { AdminTokenStore } from './store/admin-token-store.ts';
import { ADMIN_API_PREFIX, adminApi } from './http/admin/admin-api.ts';
import { HttpTally } from './observe/http-tally.ts';
import { observeHttp } from './observe/http-observer.ts';
import { Metrics } from './observe/metrics.ts';
import { metricsRoutes } from './http/metrics-route.ts';
import { UplinkTraffic } from './observe/uplink-traffic.ts';
import { Cluster } from './cluster/cluster.ts';
import { TaskStore } from './store/task-store.ts';
import { Tasks } from './tasks/tasks.ts';
import { RelayedTasks } from './tasks/relayed-tasks.ts';
import { clusterTaskLimits } from './cluster/cluster-tasks.ts';
import { AppTask } from './tasks/app-task.ts';
import { taskFunctions } from './builtins/task-functions.ts';
import { ScheduleStore } from './store/schedule-store.ts';
import { Schedules } from './schedules/schedules.ts';
import { ALONE } from './schedules/schedule-types.ts';

const APP_CALLER: CallerInfo = { kind: 'app' };

/**
 * Everything one Switchboard instance owns (store, registry, dispatcher, hub), attached to a
 * Fastify instance's HTTP server. Shared by `createSwitchboard()` and the Fastify plugin.
 */
export class SwitchboardCore {
  readonly db: Database.Database;
  readonly keys: KeyStore;
  /** Tokens of the admin API (created with `switchboard tokens create`). */
  readonly adminTokens: AdminTokenStore;
  /** Users who sign in with a login name and password. */
  readonly users: UserStore;
  /** Users' personal API tokens (`Authorization: Token sbu_...`). */
  readonly userTokens: UserTokenStore;
  /** Sessions and the encrypted cookie jars. */
  readonly state: RequestState;
  /** The master secret (cookies, session signatures); a cluster's is adopted when joining. */
  private secret: Buffer;
  readonly registry = functionRegistry();
  readonly endpoints = new EndpointTable();
  readonly dispatcher: Dispatcher;
  /** Live call statistics per function, endpoint and provider, and the recent errors. */
  readonly stats: CallStats;
  readonly hub: UplinkHub;
  /** The Prometheus view (`/metrics`), built on first scrape. */
  readonly metrics: Metrics;
  private readonly http = new HttpTally();
  private readonly traffic = new UplinkTraffic();
  /** Wrong keys per client address, wherever a key is presented. */
  private readonly keyThrottle: KeyThrottle;
  /** The server key created on first start, if this start created one (shown once). */
  readonly initialKey: string | undefined;
  private readonly app = new InProcessProvider();
  /** Background tasks (docs/tasks.md). */
  readonly tasks: Tasks;
  /** Cron schedules that launch tasks (docs/tasks.md, "Schedules"). */
  readonly schedules: Schedules;
  /** This server's part in a cluster on NATS (the `cluster` option), else undefined. */
  readonly cluster: Cluster | undefined;
  /** Sign-in with throttling; made with the routes (it counts in the rate-limit store). */
  private signIn: SignIn | undefined;
  /** Counts HTTP requests in flight; once shutdown begins, refuses new ones (and /readyz is 503). */
  private readonly gate = new RequestGate();
  /** Start, close and graceful shutdown of all of the above. */
  private readonly lifecycle: Lifecycle;
  /**
   * The client's address behind a request under the `trustProxy` option (what `request.ip` is
   * for HTTP requests); for the WebSocket upgrade request, which Fastify never sees.
   */
  readonly clientAddress: (req: IncomingMessage) => string;

  constructor(
    readonly options: ResolvedOptions,
    private readonly server: Server,
    private readonly log: FastifyBaseLogger,
  ) {
    this.clientAddress = clientAddressFunction(options.trustProxy);
    this.db = openDatabase(options.dataDir);
    this.keys = new KeyStore(this.db, options.keys);
    // Every server of a new cluster would make its own 'default' key: keys are made on purpose
    // there (docs/cluster.md).
    const clustered = options.cluster !== undefined;
    if (
      options.createInitialKey &&
      !clustered &&
      options.keys.length === 0 &&
      this.keys.count() === 0
    ) {
      this.initialKey = this.keys.create('default', 'server').key;
    }
    this.users = new UserStore(this.db, options.minPasswordLength);
    this.userTokens = new UserTokenStore(this.db, this.users);
    this.adminTokens = new AdminTokenStore(this.db);
    this.secret = loadSecret(options.dataDir, log);
    this.state = new RequestState(
      { sessions: new SessionStore(this.db, options.sessionTtlMs), users: this.users },
      this.secret,
      options.sharedCookieDomain,
    );
    this.keyThrottle = new KeyThrottle(options.keyFailureThrottle);
    this.stats = new CallStats(log);
    this.dispatcher = new Dispatcher(this.registry, this.endpoints, options, this.stats);
    this.hub = new UplinkHub(server, {
      options,
      keys: this.keys,
      keyThrottle: this.keyThrottle,
      clientAddress: this.clientAddress,
      registry: this.registry,
      endpoints: this.endpoints,
      dispatcher: this.dispatcher,
      log,
      traffic: this.traffic,
      anvil: {
        signIn: (email, password, ip) => {
          if (this.signIn === undefined)
            return Promise.reject(new SwitchboardError('SB_ERR_SERVER_CLOSING', 'not serving yet'));
          return this.signIn.verify({ ip }, { username: email, password });
        },
        publicOrigin: options.publicOrigin,
        tasks: () => this.tasks,
      },
    });
    this.metrics = new Metrics({
      stats: this.stats,
      http: this.http,
      traffic: this.traffic,
      uplinks: () => this.hub.uplinks().length,
      tasks: () => this.tasks,
    });
    const taskStore = new TaskStore(this.db);
    // Calls of other servers' tasks run here: their state goes back to them (cluster).
    const relayed = new RelayedTasks();
    this.cluster =
      options.cluster === undefined
        ? undefined
        : new Cluster({
            options,
            registry: this.registry,
            endpoints: this.endpoints,
            dispatcher: this.dispatcher,
            log,
            tables: new ReplicaTables(this.db),
            state: {
              keyRevoked: (id) => this.hub.closeKey(id),
              currentSecret: () => this.secret,
              adoptSecret: (secret) => {
                saveSecret(options.dataDir, secret);
                this.secret = secret;
                this.state.rekey(secret);
              },
              taskKillRequested: (id) => this.tasks.killRequested(id),
            },
            tasks: {
              relayed,
              ownersOfUnfinished: () => taskStore.unfinishedNodes(),
              interrupt: (node) => this.tasks.interrupt(node),
            },
          });
    // Triggers list changes to send while clustered; a server leaving a cluster drops them.
    setReplicationTriggers(this.db, clustered);
    const replica = this.cluster?.replica;
    if (replica !== undefined) this.users.numberWith((max) => replica.nextUserId(max));
    // However a key is revoked in this process (admin API, app code), its live uplinks go.
    this.keys.onRevoke((key) => this.hub.closeKey(key.id));
    for (const [name, fn] of userFunctions(this.users, this.userTokens))
      this.serveFunction(name, fn);
    this.tasks = new Tasks({
      store: taskStore,
      dispatcher: this.dispatcher,
      // A task's record crosses NATS in a cluster: its result is bounded to fit.
      limits: clustered ? clusterTaskLimits(options) : options,
      log,
      node: this.cluster?.node,
      relayed,
    });
    for (const [name, fn, access] of taskFunctions(this.tasks))
      this.serveFunction(name, fn, this.registry.meta(access, undefined));
    this.schedules = new Schedules(new ScheduleStore(this.db), this.tasks, {
      claims: this.cluster?.scheduleClaims ?? ALONE,
      log,
    });
    const { gate, hub, tasks, schedules, cluster, db } = this;
    this.lifecycle = new Lifecycle({
      server,
      gate,
      hub,
      app: this.app,
      log,
      cluster,
      tasks,
      schedules,
      db,
    });
  }

  /**
   * Request ids and HTTP metrics for every route of `app` registered after this call: the
   * whole server when standalone, the Switchboard routes only when mounted as a plugin.
   */
  observe(app: FastifyInstance): void {
    observeHttp(app, this.options.metrics ? this.http : undefined);
  }

  /** Registers the HTTP routes on `app` (or an encapsulated child of it). */
  async routes(app: FastifyInstance): Promise<void> {
    const { options, keys, endpoints, dispatcher, state } = this;
    new BodyTimeouts(options).register(app); // first, so it sees every body
    const limits = await RateLimits.register(app, this.cluster?.limits.counts);
    const signIn = new SignIn(this.users, limits, options.signInThrottle, this.userTokens);
    this.signIn = signIn;
    this.gate.register(app); // before the routes, so it sees every request to them
    await app.register(
      healthRoutes({
        db: this.db,
        isClosing: () => this.gate.isClosing,
        cluster: () => this.cluster?.health(),
      }),
    );
    await app.register(
      callRoutes({
        options,
        keys,
        keyThrottle: this.keyThrottle,
        dispatcher,
        signIn,
        state,
        tasks: this.tasks,
      }),
    );
    await app.register(apiRoutes({ options, endpoints, dispatcher, state, signIn, limits }));
    await app.register(dashboardRoutes());
    if (options.openapi !== undefined) {
      const { openapi: info, publicOrigin } = options;
      const callers = { options, keys, keyThrottle: this.keyThrottle, signIn, state };
      const { registry } = this;
      await app.register(openApiRoutes({ ...callers, endpoints, registry, info, publicOrigin }));
      await app.register(functionsRoutes({ ...callers, registry }));
    }
    await app.register(adminApi(this, limits), { prefix: ADMIN_API_PREFIX });
    if (options.metrics) {
      await app.register(metricsRoutes({ metrics: this.metrics, token: options.metricsToken }));
    }
  }

  /**
   * Revokes the stored key `id` and closes its live uplink connections (they are told
   * SB_ERR_AUTH_BAD_KEY and do not reconnect). SB_ERR_NO_SUCH_KEY if there is no such key,
   * SB_ERR_ADMIN_BAD_REQUEST for a key provisioned through options. Revoking twice is harmless.
   */
  revokeKey(id: string): void {
    const key = this.keys.get(id);
    if (key === undefined) {
      throw new SwitchboardError('SB_ERR_NO_SUCH_KEY', `No key with id ${JSON.stringify(id)}`);
    }
    if (key.source === 'options') {
      throw new SwitchboardError(
        'SB_ERR_ADMIN_BAD_REQUEST',
        `Key ${JSON.stringify(key.name)} is provisioned through options; remove it there`,
      );
    }
    if (key.revokedAt === null) this.keys.revoke(id);
    this.hub.closeKey(id);
  }

  /** Calls a registered function (in an uplink or in this process) from app code. */
  call(name: string, ...args: unknown[]): Promise<unknown> {
    return this.callWithOptions(name, args);
  }

  /** A function that streams its result answers with all its parts at once. */
  callWithOptions(name: string, args: unknown[], options: CallOptions = {}): Promise<unknown> {
    return this.dispatcher
      .call(name, args, APP_CALLER, options)
      .then((value) => (value instanceof ValueStream ? value.collect() : value));
  }

  /** Yields a streaming function's parts as they are produced (a plain value once). */
  async *streamWithOptions(
    name: string,
    args: unknown[],
    options: CallOptions = {},
  ): AsyncGenerator<unknown> {
    const value = await this.dispatcher.call(name, args, APP_CALLER, options);
    if (value instanceof ValueStream) yield* value;
    else yield value;
  }

  /**
   * Launches `name` as a background task (docs/tasks.md): recorded, run on a provider with no
   * deadline unless `timeoutMs` is given, and returned at once as a Task to watch or kill.
   */
  launch(name: string, args: unknown[], options: TaskLaunchOptions = {}): AppTask {
    const record = this.tasks.launch(name, args, {
      caller: APP_CALLER,
      timeoutMs: options.timeoutMs,
    });
    return new AppTask(this.tasks, record.id, APP_CALLER);
  }

  /** A task by id (app code sees every task); SB_ERR_NO_SUCH_TASK if there is none. */
  task(id: string): AppTask {
    this.tasks.get(id, APP_CALLER);
    return new AppTask(this.tasks, id, APP_CALLER);
  }

  /**
   * Registers a function served by this process; it balances with uplinks serving the same
   * name. Returns a function that unregisters it.
   */
  callable(name: string, fn: AppFunction, options?: CallableOptions<User>): () => void {
    assertCallable(name, fn);
    const access = accessOf(options);
    const signature = options === undefined ? undefined : functionSignature(options);
    const check = options?.requireUser;
    return this.serveFunction(
      name,
      typeof check === 'function' ? guardedByUser(fn, check) : fn,
      this.registry.meta(access, signature), // throws SB_ERR_SCHEMA_INVALID
    );
  }

  /**
   * Serves HTTP requests to `/_/api<path>` from this process, with the same semantics as an
   * uplink's endpoint (it balances with uplinks serving the same path). Returns a function that
   * withdraws it.
   */
  httpEndpoint(path: string, options: EndpointOptions, handler: EndpointHandler): () => void {
    const registration = endpointRegistration(path, options, handler);
    // Throws SB_ERR_ENDPOINT_CONFLICT or SB_ERR_SCHEMA_INVALID before changing anything.
    this.endpoints.add(path, registration, this.app);
    this.app.setEndpoint(path, handler);
    return () => {
      this.endpoints.remove(path, registration.methods, this.app);
      this.app.deleteEndpoint(path);
    };
  }

  /** Registers `fn` without the name checks: the one way to serve a reserved `sb.` name. */
  private serveFunction(
    name: string,
    fn: AppFunction,
    meta: FunctionMeta = SERVER_ONLY,
  ): () => void {
    checkAccess(this.registry, name, meta, this.app);
    this.app.set(name, fn);
    this.registry.add(name, this.app, meta);
    return () => {
      if (this.app.get(name) !== fn) return;
      this.app.delete(name);
      this.registry.remove(name, this.app);
    };
  }

  /**
   * Attaches shutdown to `app`: uplinks are closed in `preClose`, the store in `onClose`
   * (lifecycle.ts).
   */
  attachLifecycle(app: FastifyInstance): void {
    this.lifecycle.attach(app);
  }

  /**
   * Graceful shutdown: refuses new work at once (/readyz 503, no new connections, new HTTP
   * requests 503 SB_ERR_SERVER_CLOSING, uplinks told with `goaway`), lets calls and requests in
   * flight finish for up to `graceMs`, then closes like `app.close()`. What is still running at
   * the deadline fails with SB_ERR_DRAIN_TIMEOUT (or has its connection cut); the outcome says
   * how much that was.
   */
  shutdown(graceMs: number = this.options.shutdownGraceMs): Promise<ShutdownOutcome> {
    return this.lifecycle.shutdown(graceMs);
  }
}
