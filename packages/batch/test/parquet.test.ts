// Parquet in and out of the engine: a Parquet input is cut into splits at row-group boundaries
// (row groups packed up to splitBytes), a job writes part-NNNNN.parquet with its own typed
// columns, and DuckDB reads that output. The clickstream sessionization runs Parquet to Parquet
// and equals DuckDB's window-function answer on the same file.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '@ddia/common/core';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planSplits } from '../src/core/splits.js';
import { listInputFiles } from '../src/inputs.js';
import { runLocal } from '../src/local-run.js';
import { BUILT, DIST_JOBS } from './support/batch-cluster.js';
import { Oracle, sessionsSql, sqlString } from './support/oracle.js';

const ROWS = 6_000;
const ROW_GROUP_ROWS = 500;
const GAP_S = 600;

let dir: string;
let oracle: Oracle;
let clicks: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ddia-batch-parquet-'));
  oracle = await Oracle.open();
  const random = new SeededRandom(5);
  // A clickstream: 40 users, bursts of clicks separated by idle stretches, in time order.
  const users: string[] = [];
  const ts: bigint[] = [];
  const urls: string[] = [];
  let now = 1_700_000_000;
  for (let i = 0; i < ROWS; i++) {
    now += random.chance(0.02) ? random.int(GAP_S, 5 * GAP_S) : random.int(0, 40);
    users.push(`user${random.int(0, 39)}`);
    ts.push(BigInt(now));
    urls.push(`/page/${random.int(0, 30)}`);
  }
  await mkdir(join(dir, 'clicks'));
  clicks = join(dir, 'clicks', 'clicks.parquet');
  const bytes = parquetWriteBuffer({
    columnData: [
      { name: 'user_id', data: users, type: 'STRING' },
      { name: 'ts', data: ts, type: 'INT64' },
      { name: 'url', data: urls, type: 'STRING' },
    ],
    rowGroupSize: ROW_GROUP_ROWS,
  });
  await writeFile(clicks, new Uint8Array(bytes));
});

afterAll(async () => {
  oracle?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Parquet input splits', () => {
  it('are cut at row-group boundaries, packed up to splitBytes', async () => {
    const files = await listInputFiles([{ path: clicks }]);
    expect(files[0]!.format).toBe('parquet');
    expect(files[0]!.rowGroups!.length).toBe(ROWS / ROW_GROUP_ROWS);
    const one = planSplits(files, 1);
    expect(one.length).toBe(ROWS / ROW_GROUP_ROWS);
    expect(one.map((s) => [s.start, s.end])).toEqual(
      Array.from({ length: ROWS / ROW_GROUP_ROWS }, (_, i) => [i * ROW_GROUP_ROWS, (i + 1) * ROW_GROUP_ROWS]),
    );
    const groupBytes = files[0]!.rowGroups![0]!.bytes;
    const packed = planSplits(files, 3 * groupBytes);
    expect(packed.length).toBeGreaterThanOrEqual(3);
    expect(packed.length).toBeLessThan(one.length);
    for (const split of packed) expect(split.start % ROW_GROUP_ROWS).toBe(0);
    expect(packed[packed.length - 1]!.end).toBe(ROWS);
    expect(planSplits(files, 1024 ** 3).map((s) => [s.start, s.end])).toEqual([[0, ROWS]]);
  });

  it('a file that is not Parquet is refused as bad input', async () => {
    await writeFile(join(dir, 'fake.parquet'), 'not parquet at all');
    await expect(listInputFiles([{ path: join(dir, 'fake.parquet') }])).rejects.toMatchObject({
      code: 'DDIA_ERR_BATCH_INPUT',
    });
  });
});

describe.skipIf(!BUILT)('sessionization, Parquet to Parquet, equals DuckDB window functions', () => {
  it('one map task per row group; sessions equal the window query; output typed for DuckDB', async () => {
    const output = join(dir, 'sessions');
    const report = await runLocal({
      job: join(DIST_JOBS, 'sessionize.js'),
      inputs: [{ path: join(dir, 'clicks') }],
      output,
      reduces: 3,
      splitBytes: 1,
      spillBytes: 4096,
      params: { gap: String(GAP_S) },
      outputFormat: 'parquet',
    });
    expect(report.maps).toBe(ROWS / ROW_GROUP_ROWS);
    expect(report.counters.mapInputRecords).toBe(ROWS);
    expect(report.counters.spills).toBeGreaterThan(0);
    expect(report.counters.mapOutputRecords).toBe(ROWS); // one (user, click) pair per row
    for (const phase of ['mapReadMs', 'mapRecordsMs', 'mapSpillMs', 'mapOutputMs', 'reduceMs'])
      expect(report.counters[phase], phase).toBeGreaterThanOrEqual(0);
    const parts = sqlString(join(output, 'part-*.parquet'));
    const types = await oracle.rows(
      `SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(${parts}))`,
    );
    expect(types.map((t) => `${t.column_name} ${t.column_type}`)).toEqual([
      'user_id VARCHAR',
      'session BIGINT',
      'first_ts BIGINT',
      'last_ts BIGINT',
      'clicks BIGINT',
      'landing_url VARCHAR',
    ]);
    const got = await oracle.rows(
      `SELECT user_id, session::INTEGER AS session, first_ts::INTEGER AS first, last_ts::INTEGER AS last, clicks::INTEGER AS clicks, landing_url AS landing FROM read_parquet(${parts}) ORDER BY ALL`,
    );
    const expected = await oracle.rows(
      `SELECT * FROM (${sessionsSql(`read_parquet(${sqlString(clicks)})`, GAP_S)}) ORDER BY ALL`,
    );
    expect(expected.length).toBeGreaterThan(40);
    expect(got).toEqual(expected);
    // The gap matters: a session never spans more than a gap of idle time, so more sessions than users.
    const sessions = await oracle.rows(
      `SELECT count(*)::INTEGER AS n, sum(clicks)::INTEGER AS c FROM read_parquet(${parts})`,
    );
    expect(sessions[0]).toEqual({ n: expected.length, c: ROWS });
  });
});
