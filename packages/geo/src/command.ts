// `ddia geo list` and `ddia geo run <name> --out DIR [--seed N] [--profile P] [--regions a,b,c]
// [--quick]`: the experiments of this package from the command line (main.ts runs the same).
// Exit codes: 0 done, 1 the experiment failed, 2 bad arguments.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type CommandOutput, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '@ddia/common';
import { GEO_COMPOSE_FILE, geoComposeIsCurrent, geoComposeYaml } from './compose.js';
import { type LatencyMatrix, parseRegions, wanMatrix } from './core/latency-matrix.js';
import { ExperimentUsageError, listExperiments, runExperiment } from './experiments/index.js';

export const GEO_USAGE =
  'ddia geo list | ddia geo run <experiment> --out DIR [--seed N] [--profile wan|lnkd-ssd|lnkd-disk|ymmr|FILE.json] [--regions a,b,c] [--quick] | ddia geo compose [--check] [--file F] [--regions a,b,c]';

/** docker-compose.geo.yml at the repository root (dist/command.js -> ../../../). */
export const GEO_COMPOSE_PATH = fileURLToPath(new URL(`../../../${GEO_COMPOSE_FILE}`, import.meta.url));

/** `compose`: writes docker-compose.geo.yml for the regions, or with --check says whether it is current. */
function composeCommand(args: string[], io: CommandOutput, usage: (problem: string) => number): number {
  let values: { check?: boolean; file?: string; regions?: string };
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: { check: { type: 'boolean' }, file: { type: 'string' }, regions: { type: 'string' } },
    }));
  } catch (err) {
    return usage((err as Error).message.replace(/\. To specify .*$/s, ''));
  }
  let matrix: LatencyMatrix;
  try {
    matrix = wanMatrix(parseRegions(values.regions ?? 'us,eu,ap'));
  } catch (err) {
    return usage((err as Error).message);
  }
  const file = values.file ?? GEO_COMPOSE_PATH;
  if (values.check) {
    if (geoComposeIsCurrent(file, matrix)) {
      io.out(`${file} is current`);
      return EXIT_OK;
    }
    io.err(`${file} is stale or missing: run \`node packages/geo/dist/main.js compose\``);
    return EXIT_FAILED;
  }
  writeFileSync(file, geoComposeYaml(matrix));
  io.out(file);
  return EXIT_OK;
}

export async function runGeoCommand(args: string[], io: CommandOutput): Promise<number> {
  const usage = (problem: string) => {
    io.err(`${problem}\nusage: ${GEO_USAGE}`);
    return EXIT_USAGE;
  };
  const [command, ...rest] = args;
  if (command === 'list') {
    if (rest.length > 0) return usage(`list takes no arguments, got '${rest.join(' ')}'`);
    for (const e of listExperiments()) io.out(`${e.name.padEnd(22)} ${e.description}`);
    return EXIT_OK;
  }
  if (command === 'compose') return composeCommand(rest, io, usage);
  if (command !== 'run') return usage(command ? `unknown geo command '${command}'` : 'name a geo command');
  let parsed: ReturnType<typeof parseRun>;
  try {
    parsed = parseRun(rest);
  } catch (err) {
    return usage((err as Error).message.replace(/\. To specify .*$/s, ''));
  }
  const { name, values } = parsed;
  if (!name) return usage('run needs an experiment name (`ddia geo list` names them)');
  if (typeof values.out !== 'string') return usage('--out DIR is required');
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (!Number.isSafeInteger(seed)) return usage(`--seed: expected a whole number, got '${values.seed}'`);
  const tty = io.stderr === process.stderr && process.stderr.isTTY === true;
  let last = '';
  try {
    const result = await runExperiment(name, {
      out: values.out,
      seed,
      ...(values.profile !== undefined ? { profile: values.profile } : {}),
      ...(values.regions !== undefined ? { regions: values.regions } : {}),
      quick: values.quick === true,
      onProgress: ({ fraction, message }) => {
        const line = `[${name}] ${(fraction * 100).toFixed(0).padStart(3)}% ${message}`;
        if (line === last) return;
        last = line;
        io.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
      },
    });
    if (tty) io.stderr.write('\n');
    io.out(result.reportPath);
    return EXIT_OK;
  } catch (err) {
    if (tty) io.stderr.write('\n');
    if (err instanceof ExperimentUsageError) return usage(err.message);
    io.err(`geo run ${name} failed: ${(err as Error).message}`);
    return EXIT_FAILED;
  }
}

function parseRun(args: string[]) {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      out: { type: 'string' },
      seed: { type: 'string' },
      profile: { type: 'string' },
      regions: { type: 'string' },
      quick: { type: 'boolean' },
    },
  });
  if (positionals.length > 1) throw new Error(`one experiment at a time, got '${positionals.join(' ')}'`);
  return { name: positionals[0], values };
}
