// pnpm --filter @ddia/testkit bench [--quick] [--transactions N]
// The Elle-style transaction checker on seeded list-append and rw-register histories: generation
// time, check time (without and with real-time edges), micro-operations per second and peak
// memory. The default is Elle's scale, 1,000,000 transactions; --quick (CI's smoke run) checks 20,000.
// Beside the wall-clock of each check, its CPU seconds (process.cpuUsage around the check):
// on a machine others load, wall-clock measures the neighbours, CPU time the checker.

import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { checkTransactions, generateTransactionHistory } from '../src/index.js';

const { values } = parseArgs({
  options: { quick: { type: 'boolean' }, transactions: { type: 'string' } },
});
const transactions = Number(values.transactions ?? (values.quick === true ? 20_000 : 1_000_000));
if (!Number.isInteger(transactions) || transactions <= 0) {
  console.error(`--transactions must be a positive integer, got ${values.transactions}`);
  process.exit(2);
}

console.log(
  '| workload | transactions | micro-ops | real time | generate s | check s | check CPU s | micro-ops/s | found | RSS MB | load |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const workload of ['list-append', 'rw-register'] as const) {
  const startMs = performance.now();
  const g = generateTransactionHistory({ seed: 1, transactions, workload, anomaly: 'G2-item' });
  const generatedMs = performance.now() - startMs;
  for (const realtime of [false, true]) {
    const checkStartMs = performance.now();
    const cpuBefore = process.cpuUsage();
    const result = checkTransactions(g.transactions, { workload, realtime });
    const cpu = process.cpuUsage(cpuBefore);
    const checkMs = performance.now() - checkStartMs;
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const found = result.anomalyTypes.join('+') || 'none';
    console.log(
      `| ${workload} | ${transactions} | ${g.microOps} | ${realtime ? 'yes' : 'no'} | ${(generatedMs / 1000).toFixed(1)} | ${(checkMs / 1000).toFixed(1)} | ${cpuSeconds.toFixed(1)} | ${Math.round(g.microOps / (checkMs / 1000))} | ${found} | ${Math.round(process.memoryUsage().rss / 1e6)} | ${loadavg()[0].toFixed(1)} |`,
    );
  }
}
