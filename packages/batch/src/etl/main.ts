// `pnpm --filter @ddia/batch etl [--dir DIR] [--seed N] [--batches N] [--more]
//   [--brokers HOST:PORT --topic NAME [--follow [--every SECONDS]]]`: generates raw order files
// (seeded, with dirty rows), pulls the orders that arrived on a topic of the streaming broker
// since the last run into raw files (src/etl/stream-source.ts), and applies every file not yet
// applied, printing what it did and how to query the result with DuckDB through the
// coordinator's POST /sql. With --follow it then keeps consuming the topic, applying what
// arrives as a micro-batch every SECONDS (default 5; src/etl/follow.ts) until SIGINT/SIGTERM.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { listNames } from '../disk.js';
import { followTopic } from './follow.js';
import { generateRaw } from './generate.js';
import { runEtl } from './pipeline.js';
import { pullTopic } from './stream-source.js';

let values: {
  dir?: string;
  seed?: string;
  batches?: string;
  more?: boolean;
  brokers?: string;
  topic?: string;
  follow?: boolean;
  every?: string;
};
try {
  ({ values } = parseArgs({
    options: {
      dir: { type: 'string' },
      seed: { type: 'string' },
      batches: { type: 'string' },
      more: { type: 'boolean' },
      brokers: { type: 'string' },
      topic: { type: 'string' },
      follow: { type: 'boolean' },
      every: { type: 'string' },
    },
    strict: true,
  }));
} catch (err) {
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exit(2);
}
/** Seconds between the pulls of --follow, unless --every says otherwise. */
const FOLLOW_EVERY_S_DEFAULT = 5;
const FOLLOW_EVERY_S_MAX = 24 * 3600;
const dir = values.dir ?? join(tmpdir(), 'ddia-etl');
const seed = Number(values.seed ?? 1);
const batches = Number(values.batches ?? 3);
if (!Number.isInteger(seed) || !Number.isInteger(batches) || batches < 1) {
  process.stderr.write('error: --seed and --batches take integers (batches >= 1)\n');
  process.exit(2);
}
const everySeconds = Number(values.every ?? FOLLOW_EVERY_S_DEFAULT);
if (!(everySeconds > 0 && everySeconds <= FOLLOW_EVERY_S_MAX)) {
  process.stderr.write(`error: --every takes seconds in (0, ${FOLLOW_EVERY_S_MAX}]\n`);
  process.exit(2);
}
if ((values.follow || values.every !== undefined) && !(values.brokers && values.topic)) {
  process.stderr.write('error: --follow and --every need --brokers and --topic\n');
  process.exit(2);
}
const rawDir = join(dir, 'raw');
const outDir = join(dir, 'warehouse');
const existing = (await listNames(rawDir)).filter((n) => /^orders-\d+\.csv$/.test(n)).length;
if (existing === 0) await generateRaw(rawDir, seed, batches);
else if (values.more) await generateRaw(rawDir, seed, 1, existing + 1);
if ((values.brokers === undefined) !== (values.topic === undefined)) {
  process.stderr.write('error: --brokers and --topic go together\n');
  process.exit(2);
}
const pulled =
  values.brokers && values.topic
    ? await pullTopic(values.brokers.split(','), values.topic, rawDir).catch((err: Error) => {
        process.stderr.write(`error: pulling topic ${values.topic}: ${err.message}\n`);
        process.exit(1);
      })
    : [];
const report = await runEtl(rawDir, outDir);
process.stdout.write(`${JSON.stringify({ rawDir, outDir, pulled, ...report }, null, 2)}\n`);
process.stdout.write(
  `\nQuery it (coordinator running on 7601):\n  curl -s localhost:7601/sql -H 'content-type: application/json' \\\n` +
    `    -d '{"sql":"SELECT date, country, revenue FROM read_parquet(''${outDir}/daily_revenue/*/*.parquet'', hive_partitioning = true) ORDER BY date, country"}'\n`,
);
if (values.follow) {
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
  process.stdout.write(`\nfollowing topic ${values.topic} every ${everySeconds} s (Ctrl-C stops)\n`);
  const batches = await followTopic({
    brokers: values.brokers!.split(','),
    topic: values.topic!,
    rawDir,
    outDir,
    everyMs: everySeconds * 1000,
    signal: stop.signal,
    onBatch: ({ pulled, report }) =>
      process.stdout.write(
        `${JSON.stringify({ at: new Date().toISOString(), pulled, applied: report.applied, rowsIn: report.rowsIn, rowsOut: report.rowsOut, rejected: report.rejected, touchedDates: report.touchedDates })}\n`,
      ),
    onError: (err) =>
      process.stderr.write(`error: micro-batch from ${values.topic}: ${err.message} (retrying)\n`),
  });
  process.stdout.write(`stopped after ${batches} micro-batch(es)\n`);
}
