// `pnpm --filter @ddia/batch etl [--dir DIR] [--seed N] [--batches N] [--more]
//   [--brokers HOST:PORT --topic NAME]`: generates raw order files (seeded, with dirty rows),
// pulls the orders that arrived on a topic of the streaming broker since the last run into
// raw files (src/etl/stream-source.ts), and applies every file not yet applied, printing what
// it did and how to query the result with DuckDB through the coordinator's POST /sql.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { listNames } from '../disk.js';
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
    },
    strict: true,
  }));
} catch (err) {
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exit(2);
}
const dir = values.dir ?? join(tmpdir(), 'ddia-etl');
const seed = Number(values.seed ?? 1);
const batches = Number(values.batches ?? 3);
if (!Number.isInteger(seed) || !Number.isInteger(batches) || batches < 1) {
  process.stderr.write('error: --seed and --batches take integers (batches >= 1)\n');
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
