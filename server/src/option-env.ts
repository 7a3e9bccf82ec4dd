import { parseTrustProxy } from './http/client-address.ts';
import { invalid } from './option-values.ts';
import type { SwitchboardOptions } from './option-types.ts';

/** One `SWITCHBOARD_*` variable and the option it sets. */
interface EnvOption {
  readonly variable: string;
  readonly option: keyof SwitchboardOptions;
  /** Parses a set, non-empty value onto `options`; SB_ERR_OPTIONS_INVALID names the variable. */
  readonly apply: (options: SwitchboardOptions, raw: string) => void;
}

function envOption<K extends keyof SwitchboardOptions>(
  variable: string,
  option: K,
  parse: (raw: string, from: string) => SwitchboardOptions[K],
): EnvOption {
  return {
    variable,
    option,
    apply: (options, raw) => {
      const value = parse(raw, variable);
      if (value !== undefined) options[option] = value;
    },
  };
}

/**
 * The one table of the variables a server reads, for `switchboard start` and for
 * `createSwitchboard()` / the plugin alike (`SWITCHBOARD_LOG_LEVEL` is the CLI's own: it sets no
 * option). Explicit options and flags win over them.
 */
const ENV_OPTIONS: readonly EnvOption[] = [
  envOption('SWITCHBOARD_HOST', 'host', text),
  envOption('SWITCHBOARD_PORT', 'port', integer(0, 65_535)),
  envOption('SWITCHBOARD_DATA_DIR', 'dataDir', text),
  envOption('SWITCHBOARD_PUBLIC_ORIGIN', 'publicOrigin', text),
  envOption('SWITCHBOARD_MAX_BODY_BYTES', 'maxBodyBytes', integer(1)),
  envOption('SWITCHBOARD_MAX_FRAME_BYTES', 'maxFrameBytes', integer(1)),
  envOption('SWITCHBOARD_MAX_MESSAGE_BYTES', 'maxMessageBytes', integer(1)),
  envOption('SWITCHBOARD_CALL_TIMEOUT_MS', 'callTimeoutMs', integer(1)),
  envOption('SWITCHBOARD_TASK_RETENTION_MS', 'taskRetentionMs', integer(0)),
  envOption('SWITCHBOARD_MAX_CALL_TIMEOUT_MS', 'maxCallTimeoutMs', integer(1)),
  envOption('SWITCHBOARD_ANONYMOUS_MAX_BODY_BYTES', 'anonymousMaxBodyBytes', integer(1)),
  envOption('SWITCHBOARD_PONG_TIMEOUT_MS', 'pongTimeoutMs', integer(1)),
  envOption('SWITCHBOARD_UNRESPONSIVE_TIMEOUT_MS', 'unresponsiveTimeoutMs', integer(1)),
  envOption('SWITCHBOARD_HEADERS_TIMEOUT_MS', 'headersTimeoutMs', integer(1)),
  envOption('SWITCHBOARD_KEEP_ALIVE_TIMEOUT_MS', 'keepAliveTimeoutMs', integer(1)),
  envOption('SWITCHBOARD_BODY_TIMEOUT_MS', 'bodyTimeoutMs', integer(1)),
  envOption('SWITCHBOARD_BODY_IDLE_TIMEOUT_MS', 'bodyIdleTimeoutMs', integer(1)),
  envOption('SWITCHBOARD_TRUST_PROXY', 'trustProxy', parseTrustProxy),
  envOption('SWITCHBOARD_EXPOSE_ERRORS', 'exposeErrors', boolean),
  envOption('SWITCHBOARD_SHUTDOWN_GRACE_MS', 'shutdownGraceMs', integer(0)),
  envOption('SWITCHBOARD_ALTERNATE_ORIGINS', 'alternateOrigins', list),
  envOption('SWITCHBOARD_PRIVATE_API_KEYS', 'privateApiKeys', list),
  // Its range (1-1024) is checked by resolveOptions, as for the option.
  envOption('SWITCHBOARD_MIN_PASSWORD_LENGTH', 'minPasswordLength', integer(0)),
  envOption('SWITCHBOARD_METRICS', 'metrics', boolean),
  envOption('SWITCHBOARD_METRICS_TOKEN', 'metricsToken', text),
  envOption('SWITCHBOARD_CLUSTER', 'cluster', (raw) => ({ servers: list(raw) })),
  {
    variable: 'SWITCHBOARD_NODE_NAME',
    option: 'cluster',
    apply: (options, raw) => {
      options.cluster = {
        ...options.cluster,
        servers: options.cluster?.servers ?? [],
        nodeName: raw,
      };
    },
  },
  {
    variable: 'SWITCHBOARD_STATE_REPLICAS',
    option: 'cluster',
    apply: (options, raw) => {
      options.cluster = {
        ...options.cluster,
        servers: options.cluster?.servers ?? [],
        stateReplicas: parseInteger(raw, 'SWITCHBOARD_STATE_REPLICAS', 1, 5),
      };
    },
  },
];

/**
 * `given` over the options set by the `SWITCHBOARD_*` variables of `env`. A variable whose
 * option is given (not undefined) is not read, nor is one unset or empty. A value that cannot
 * be parsed throws SB_ERR_OPTIONS_INVALID naming the variable; the options as a whole are
 * checked by resolveOptions.
 */
export function withEnvOptions(
  given: SwitchboardOptions,
  env: NodeJS.ProcessEnv,
): SwitchboardOptions {
  const options: SwitchboardOptions = {};
  for (const { variable, option, apply } of ENV_OPTIONS) {
    const raw = env[variable];
    if (given[option] === undefined && raw !== undefined && raw !== '') apply(options, raw);
  }
  for (const [key, value] of Object.entries(given) as Array<[string, unknown]>) {
    if (value !== undefined) Object.assign(options, { [key]: value });
  }
  return options;
}

/**
 * A whole number from `min` to `max` written in decimal digits (a flag's or a variable's value;
 * `from` names it in the error).
 */
export function parseInteger(
  value: string,
  from: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const number = /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    const range =
      max !== Number.MAX_SAFE_INTEGER
        ? `an integer from ${min} to ${max}`
        : min === 0
          ? 'a non-negative integer'
          : 'a positive integer';
    throw invalid(`${from} must be ${range}, got ${JSON.stringify(value)}`);
  }
  return number;
}

function integer(min: number, max?: number): (raw: string, from: string) => number {
  return (raw, from) => parseInteger(raw, from, min, max);
}

function text(raw: string): string {
  return raw;
}

/** Comma-separated items, blanks dropped. */
function list(raw: string): string[] {
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function boolean(raw: string, from: string): boolean | undefined {
  const value = raw.trim().toLowerCase();
  if (value === '') return undefined;
  if (value === 'true' || value === '1' || value === 'yes') return true;
  if (value === 'false' || value === '0' || value === 'no') return false;
  throw invalid(`${from} must be true or false, got ${JSON.stringify(raw)}`);
}
