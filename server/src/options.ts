import path from 'node:path';
import { DEFAULT_MAX_MESSAGE_BYTES, rateLimitOf } from '@switchboard/shared';
import { withEnvOptions } from './option-env.ts';
import type { ResolvedOptions, SwitchboardOptions } from './option-types.ts';
import {
  invalid,
  openApiInfo,
  originOption,
  clusterOption,
  publicOrigin,
  trustProxyOption,
} from './option-values.ts';
import {
  DEFAULT_ADMIN_RATE_LIMITS,
  DEFAULT_ANONYMOUS_MAX_BODY_BYTES,
  DEFAULT_AUTH_TIMEOUT_MS,
  DEFAULT_BODY_IDLE_TIMEOUT_MS,
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_CLIENT_KEY_LIMITS,
  DEFAULT_DATA_DIR,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_HOST,
  DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  DEFAULT_KEY_FAILURE_THROTTLE,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_CALL_TIMEOUT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MIN_PASSWORD_LENGTH,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_PONG_TIMEOUT_MS,
  DEFAULT_PORT,
  DEFAULT_SESSION_TTL_MS,
  DEFAULT_MAX_TASK_STATE_BYTES,
  DEFAULT_MAX_TASK_RESULT_BYTES,
  DEFAULT_TASK_RETENTION_MS,
  DEFAULT_MAX_RUNNING_TASKS,
  DEFAULT_SHUTDOWN_GRACE_MS,
  DEFAULT_SIGN_IN_THROTTLE,
  DEFAULT_STREAM_STALL_TIMEOUT_MS,
  DEFAULT_STREAM_WINDOW_BYTES,
  DEFAULT_UNRESPONSIVE_TIMEOUT_MS,
} from './option-defaults.ts';

export * from './option-defaults.ts';

export type { ProvisionedKey, ResolvedOptions, SwitchboardOptions } from './option-types.ts';

/**
 * Validates, completes and freezes the options. Explicit options win over the SWITCHBOARD_*
 * variables in `env`, which win over defaults. `env` is empty unless given: nothing here reads
 * `process.env` (`createSwitchboard()`, the plugin and the CLI pass it).
 */
