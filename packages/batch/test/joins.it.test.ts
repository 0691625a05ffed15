// The three joins of DDIA ch. 10 on Figure 10-2's data (activity events joined with the user
// database), each run on real coordinator and worker processes and compared, row for row, with
// DuckDB's SQL join of the same files. The events are skewed: one user has a third of them.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '@ddia/common/core';
import { type Cluster, longRun } from '@ddia/testkit';
import { DuckDBInstance } from '@duckdb/node-api';
import fc from 'fast-check';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPartition } from '../src/core/partition.js';
import { generateRaw } from '../src/etl/generate.js';
import { runEtl } from '../src/etl/pipeline.js';
import { api, BUILT, readOutput, runJob, startBatchCluster } from './support/batch-cluster.js';
import { csvText, readCsv } from './support/oracle.js';

const USERS = 150;
const EVENTS = 4_000;
const HOT_USER = 'u7';
const PARTITIONS = 3;

let cluster: Cluster;
let base: string;
let dir: string;
let expected: string[];

interface User {
  user_id: string;
  name: string;
  date_of_birth: string;
}
interface Event {
  user_id: string;
  url: string;
  ts: number;
}

function generate(seed: number): { users: User[]; events: Event[] } {
  const random = new SeededRandom(seed);
  const users: User[] = Array.from({ length: USERS }, (_, i) => ({
    user_id: `u${i}`,
    name: `"Name, ${i}"`,
    date_of_birth: `19${random.int(40, 99)}-0${random.int(1, 9)}-1${random.int(0, 9)}`,
  }));
  const events: Event[] = Array.from({ length: EVENTS }, (_, i) => ({
    // A third of the events belong to one hot user; a few to users that do not exist.
    user_id: random.chance(0.33) ? HOT_USER : `u${random.int(0, USERS + 10)}`,
    url: `/page/${random.int(1, 50)}`,
    ts: 1_700_000_000 + i,
  }));
  return { users, events };
}

const csv = (users: User[]) =>
  `user_id,name,date_of_birth\n${users.map((u) => `${u.user_id},${u.name},${u.date_of_birth}`).join('\n')}\n`;
const jsonl = (events: Event[]) => `${events.map((e) => JSON.stringify(e)).join('\n')}\n`;

beforeAll(async () => {
  if (!BUILT) return;
  dir = await mkdtemp(join(tmpdir(), 'ddia-batch-joins-'));
  const { users, events } = generate(7);
  await mkdir(join(dir, 'users'));
  await mkdir(join(dir, 'events'));
  await writeFile(join(dir, 'users', 'users.csv'), csv(users));
  await writeFile(join(dir, 'events', 'events.jsonl'), jsonl(events));
  // The same data partitioned alike, for the partitioned hash join.
  await mkdir(join(dir, 'users-parts'));
  await mkdir(join(dir, 'events-parts'));
  for (let p = 0; p < PARTITIONS; p++) {
    const name = `part-${String(p).padStart(5, '0')}`;
    await writeFile(
      join(dir, 'users-parts', `${name}.csv`),
      csv(users.filter((u) => hashPartition(u.user_id, PARTITIONS) === p)),
    );
    await writeFile(
      join(dir, 'events-parts', `${name}.jsonl`),
      jsonl(events.filter((e) => hashPartition(e.user_id, PARTITIONS) === p)),
    );
  }
  // The oracle: DuckDB's join of the same files.
  const duck = await DuckDBInstance.create(':memory:');
  const connection = await duck.connect();
  const reader = await connection.runAndReadAll(
    `SELECT e.user_id, e.url, CAST(e.ts AS VARCHAR) AS ts, u.date_of_birth
       FROM read_json_auto('${join(dir, 'events', 'events.jsonl')}') e
       JOIN read_csv('${join(dir, 'users', 'users.csv')}', header = true, all_varchar = true) u
         ON e.user_id = u.user_id`,
  );
  expected = (reader.getRowObjectsJson() as Record<string, string>[])
    .map((r) => `${r.user_id}\t${JSON.stringify([r.url, r.ts, r.date_of_birth])}`)
    .sort();
  connection.closeSync();
  duck.closeSync();
  cluster = await startBatchCluster({ workers: 2, slots: 1, leaseMs: 20_000 });
  base = cluster.node('coord').url;
}, 120_000);

