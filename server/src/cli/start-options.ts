import { SwitchboardError } from '@switchboard/shared';
import { parseInteger, withEnvOptions } from '../option-env.ts';
import { resolveOptions, type SwitchboardOptions } from '../options.ts';
import { parseTrustProxy } from '../http/client-address.ts';
import { DATA_DIR_FLAG, UsageError, type Command, type FlagSpec, type Parsed } from './command.ts';

/** Levels of Fastify's logger (pino). */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

type IntegerOption =
  | 'maxBodyBytes'
  | 'anonymousMaxBodyBytes'
  | 'maxFrameBytes'
  | 'maxMessageBytes'
  | 'callTimeoutMs'
  | 'maxCallTimeoutMs'
  | 'pongTimeoutMs'
  | 'unresponsiveTimeoutMs'
  | 'headersTimeoutMs'
  | 'keepAliveTimeoutMs'
  | 'bodyTimeoutMs'
  | 'bodyIdleTimeoutMs';

interface StartFlag extends FlagSpec {
  /** The environment variable the flag falls back to. */
  env: string;
}

/** Flags of `switchboard start`, each with its SWITCHBOARD_* variable (the flag wins). */
export const START_FLAGS: Readonly<Record<string, StartFlag>> = withEnvNoted({
  host: {
    type: 'string',
    placeholder: 'HOST',
    env: 'SWITCHBOARD_HOST',
    description: 'interface to listen on (default 127.0.0.1)',
  },
  port: {
    type: 'string',
    placeholder: 'PORT',
    env: 'SWITCHBOARD_PORT',
    description: 'port to listen on, 0 for any free one (default 3030)',
  },
  'data-dir': { ...DATA_DIR_FLAG, env: 'SWITCHBOARD_DATA_DIR' },
  'public-origin': {
    type: 'string',
    placeholder: 'URL',
    env: 'SWITCHBOARD_PUBLIC_ORIGIN',
    description: 'origin the server is reached at from outside, e.g. https://api.example.com',
  },
  cluster: {
    type: 'string',
    placeholder: 'URLS',
    env: 'SWITCHBOARD_CLUSTER',
    description:
      'run as one server of a cluster: NATS URLs, comma-separated (nats://127.0.0.1:4222); see docs/cluster.md',
  },
  'node-name': {
    type: 'string',
    placeholder: 'NAME',
    env: 'SWITCHBOARD_NODE_NAME',
    description: 'this server in the cluster (default: generated once, kept in the data folder)',
  },
  'state-replicas': {
    type: 'string',
    placeholder: 'N',
    env: 'SWITCHBOARD_STATE_REPLICAS',
    description:
      'NATS servers that keep the shared state, when this server creates its bucket (1-5, default 1)',
  },
  'max-body-bytes': {
    type: 'string',
    placeholder: 'N',
    env: 'SWITCHBOARD_MAX_BODY_BYTES',
    description: 'largest buffered HTTP body (default 20971520, 20 MiB)',
  },
  'max-frame-bytes': {
    type: 'string',
    placeholder: 'N',
    env: 'SWITCHBOARD_MAX_FRAME_BYTES',
    description: 'largest WebSocket message (default 33554432, 32 MiB)',
  },
  'max-message-bytes': {
    type: 'string',
    placeholder: 'N',
    env: 'SWITCHBOARD_MAX_MESSAGE_BYTES',
    description: 'largest value sent as a stream of frames (default 268435456, 256 MiB)',
  },
  'call-timeout-ms': {
    type: 'string',
    placeholder: 'MS',
    env: 'SWITCHBOARD_CALL_TIMEOUT_MS',
    description: 'deadline of a call that names none (default 30000)',
  },
  'max-call-timeout-ms': {
    type: 'string',
    placeholder: 'MS',
    env: 'SWITCHBOARD_MAX_CALL_TIMEOUT_MS',
    description: 'longest deadline a caller may ask for (default 3600000)',
  },
  'task-retention-ms': {
    type: 'string',
    placeholder: 'MS',
    env: 'SWITCHBOARD_TASK_RETENTION_MS',
    description: 'how long ended background tasks are kept, 0 for ever (default 604800000, 7 days)',
  },
  'anonymous-max-body-bytes': {
    type: 'string',
    placeholder: 'N',
    env: 'SWITCHBOARD_ANONYMOUS_MAX_BODY_BYTES',
    description: 'largest /_/call body from a caller with no key or user (default 65536)',
  },
  'pong-timeout-ms': {
    type: 'string',
    placeholder: 'MS',
    env: 'SWITCHBOARD_PONG_TIMEOUT_MS',
    description: 'an uplink leaving a ping unanswered this long gets no new calls (default 3000)',
  },
  'unresponsive-timeout-ms': {
    type: 'string',
    placeholder: 'MS',
    env: 'SWITCHBOARD_UNRESPONSIVE_TIMEOUT_MS',
    description: 'an uplink leaving a ping unanswered this long is closed (default 8000)',
  },
  'headers-timeout-ms': {
    type: 'string',
    placeholder: 'MS',
    env: 'SWITCHBOARD_HEADERS_TIMEOUT_MS',
    description: 'time a client has to send a request head (default 30000)',
  },
  'keep-alive-timeout-ms': {
    type: 'string',
    placeholder: 'MS',
    env: 'SWITCHBOARD_KEEP_ALIVE_TIMEOUT_MS',
    description: 'idle kept-alive HTTP connections are closed after this (default 72000)',
  },
  'body-timeout-ms': {
    type: 'string',
    placeholder: 'MS',
    env: 'SWITCHBOARD_BODY_TIMEOUT_MS',
    description: 'time a client has to send a whole buffered body (default 120000)',
  },
  'body-idle-timeout-ms': {
    type: 'string',
    placeholder: 'MS',
    env: 'SWITCHBOARD_BODY_IDLE_TIMEOUT_MS',
    description: 'a request body that stops arriving this long is refused (default 30000)',
  },
  'trust-proxy': {
    type: 'string',
    placeholder: 'TRUST',
    env: 'SWITCHBOARD_TRUST_PROXY',
    description: 'proxies whose X-Forwarded-* headers count: true, a hop count, or addresses/CIDRs',
  },
  'expose-errors': {
    type: 'boolean',
    env: 'SWITCHBOARD_EXPOSE_ERRORS',
    description: "show handlers' exception messages to public HTTP callers (development)",
  },
  'shutdown-grace-ms': {
    type: 'string',
    placeholder: 'MS',
    env: 'SWITCHBOARD_SHUTDOWN_GRACE_MS',
    description: 'on SIGTERM/SIGINT, how long calls in flight may finish (default 10000)',
  },
  'log-level': {
    type: 'string',
    placeholder: 'LEVEL',
    env: 'SWITCHBOARD_LOG_LEVEL',
    description: `${LOG_LEVELS.join('|')} (default: no log)`,
  },
});

