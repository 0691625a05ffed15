// One config parser for every service: command-line flags, each also readable from a
// `DDIA_<FLAG>` environment variable (containers), validated, with errors that name the flag.
import { parseArgs } from 'node:util';
import { ENGINES, type EngineName } from '../storage/store.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Peer {
  id: string;
  url: string;
}

export interface FlagSpec {
  type: 'string' | 'number' | 'boolean';
  description: string;
  default?: string | number | boolean;
  choices?: readonly string[];
  min?: number;
  max?: number;
}

export interface BaseConfig {
  port: number;
  host: string;
  id: string;
  peers: Peer[];
  dataDir: string | undefined;
  engine: EngineName;
  logLevel: LogLevel;
  chaos: boolean;
  /** --otlp: export spans over OTLP/HTTP JSON to this URL (net/span-export.ts). */
  otlp?: string;
}

export type ExtraValues<E extends Record<string, FlagSpec>> = {
  [K in keyof E]: E[K]['type'] extends 'number'
    ? number
    : E[K]['type'] extends 'boolean'
      ? boolean
      : string | undefined;
};

export interface Config<E extends Record<string, FlagSpec> = Record<string, never>> extends BaseConfig {
  extra: ExtraValues<E>;
}

/** A bad flag or environment variable; the CLI prints it and exits with code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly flag: string,
    message: string,
    /** A stray argument is named as typed, not as a --flag. */
    positional = false,
  ) {
    super(`${positional ? flag : `--${flag}`}: ${message}`);
  }
}

/** The flags of a service, one per line, with their environment variables and defaults. */
export function usage(extraFlags: Record<string, FlagSpec> = {}): string {
  const lines = ['flags (each also read from its DDIA_* environment variable):'];
  const specs: [string, FlagSpec][] = Object.entries({ ...BASE_FLAGS, ...extraFlags });
  for (const [flag, spec] of specs) {
    const value =
      spec.type === 'boolean'
        ? spec.default === true
          ? ` (--no-${flag} turns it off)`
          : ''
        : spec.choices
          ? ` ${spec.choices.join('|')}`
          : ` <${spec.type}>`;
    const fallback =
      spec.default === undefined || spec.default === '' ? '' : ` (default ${String(spec.default)})`;
    lines.push(`  --${flag}${value}`.padEnd(36) + `${spec.description}${fallback} [${envName(flag)}]`);
  }
  return lines.join('\n');
}

export const BASE_FLAGS = {
  port: { type: 'number', description: 'TCP port to listen on', default: 0, min: 0, max: 65535 },
  host: {
    type: 'string',
    description: 'address to bind (127.0.0.1 unless you mean to expose it)',
    default: '127.0.0.1',
  },
  id: { type: 'string', description: 'this node id, e.g. n1', default: 'n1' },
  peers: { type: 'string', description: 'cluster members as id=url,id=url (including this node)' },
  'data-dir': { type: 'string', description: 'directory for durable state (omit for memory only)' },
  engine: {
    type: 'string',
    description: 'storage engine: lsm (chapter 3), level (LevelDB) or memory',
    default: 'lsm',
    choices: ENGINES,
  },
  'log-level': { type: 'string', description: 'pino log level', default: 'info', choices: LOG_LEVELS },
  chaos: {
    type: 'boolean',
    description: 'enable fault-injection endpoints (tests and demos only)',
    default: false,
  },
  otlp: {
    type: 'string',
    description: 'export request spans over OTLP/HTTP JSON to this URL (e.g. the monitoring node)',
  },
} as const satisfies Record<string, FlagSpec>;

/** Largest key and value a request may carry: --key-bytes-max and --value-bytes-max, with a
 *  service's own defaults. A request above either is answered 413. */
export function sizeLimitFlags(defaults: { keyBytesMax: number; valueBytesMax: number }) {
  return {
    'key-bytes-max': {
      type: 'number',
      description: 'largest key in bytes (413 above)',
      default: defaults.keyBytesMax,
      min: 1,
      max: 64 * 1024,
    },
    'value-bytes-max': {
      type: 'number',
      description: 'largest value in bytes (413 above)',
      default: defaults.valueBytesMax,
      min: 1,
      max: 64 * 1024 * 1024,
    },
  } as const satisfies Record<string, FlagSpec>;
}

/** The limits `sizeLimitFlags` declared, in the shape routes take them. */
export function sizeLimits(extra: { 'key-bytes-max': number; 'value-bytes-max': number }): {
  keyBytesMax: number;
  valueBytesMax: number;
} {
  return { keyBytesMax: extra['key-bytes-max'], valueBytesMax: extra['value-bytes-max'] };
}

/** The flags of a member of a Raft group: its tick, its election timeout in ticks, and --join
 *  (start empty and wait to be added; `joinHow` says how). `group` names the group in the
 *  descriptions where a service runs one for a part of its work ("controller"). */
export function raftMemberFlags(options: { joinHow: string; group?: string }) {
  const group = options.group ? `${options.group} ` : '';
  return {
    'tick-ms': { type: 'number', description: `one ${group}Raft tick`, default: 50, min: 1, max: 10_000 },
    'election-ticks': {
      type: 'number',
      description: `${group}election timeout in ticks (randomised in [n, 2n))`,
      default: 10,
      min: 3,
      max: 1_000,
    },
    join: {
      type: 'boolean',
      description: `join an existing cluster (${options.joinHow})`,
      default: false,
    },
  } as const satisfies Record<string, FlagSpec>;
}

/** --request-timeout-ms: how long a client request may wait before the service answers
 *  503/504 (5 s by default); the description says what it waits for. */