afterAll(async () => {
  await cluster?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!BUILT)('joins (Figure 10-2) equal DuckDB', () => {
  it('the oracle has rows, the hot user among them, and drops events of unknown users', () => {
    expect(expected.length).toBeGreaterThan(EVENTS / 2);
    expect(expected.length).toBeLessThan(EVENTS);
    expect(expected.filter((l) => l.startsWith(`${HOT_USER}\t`)).length).toBeGreaterThan(EVENTS / 4);
  });

  it('sort-merge (reduce-side) join', async () => {
    const output = join(dir, 'smj');
    const job = await runJob(base, {
      job: 'join-sort-merge',
      inputs: [
        { path: join(dir, 'users'), name: 'users' },
        { path: join(dir, 'events'), name: 'events' },
      ],
      output,
      reduces: 4,
      splitBytes: 32 * 1024,
    });
    expect(job.error).toBeNull();
    expect((await readOutput(output)).lines.sort()).toEqual(expected);
  });

  it('sort-merge join with the hot key spread over reducers', async () => {
    const output = join(dir, 'smj-skew');
    const job = await runJob(base, {
      job: 'join-sort-merge',
      inputs: [
        { path: join(dir, 'users'), name: 'users' },
        { path: join(dir, 'events'), name: 'events' },
      ],
      output,
      reduces: 4,
      splitBytes: 32 * 1024,
      params: { hotKeys: HOT_USER, fanout: '4' },
    });
    expect(job.error).toBeNull();
    expect((await readOutput(output)).lines.sort()).toEqual(expected);
    // Without the skew handling the hot user's rows all sit in one part file; with it, in several.
    const partsWithHot = async (out: string) => {
      const { readFile, readdir } = await import('node:fs/promises');
      let count = 0;
      for (const f of (await readdir(out)).filter((n) => n.startsWith('part-'))) {
        if ((await readFile(join(out, f), 'utf8')).includes(`${HOT_USER}\t`)) count++;
      }
      return count;
    };
    expect(await partsWithHot(join(dir, 'smj'))).toBe(1);
    expect(await partsWithHot(output)).toBeGreaterThan(1);
  });

  it('broadcast hash join', async () => {
    const output = join(dir, 'bhj');
    const job = await runJob(base, {
      job: 'join-broadcast',
      inputs: [{ path: join(dir, 'events'), name: 'events' }],
      output,
      reduces: 2,
      splitBytes: 32 * 1024,
      params: { users: join(dir, 'users', 'users.csv') },
    });
    expect(job.error).toBeNull();
    expect((await readOutput(output)).lines.sort()).toEqual(expected);
  });

  it('partitioned hash join', async () => {
    const output = join(dir, 'phj');
    const job = await runJob(base, {
      job: 'join-partitioned',
      inputs: [{ path: join(dir, 'events-parts'), name: 'events' }],
      output,
      reduces: 2,
      splitBytes: 1024 ** 3,
      params: { users: join(dir, 'users-parts') },
    });
    expect(job.error).toBeNull();
    expect(job.counters.mapTasks).toBe(PARTITIONS);
    expect((await readOutput(output)).lines.sort()).toEqual(expected);
  });

  it('POST /sql runs DuckDB over the ETL Parquet tree; bad SQL is a 400', async () => {
    const raw = join(dir, 'etl-raw');
    const warehouse = join(dir, 'warehouse');
    await generateRaw(raw, 3, 2);
    const report = await runEtl(raw, warehouse);
    const query = `SELECT count(*)::INTEGER AS n, round(sum(amount), 2) AS total FROM read_parquet('${warehouse}/orders/*/*.parquet', hive_partitioning = true)`;
    const answer = await api(base, '/sql', { sql: query });
    expect(answer.status).toBe(200);
    expect(answer.json.columns).toEqual(['n', 'total']);
    expect(answer.json.rows[0].n).toBe(report.rowsOut);
    const byDay = await api(base, '/sql', {
      sql: `SELECT CAST(date AS VARCHAR) AS date, sum(orders)::INTEGER AS orders FROM read_parquet('${warehouse}/daily_revenue/*/*.parquet', hive_partitioning = true) GROUP BY 1 ORDER BY 1`,
    });
    expect(byDay.json.rows.map((r: { date: string }) => r.date)).toEqual(['2026-03-01', '2026-03-02']);
    expect(byDay.json.rows.reduce((sum: number, r: { orders: number }) => sum + r.orders, 0)).toBe(
      report.rowsOut,
    );
    const bad = await api(base, '/sql', { sql: 'SELEC nonsense' });
    expect(bad.status).toBe(400);
    expect(bad.json.code).toBe('DDIA_ERR_BATCH_SQL');
    expect((await api(base, '/health')).status).toBe(200);
  });

  it('Parquet in (split by row groups) and Parquet out on workers; POST /sql reads the output', async () => {
    const random = new SeededRandom(3);
    const rows = 4_000;
    const keys = Array.from({ length: rows }, () => `k${random.int(0, 60)}`);
    const amounts = Array.from({ length: rows }, () => BigInt(random.int(-500, 5_000)));
    await mkdir(join(dir, 'pq-in'));
    const input = join(dir, 'pq-in', 'sales.parquet');
    await writeFile(
      input,
      new Uint8Array(
        parquetWriteBuffer({
          columnData: [
            { name: 'key', data: keys, type: 'STRING' },
            { name: 'amount', data: amounts, type: 'INT64' },
          ],
          rowGroupSize: 400,
        }),
      ),
    );
    const output = join(dir, 'pq-out');
    const job = await runJob(base, {
      job: 'aggregate',
      inputs: [{ path: join(dir, 'pq-in') }],
      output,
      reduces: 3,
      splitBytes: 1024,
      outputFormat: 'parquet',
    });
    expect(job.error).toBeNull();
    expect(job.counters.mapTasks).toBeGreaterThan(1);
    expect(job.counters.mapInputRecords).toBe(rows);
    const got = await api(base, '/sql', {
      sql: `SELECT key, count::INTEGER AS n, sum::INTEGER AS s FROM read_parquet('${output}/part-*.parquet') ORDER BY key`,
    });
    const want = await api(base, '/sql', {
      sql: `SELECT key, count(*)::INTEGER AS n, sum(amount)::INTEGER AS s FROM read_parquet('${input}') GROUP BY key ORDER BY key`,
    });
    expect(got.status).toBe(200);
    expect(got.json.rows.length).toBeGreaterThan(50);
    expect(got.json.rows).toEqual(want.json.rows);
  });

  it('a bad value in a Parquet row fails the job naming the file and row', async () => {
    const amounts = Array.from({ length: 2_000 }, (_, i) => (i === 1_234 ? 'twelve' : String(i)));
    await mkdir(join(dir, 'pq-bad'));
    const input = join(dir, 'pq-bad', 'bad.parquet');
    await writeFile(
      input,
      new Uint8Array(
        parquetWriteBuffer({
          columnData: [
            { name: 'key', data: amounts.map(() => 'k'), type: 'STRING' },
            { name: 'amount', data: amounts, type: 'STRING' },
          ],
          rowGroupSize: 500,
        }),
      ),
    );
    const job = await runJob(base, {
      job: 'aggregate',
      inputs: [{ path: join(dir, 'pq-bad') }],
      output: join(dir, 'pq-bad-out'),
      reduces: 1,
      splitBytes: 1024,
    });
    expect(job.status).toBe('failed');
    expect(job.error).toContain(`${input} row 1234`);
    expect(job.error).toContain("'twelve' is not an integer");
  });

  it('property, on real processes: the aggregate equals DuckDB for generated CSVs', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('a', 'b,c', 'd "e"', ' f', 'ü'), fc.integer({ min: -9, max: 9 })), {
          minLength: 1,
          maxLength: 400,
          size: 'max',
        }),
        fc.integer({ min: 1, max: 4 }),
        async (rows, reduces) => {
          const at = join(dir, `prop-${n++}`);
          await mkdir(at);
          const csv = join(at, 'rows.csv');
          await writeFile(csv, csvText(['key', 'amount'], rows));
          const output = join(at, 'out');
          const job = await runJob(base, {
            job: 'aggregate',
            inputs: [{ path: csv }],
            output,
            reduces,
            splitBytes: 1024,
          });
          expect(job.error).toBeNull();
          const want = await api(base, '/sql', {
            sql: `SELECT key, count(*)::VARCHAR || ',' || sum(amount::BIGINT)::VARCHAR AS v FROM ${readCsv(csv, ['key', 'amount'])} GROUP BY key`,
          });
          expect((await readOutput(output)).lines.sort()).toEqual(
            want.json.rows.map((r: { key: string; v: string }) => `${r.key}\t${r.v}`).sort(),
          );
        },
      ),
      // Each run is a job on the cluster: two in CI, twenty with DDIA_LONG=1.
      { numRuns: longRun() ? 20 : 2 },
    );
  });

  it('sampled hot keys on workers: the hot reducer task gets far fewer records, the rows are the same', async () => {
    const inputs = [
      { path: join(dir, 'users'), name: 'users' },
      { path: join(dir, 'events'), name: 'events' },
    ];
    const submission = { job: 'join-sort-merge', inputs, reduces: 4, splitBytes: 32 * 1024 };
    const plain = await runJob(base, { ...submission, output: join(dir, 'smj-plain') });
    const sampled = await runJob(base, {
      ...submission,
      output: join(dir, 'smj-sampled'),
      params: { skew: 'sample' },
    });
    expect(sampled.error).toBeNull();
    expect(Object.keys(sampled.hotKeys)).toEqual([HOT_USER]);
    const loads = (job: { tasks: { kind: string; counters: { reduceInputRecords: number } }[] }) =>
      job.tasks.filter((t) => t.kind === 'reduce').map((t) => t.counters.reduceInputRecords);
    const total = loads(plain).reduce((a, b) => a + b, 0);
    expect(Math.max(...loads(plain))).toBeGreaterThan(0.4 * total);
    expect(Math.max(...loads(sampled))).toBeLessThan(0.75 * Math.max(...loads(plain)));
    expect((await readOutput(join(dir, 'smj-sampled'))).lines.sort()).toEqual(expected);
    const page = await (await fetch(`${base}/jobs/${sampled.id}/page`)).text();
    expect(page).toContain('Sampled hot keys');
    expect(page).toContain(`<td>${HOT_USER}</td>`);
    expect(page).toContain('load per reducer');
  });
});