/** Each description names its variable (the data folder's already does). */
function withEnvNoted(flags: Record<string, StartFlag>): Readonly<Record<string, StartFlag>> {
  for (const flag of Object.values(flags)) {
    if (!flag.description.includes(flag.env)) flag.description += `; env ${flag.env}`;
  }
  return Object.freeze(flags);
}

const INTEGER_FLAGS: ReadonlyArray<[string, IntegerOption]> = [
  ['max-body-bytes', 'maxBodyBytes'],
  ['max-frame-bytes', 'maxFrameBytes'],
  ['max-message-bytes', 'maxMessageBytes'],
  ['call-timeout-ms', 'callTimeoutMs'],
  ['max-call-timeout-ms', 'maxCallTimeoutMs'],
  ['anonymous-max-body-bytes', 'anonymousMaxBodyBytes'],
  ['pong-timeout-ms', 'pongTimeoutMs'],
  ['unresponsive-timeout-ms', 'unresponsiveTimeoutMs'],
  ['headers-timeout-ms', 'headersTimeoutMs'],
  ['keep-alive-timeout-ms', 'keepAliveTimeoutMs'],
  ['body-timeout-ms', 'bodyTimeoutMs'],
  ['body-idle-timeout-ms', 'bodyIdleTimeoutMs'],
];

/** What `switchboard start` runs with. */
export interface StartConfig {
  options: SwitchboardOptions;
  logLevel: (typeof LOG_LEVELS)[number] | undefined;
}

/**
 * The options of `switchboard start`: its flags, over the SWITCHBOARD_* variables of `env`
 * (`withEnvOptions`, the table `createSwitchboard()` reads too), over the defaults. The CLI is
 * where the process environment comes in: the options it returns already hold it. A bad value
 * is a UsageError naming the flag or variable it came from; the whole set is checked by
 * resolveOptions (e.g. a call timeout above the maximum) before anything starts.
 */