export function resolveOptions(
  given: SwitchboardOptions = {},
  env: NodeJS.ProcessEnv = {},
): ResolvedOptions {
  const options = withEnvOptions(given, env);
  const resolved = {
    host: options.host ?? DEFAULT_HOST,
    port: options.port ?? DEFAULT_PORT,
    dataDir: path.resolve(options.dataDir ?? DEFAULT_DATA_DIR),
    keys: Object.freeze([...(options.keys ?? [])]),
    createInitialKey: options.createInitialKey ?? true,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    authTimeoutMs: options.authTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS,
    pingIntervalMs: options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
    pongTimeoutMs: options.pongTimeoutMs ?? DEFAULT_PONG_TIMEOUT_MS,
    unresponsiveTimeoutMs: options.unresponsiveTimeoutMs ?? DEFAULT_UNRESPONSIVE_TIMEOUT_MS,
    callTimeoutMs: options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    maxCallTimeoutMs: options.maxCallTimeoutMs ?? DEFAULT_MAX_CALL_TIMEOUT_MS,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    anonymousMaxBodyBytes: options.anonymousMaxBodyBytes ?? DEFAULT_ANONYMOUS_MAX_BODY_BYTES,
    clientKeyLimits: Object.freeze({ ...DEFAULT_CLIENT_KEY_LIMITS, ...options.clientKeyLimits }),
    keyFailureThrottle: rateLimitOf(
      options.keyFailureThrottle ?? DEFAULT_KEY_FAILURE_THROTTLE,
      'keyFailureThrottle',
    ),
    publicOrigin: publicOrigin(options.publicOrigin),
    alternateOrigins: Object.freeze(
      (options.alternateOrigins ?? []).map((origin) => originOption(origin, 'alternateOrigins')),
    ),
    privateApiKeys: Object.freeze([...(options.privateApiKeys ?? [])]),
    rateLimit:
      options.rateLimit === undefined ? undefined : rateLimitOf(options.rateLimit, 'rateLimit'),
    signInThrottle: rateLimitOf(
      options.signInThrottle ?? DEFAULT_SIGN_IN_THROTTLE,
      'signInThrottle',
    ),
    sessionTtlMs: options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS,
    maxTaskStateBytes: options.maxTaskStateBytes ?? DEFAULT_MAX_TASK_STATE_BYTES,
    maxTaskResultBytes: options.maxTaskResultBytes ?? DEFAULT_MAX_TASK_RESULT_BYTES,
    taskRetentionMs: options.taskRetentionMs ?? DEFAULT_TASK_RETENTION_MS,
    maxRunningTasks: options.maxRunningTasks ?? DEFAULT_MAX_RUNNING_TASKS,
    streamWindowBytes: options.streamWindowBytes ?? DEFAULT_STREAM_WINDOW_BYTES,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    streamStallTimeoutMs: options.streamStallTimeoutMs ?? DEFAULT_STREAM_STALL_TIMEOUT_MS,
    sharedCookieDomain: options.sharedCookieDomain,
    adminRateLimits: Object.freeze({
      read: rateLimitOf(
        options.adminRateLimits?.read ?? DEFAULT_ADMIN_RATE_LIMITS.read,
        'adminRateLimits.read',
      ),
      write: rateLimitOf(
        options.adminRateLimits?.write ?? DEFAULT_ADMIN_RATE_LIMITS.write,
        'adminRateLimits.write',
      ),
    }),
    drainTimeoutMs: options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
    shutdownGraceMs: options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
    minPasswordLength: options.minPasswordLength ?? DEFAULT_MIN_PASSWORD_LENGTH,
    debug: options.debug ?? false,
    exposeErrors: options.exposeErrors ?? options.debug ?? false,
    trustProxy: trustProxyOption(options.trustProxy),
    cluster: clusterOption(options.cluster),
    headersTimeoutMs: options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    bodyTimeoutMs: options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
    bodyIdleTimeoutMs: options.bodyIdleTimeoutMs ?? DEFAULT_BODY_IDLE_TIMEOUT_MS,
    logger: options.logger ?? false,
    openapi: openApiInfo(options.openapi),
    metrics: options.metrics ?? true,
    metricsToken: options.metricsToken,
  };
  if (!Number.isInteger(resolved.port) || resolved.port < 0 || resolved.port > 65535) {
    throw invalid(`port must be an integer 0-65535, got ${resolved.port}`);
  }
  for (const key of [
    'maxFrameBytes',
    'authTimeoutMs',
    'pingIntervalMs',
    'pongTimeoutMs',
    'unresponsiveTimeoutMs',
    'callTimeoutMs',
    'maxCallTimeoutMs',
    'maxBodyBytes',
    'anonymousMaxBodyBytes',
    'sessionTtlMs',
    'maxTaskStateBytes',
    'maxTaskResultBytes',
    'maxRunningTasks',
    'streamWindowBytes',
    'streamStallTimeoutMs',
    'maxMessageBytes',
    'drainTimeoutMs',
    'headersTimeoutMs',
    'keepAliveTimeoutMs',
    'bodyTimeoutMs',
    'bodyIdleTimeoutMs',
  ] as const) {
    const value = resolved[key];
    if (!Number.isSafeInteger(value) || value <= 0)
      throw invalid(`${key} must be a positive integer`);
  }
  if (!Number.isSafeInteger(resolved.taskRetentionMs) || resolved.taskRetentionMs < 0)
    throw invalid('taskRetentionMs must be a non-negative integer');
  if (!Number.isSafeInteger(resolved.shutdownGraceMs) || resolved.shutdownGraceMs < 0)
    throw invalid('shutdownGraceMs must be a non-negative integer');
  for (const [key, value] of Object.entries(resolved.clientKeyLimits)) {
    if (!Number.isSafeInteger(value) || value <= 0)
      throw invalid(`clientKeyLimits.${key} must be a positive integer`);
  }
  if (resolved.clientKeyLimits.maxFrameBytes < 1024)
    throw invalid('clientKeyLimits.maxFrameBytes must be at least 1024');
  if (resolved.unresponsiveTimeoutMs <= resolved.pongTimeoutMs)
    throw invalid('unresponsiveTimeoutMs must exceed pongTimeoutMs');
  if (resolved.callTimeoutMs > resolved.maxCallTimeoutMs) {
    throw invalid('callTimeoutMs must not exceed maxCallTimeoutMs');
  }
  if (
    resolved.metricsToken !== undefined &&
    (typeof resolved.metricsToken !== 'string' || !/^\S{16,}$/.test(resolved.metricsToken))
  )
    throw invalid('metricsToken must be at least 16 characters without spaces');
  if (resolved.maxFrameBytes < 1024) throw invalid('maxFrameBytes must be at least 1024');
  for (const key of resolved.privateApiKeys) {
    if (typeof key !== 'string' || !/^[A-Za-z0-9_-]{16,}$/.test(key))
      throw invalid('privateApiKeys must be URL-safe strings of at least 16 characters');
  }
  if (
    !Number.isSafeInteger(resolved.minPasswordLength) ||
    resolved.minPasswordLength < 1 ||
    resolved.minPasswordLength > 1024
  )
    throw invalid('minPasswordLength must be an integer from 1 to 1024');
  const names = new Set<string>();
  for (const key of resolved.keys) {
    if (names.has(key.name))
      throw invalid(`two provisioned keys are named ${JSON.stringify(key.name)}`);
    names.add(key.name);
    if (typeof key.key !== 'string' || key.key.length < 16) {
      throw invalid(`provisioned key ${JSON.stringify(key.name)} must be at least 16 characters`);
    }
    if (key.kind !== 'server' && key.kind !== 'client') {
      throw invalid(`provisioned key ${JSON.stringify(key.name)} has kind ${String(key.kind)}`);
    }
  }
  return Object.freeze(resolved);
}
