// A standalone runner for the experiments, the same as `ddia geo list|run`:
//   node packages/geo/dist/main.js list
//   node packages/geo/dist/main.js run <name> --out DIR [--seed N] [--profile P] [--regions us,eu,ap] [--quick]
// Exit codes: 0 done, 1 the experiment failed, 2 bad arguments.
import { ExperimentUsageError, listExperiments, runExperiment } from './experiments/index.js';

function usage(message?: string): never {
  if (message) process.stderr.write(`${message}\n`);
  process.stderr.write(
    'usage: main.js list\n       main.js run <name> --out DIR [--seed N] [--profile P] [--regions a,b,c] [--quick]\n',
  );
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'list') {
    for (const e of listExperiments()) process.stdout.write(`${e.name.padEnd(22)} ${e.description}\n`);
    return;
  }
  if (command !== 'run') usage(command ? `unknown command '${command}'` : undefined);
  const name = rest.shift();
  if (!name || name.startsWith('--')) usage('run needs an experiment name');
  const flags: Record<string, string | true> = {};
  while (rest.length > 0) {
    const flag = rest.shift()!;
    if (flag === '--quick') {
      flags.quick = true;
      continue;
    }
    if (!['--out', '--seed', '--profile', '--regions'].includes(flag)) usage(`unknown flag ${flag}`);
    const value = rest.shift();
    if (value === undefined) usage(`${flag} needs a value`);
    flags[flag.slice(2)] = value;
  }
  if (typeof flags.out !== 'string') usage('--out DIR is required');
  const seed = flags.seed === undefined ? 1 : Number(flags.seed);
  let last = '';
  const tty = process.stderr.isTTY;
  try {
    const result = await runExperiment(name, {
      out: flags.out,
      seed,
      ...(typeof flags.profile === 'string' ? { profile: flags.profile } : {}),
      ...(typeof flags.regions === 'string' ? { regions: flags.regions } : {}),
      quick: flags.quick === true,
      onProgress: ({ fraction, message }) => {
        const line = `[${name}] ${(fraction * 100).toFixed(0).padStart(3)}% ${message}`;
        if (line === last) return;
        last = line;
        process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
      },
    });
    if (tty) process.stderr.write('\n');
    process.stdout.write(`${result.reportPath}\n`);
  } catch (err) {
    if (tty) process.stderr.write('\n');
    if (err instanceof ExperimentUsageError) usage(err.message);
    throw err;
  }
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