export function startConfig(parsed: Parsed, env: NodeJS.ProcessEnv = process.env): StartConfig {
  const options = usage(() => withEnvOptions(flagOptions(parsed), env));
  const flagLevel = parsed.values['log-level'];
  const level = typeof flagLevel === 'string' ? flagLevel : env.SWITCHBOARD_LOG_LEVEL || undefined;
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
    const from = typeof flagLevel === 'string' ? '--log-level' : 'SWITCHBOARD_LOG_LEVEL';
    throw new UsageError(
      `${from} must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`,
      'start',
    );
  }
  usage(() => resolveOptions(options));
  return { options, logLevel: level as StartConfig['logLevel'] };
}

/** A bad option value is the user's: a UsageError (exit status 2) with the same message. */
function usage<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof SwitchboardError) throw new UsageError(error.message, 'start');
    throw error;
  }
}

/** The options given by flags (SB_ERR_OPTIONS_INVALID naming the flag for a bad value). */
function flagOptions(parsed: Parsed): SwitchboardOptions {
  const flag = (name: string): string | undefined => {
    const given = parsed.values[name];
    return typeof given === 'string' ? given : undefined;
  };
  const options: SwitchboardOptions = {};
  const host = flag('host');
  if (host !== undefined) options.host = host;
  const port = flag('port');
  if (port !== undefined) options.port = parseInteger(port, '--port', 0, 65_535);
  const dataDir = flag('data-dir');
  if (dataDir !== undefined) options.dataDir = dataDir;
  const origin = flag('public-origin');
  if (origin !== undefined) options.publicOrigin = origin;
  for (const [name, key] of INTEGER_FLAGS) {
    const value = flag(name);
    if (value !== undefined) options[key] = parseInteger(value, `--${name}`, 1);
  }
  const cluster = flag('cluster');
  const nodeName = flag('node-name') ?? process.env.SWITCHBOARD_NODE_NAME;
  const replicas = flag('state-replicas') ?? process.env.SWITCHBOARD_STATE_REPLICAS;
  if (
    cluster !== undefined ||
    flag('node-name') !== undefined ||
    flag('state-replicas') !== undefined
  ) {
    // Together they are the cluster option; the variables fill in what is not a flag.
    const servers = (cluster ?? process.env.SWITCHBOARD_CLUSTER ?? '')
      .split(',')
      .map((url) => url.trim())
      .filter((url) => url !== '');
    options.cluster = {
      servers,
      ...(nodeName === undefined ? {} : { nodeName }),
      ...(replicas === undefined
        ? {}
        : { stateReplicas: parseInteger(replicas, '--state-replicas', 1, 5) }),
    };
  }
  const trust = flag('trust-proxy');
  if (trust !== undefined) options.trustProxy = parseTrustProxy(trust, '--trust-proxy');
  const grace = flag('shutdown-grace-ms');
  if (grace !== undefined) options.shutdownGraceMs = parseInteger(grace, '--shutdown-grace-ms', 0);
  const retention = flag('task-retention-ms');
  if (retention !== undefined)
    options.taskRetentionMs = parseInteger(retention, '--task-retention-ms', 0);
  if (parsed.values['expose-errors'] === true) options.exposeErrors = true;
  return options;
}

/** What starts the server once the options are known (it lives in main.ts with shutdown). */
export type StartServer = (
  options: SwitchboardOptions,
  logLevel: string | undefined,
) => Promise<number>;

/** `switchboard start`: flags and environment parsed here, the server started by `start`. */
export function startCommand(start: StartServer): Command {
  return {
    name: 'start',
    summary: 'Start the server (stop it with Ctrl-C or SIGTERM).',
    details:
      'Every flag falls back to its SWITCHBOARD_* environment variable (the flag wins); also\n' +
      'SWITCHBOARD_ALTERNATE_ORIGINS and SWITCHBOARD_PRIVATE_API_KEYS (comma-separated).\n' +
      'SIGTERM or SIGINT shuts down gracefully: /readyz answers 503, new requests are refused,\n' +
      'calls in flight get --shutdown-grace-ms to finish; exit status 0 if they all did, 1 if\n' +
      'the deadline cut some off. A second signal exits at once.',
    args: '',
    arity: [0, 0],
    flags: START_FLAGS,
    run: (parsed) => {
      const { options, logLevel } = startConfig(parsed);
      return start(options, logLevel);
    },
  };
}
