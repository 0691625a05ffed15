// Command-line flags of the bench tools (ab.ts, stalls.ts). Parsing is strict: a typo stops the
// run at once, with exit code 2 and the flag's name, rather than measuring a default by mistake
// for a minute.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Workload } from './load.js';
import type { KvStoreOptions } from './systems.js';

/** Concurrent clients unless told: the cell of the README's target. */
export const CLIENTS_DEFAULT = 64;
export const CLIENTS_MAX = 1_024;
/** Unmeasured load before measuring: V8 needs some thousands of requests to compile the hot
 *  paths, and the heap to size itself for the mix; the JIT is not what the tools study. */
export const WARMUP_MS_DEFAULT = 5_000;
/** No single stretch of load (a warm-up, a round or a recording) may exceed ten minutes. */
export const STRETCH_MS_MAX = 600_000;

/** The exit code of a run refused for its flags (as the members' own flag parser uses). */
export const EXIT_USAGE = 2;

/** Bad input on the command line: reported with the usage text, never a stack trace. */
export class UsageError extends Error {}

export type FlagSpecs = Record<string, { type: 'string' | 'boolean' }>;
export type FlagValues = Record<string, string | boolean | undefined>;

/** The flags that describe how one side's members run (`side` is `a` or `b`). */
export function sideFlagSpecs(side: 'a' | 'b'): FlagSpecs {
  return {
    [`${side}-node-args`]: { type: 'string' },
    [`${side}-flags`]: { type: 'string' },
    [`${side}-main`]: { type: 'string' },
  };
}

/** Parses `argv` against `specs` (plus --help); throws UsageError naming the offending flag. */
export function parseFlags(argv: readonly string[], specs: FlagSpecs): FlagValues {
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: { ...specs, help: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    });
    return values as FlagValues;
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    // Node's messages quote the offending argument first: 'flag' or 'argument'.
    const named = /'([^']*)'/.exec(message)?.[1] ?? '?';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown flag ${named}`);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL')
      throw new UsageError(`unexpected argument ${named} (every setting is a --flag)`);
    // Missing or unwanted values: Node's own message names the flag and says how to fix it.
    throw new UsageError(message);
  }
}

/** An integer flag within [min, max], or `fallback` when absent. */
export function integerFlag(
  values: FlagValues,
  flag: string,
  bounds: { fallback: number; min: number; max: number },
): number {
  const raw = values[flag];
  if (raw === undefined) return bounds.fallback;
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= bounds.min && n <= bounds.max))
    throw new UsageError(`--${flag} must be an integer from ${bounds.min} to ${bounds.max}, got '${raw}'`);
  return n;
}

const WORKLOADS: readonly Workload[] = ['write', 'read', 'mixed'];

export function workloadFlag(values: FlagValues, fallback: Workload): Workload {
  const raw = values.workload ?? fallback;
  if (!WORKLOADS.includes(raw as Workload))
    throw new UsageError(`--workload must be one of ${WORKLOADS.join(', ')}, got '${raw}'`);
  return raw as Workload;
}

/** Splits a flag's value at white space (so a value cannot hold a path with spaces). */
const words = (raw: string | boolean | undefined): string[] | undefined =>
  typeof raw === 'string' ? raw.split(/\s+/).filter(Boolean) : undefined;

/** One side's KvStoreOptions from its --<side>-node-args, --<side>-flags and --<side>-main. */
export function sideOptions(values: FlagValues, side: 'a' | 'b'): KvStoreOptions {
  const nodeArgs = words(values[`${side}-node-args`]);
  const flags = words(values[`${side}-flags`]);
  const main = values[`${side}-main`];
  const options: KvStoreOptions = {};
  if (nodeArgs) options.nodeArgs = nodeArgs;
  if (flags) options.flags = flags;
  if (typeof main === 'string') {
    const mainJs = resolve(main);
    if (!existsSync(mainJs)) throw new UsageError(`--${side}-main: no such file: ${mainJs}`);
    options.mainJs = mainJs;
  }
  return options;
}

/** The flags given for one side, for the run's header ("defaults" when none). */
export function describeSide(options: KvStoreOptions): string {
  const parts = [
    ...(options.nodeArgs?.length ? [`node ${options.nodeArgs.join(' ')}`] : []),
    ...(options.mainJs ? [`main ${options.mainJs}`] : []),
    ...(options.flags?.length ? [`flags ${options.flags.join(' ')}`] : []),
  ];
  return parts.length ? parts.join('; ') : 'defaults';
}

/** Runs `parse` and returns its result; on bad flags prints them with `usage` and exits 2. */
export function parseOrExit<T>(tool: string, usage: string, argv: readonly string[], parse: () => T): T {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${tool}: ${error.message}\n\n${usage}\n`);
    process.exit(EXIT_USAGE);
  }
}
