// Election time after a leader crash, in simulation, for the election-timeout ranges of the
// Raft paper's Figure 16. Run: `pnpm --filter @ddia/raft bench` (or with --quick).
// Writes bench/results/election-times.json and prints a markdown table.
import { mkdirSync, writeFileSync } from 'node:fs';
import { measureElectionTimes } from '../src/index.js';

const quick = process.argv.includes('--quick');
const trials = quick ? 50 : 1000;
const ranges: [number, number][] = [
  [150, 150],
  [150, 151],
  [150, 155],
  [150, 175],
  [150, 200],
  [150, 300],
  [12, 24],
];

const rows = ranges.map(([lo, hi]) => {
  const started = performance.now();
  const r = measureElectionTimes({
    timeoutMinMs: lo,
    timeoutMaxMs: hi,
    trials,
    seed: lo * 1000 + hi,
    // The paper's 12-24 ms runs assume a fast network and heartbeats well inside the timeout.
    heartbeatMs: lo < 50 ? 5 : 50,
    delayMinMs: lo < 50 ? 1 : 5,
    delayMaxMs: lo < 50 ? 3 : 15,
  });
  const { samplesMs: _samples, ...summary } = r;
  return { ...summary, wallMs: Math.round(performance.now() - started) };
});

const table = [
  '| election timeout | trials | median | p95 | max | no leader within 10 s |',
  '|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.timeoutMinMs}-${r.timeoutMaxMs} ms | ${r.trials} | ${r.medianMs} ms | ${r.p95Ms} ms | ${r.maxMs} ms | ${r.gaveUp} |`,
  ),
].join('\n');
console.log(table);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL(`./results/election-times${quick ? '-quick' : ''}.json`, import.meta.url),
  `${JSON.stringify({ quick, trials, rows, simulated: true }, null, 2)}\n`,
);
