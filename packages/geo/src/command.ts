// `ddia geo list` and `ddia geo run <name> --out DIR [--seed N] [--profile P] [--regions a,b,c]
// [--quick]`: the experiments of this package from the command line (main.ts runs the same).
// Exit codes: 0 done, 1 the experiment failed, 2 bad arguments.
import { parseArgs } from 'node:util';
import { type CommandOutput, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '@ddia/common';
import { ExperimentUsageError, listExperiments, runExperiment } from './experiments/index.js';

export const GEO_USAGE =
  'ddia geo list | ddia geo run <experiment> --out DIR [--seed N] [--profile wan|lnkd-ssd|lnkd-disk|ymmr|FILE.json] [--regions a,b,c] [--quick]';

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