export function requestTimeoutFlag(description: string) {
  return {
    'request-timeout-ms': { type: 'number', description, default: 5_000, min: 50, max: 600_000 },
  } as const satisfies Record<string, FlagSpec>;
}

export function envName(flag: string): string {
  return `DDIA_${flag.toUpperCase().replaceAll('-', '_')}`;
}

export function parsePeers(text: string): Peer[] {
  const peers: Peer[] = [];
  const seen = new Set<string>();
  for (const part of text.split(',').filter((p) => p.trim() !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ConfigError('peers', `'${part}' is not id=url`);
    const id = part.slice(0, eq).trim();
    const url = part.slice(eq + 1).trim();
    if (!/^[A-Za-z0-9_.-]+$/.test(id)) throw new ConfigError('peers', `bad node id '${id}'`);
    if (seen.has(id)) throw new ConfigError('peers', `node id '${id}' appears twice`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError('peers', `'${url}' is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new ConfigError('peers', `'${url}' must be http:// or https://`);
    }
    seen.add(id);
    peers.push({ id, url: url.replace(/\/+$/, '') });
  }
  return peers;
}

function convert(flag: string, spec: FlagSpec, raw: string | boolean): string | number | boolean {
  if (spec.type === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
    if (['0', 'false', 'no', 'off', ''].includes(raw.toLowerCase())) return false;
    throw new ConfigError(flag, `expected true or false, got '${raw}'`);
  }
  const text = String(raw);
  if (spec.type === 'number') {
    if (!/^-?\d+(\.\d+)?$/.test(text.trim())) throw new ConfigError(flag, `expected a number, got '${text}'`);
    const value = Number(text);
    if (spec.min !== undefined && value < spec.min)
      throw new ConfigError(flag, `must be at least ${spec.min}, got ${value}`);
    if (spec.max !== undefined && value > spec.max)
      throw new ConfigError(flag, `must be at most ${spec.max}, got ${value}`);
    return value;
  }
  if (spec.choices && !spec.choices.includes(text)) {
    throw new ConfigError(flag, `must be one of ${spec.choices.join(', ')}, got '${text}'`);
  }
  return text;
}

/** Parses flags (winning over `DDIA_*` variables, winning over defaults). Throws ConfigError. */
export function parseConfig<E extends Record<string, FlagSpec> = Record<string, never>>(
  argv: readonly string[],
  env: Record<string, string | undefined> = {},
  extraFlags?: E,
): Config<E> {
  const specs: Record<string, FlagSpec> = { ...BASE_FLAGS, ...(extraFlags ?? {}) };
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [flag, spec] of Object.entries(specs))
    options[flag] = { type: spec.type === 'boolean' ? 'boolean' : 'string' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    // allowNegative: a boolean flag that defaults to true is turned off with --no-<flag>.
    parsed = parseArgs({
      args: [...argv],
      options,
      strict: true,
      allowPositionals: false,
      allowNegative: true,
    });
  } catch (err) {
    const message = (err as Error).message;
    const positional = /Unexpected argument '([^']*)'/.exec(message);
    if (positional) {
      throw new ConfigError(
        positional[1]!,
        'unexpected argument (every setting is a --flag; see --help)',
        true,
      );
    }
    const named = /'(--?[^'\s]+)/.exec(message)?.[1]?.replace(/^-+/, '') ?? 'flags';
    throw new ConfigError(named, message.replace(/\. To specify .*$/s, ''));
  }
  const values: Record<string, string | number | boolean | undefined> = {};
  for (const [flag, spec] of Object.entries(specs)) {
    const fromFlag = parsed.values[flag] as string | boolean | undefined;
    const fromEnv = env[envName(flag)];
    if (fromFlag !== undefined) values[flag] = convert(flag, spec, fromFlag);
    else if (fromEnv !== undefined) {
      try {
        values[flag] = convert(flag, spec, fromEnv);
      } catch (err) {
        throw new ConfigError(
          flag,
          `${(err as Error).message.replace(/^--[^:]+: /, '')} (from ${envName(flag)})`,
        );
      }
    } else values[flag] = spec.default;
  }
  const port = values.port as number;
  if (!Number.isInteger(port)) throw new ConfigError('port', `must be an integer, got ${port}`);
  const peers = values.peers ? parsePeers(values.peers as string) : [];
  const id = values.id as string;
  if (peers.length > 0 && !peers.some((p) => p.id === id)) {
    throw new ConfigError('peers', `does not include this node's id '${id}'`);
  }
  if (values.otlp !== undefined && !/^https?:\/\/[^/]/.test(String(values.otlp)))
    throw new ConfigError('otlp', `'${values.otlp}' is not an http(s) URL`);
  const extra: Record<string, unknown> = {};
  for (const flag of Object.keys(extraFlags ?? {})) extra[flag] = values[flag];
  return {
    port,
    host: values.host as string,
    id,
    peers,
    dataDir: values['data-dir'] as string | undefined,
    engine: values.engine as EngineName,
    logLevel: values['log-level'] as LogLevel,
    chaos: values.chaos as boolean,
    ...(values.otlp ? { otlp: values.otlp as string } : {}),
    extra: extra as ExtraValues<E>,
  };
}

/** For `main.ts`: parse process flags and env, or print the problem and exit with code 2. */
export function configOrExit<E extends Record<string, FlagSpec> = Record<string, never>>(
  extraFlags?: E,
  /** Checks across flags (`--w` at most `--n`): throw a ConfigError naming the flag at fault. */
  validate?: (config: Config<E>) => void,
): Config<E> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage(extraFlags)}\n`);
    process.exit(0);
  }
  try {
    const config = parseConfig(argv, process.env, extraFlags);
    validate?.(config);
    return config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
