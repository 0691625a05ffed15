// pnpm --filter @ddia/testkit bench [--quick]
// Both of testkit's checker benches in one run: the Elle-style transaction checker
// (transactions.ts) and the linearizability checker side by side with Porcupine (porcupine.ts;
// with --quick only its smoke set, a couple of histories, our side only when Go or Porcupine's
// source is absent, saying why). Arguments go to both.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
// --transactions N is the transaction bench's; every other argument is the Porcupine bench's.
const at = args.indexOf('--transactions');
const transactionArgs = [...(quick ? ['--quick'] : []), ...(at >= 0 ? args.slice(at, at + 2) : [])];
const porcupineArgs = at >= 0 ? [...args.slice(0, at), ...args.slice(at + 2)] : args;
let failed = false;
for (const [script, extra] of [
  ['transactions.ts', transactionArgs],
  ['porcupine.ts', [...porcupineArgs, ...(quick ? ['--smoke'] : [])]],
] as const) {
  console.log(`\n## ${script}\n`);
  const run = spawnSync(
    process.execPath,
    [
      '--max-old-space-size=4096',
      '--import',
      'tsx',
      fileURLToPath(new URL(script, import.meta.url)),
      ...extra,
    ],
    { stdio: 'inherit' },
  );
  if (run.status !== 0) failed = true;
}
if (failed) process.exitCode = 1;
