// DuckDB as the oracle, with generated inputs (fast-check): for random small tables the
// engine's output equals the same question asked of DuckDB in SQL. The jobs run through the
// local runner (src/local-run.ts: the engine's own map and reduce task code in one process)
// with tiny, random split and spill sizes, so each input is cut into many splits, spilled many
// times, combined and merged, over 1 to 5 reducers. joins.it.test.ts runs some of the same
// properties on real worker processes.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLocal } from '../src/local-run.js';
import { BUILT, DIST_JOBS, readOutput } from './support/batch-cluster.js';
import { csvText, Oracle, readCsv, sessionsSql, sqlString } from './support/oracle.js';

const RUNS = Number(process.env.DDIA_RUNS ?? 15);

let oracle: Oracle;
let dir: string;
let case_ = 0;

beforeAll(async () => {
  oracle = await Oracle.open();
  dir = await mkdtemp(join(tmpdir(), 'ddia-batch-oracle-'));
});

afterAll(async () => {
  oracle?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A fresh directory per generated case. */
async function caseDir(): Promise<string> {
  const path = join(dir, `c${case_++}`);
  await mkdir(path);
  return path;
}

/** Keys that trip parsers: commas, quotes, outer spaces, non-ASCII, SQL-looking words. */
const trickyKey = fc.oneof(
  fc.constantFrom('a', 'A', 'a,b', 'say "hi"', ' pad ', 'é', '日本', 'NULL', '#1', 'x y'),
  fc.string({ unit: fc.constantFrom('a', 'b', ',', '"', ' ', 'é', 'z'), minLength: 1, maxLength: 4 }),
);

const engine = fc.record({
  reduces: fc.integer({ min: 1, max: 5 }),
  splitBytes: fc.integer({ min: 64, max: 2048 }),
  spillBytes: fc.integer({ min: 64, max: 8192 }),
});

describe.skipIf(!BUILT)('the engine equals DuckDB on generated inputs', () => {
  it('aggregate: SELECT key, count(*), sum(amount) GROUP BY key (CSV or Parquet in, text or Parquet out)', async () => {
    const formats = fc.record({
      input: fc.constantFrom('csv', 'parquet'),
      output: fc.constantFrom('text', 'parquet'),
      rowGroupRows: fc.integer({ min: 1, max: 40 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            trickyKey,
            fc.oneof(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -1_000_000, max: 1_000_000 })),
          ),
          { minLength: 1, maxLength: 150, size: 'max' },
        ),
        engine,
        formats,
        async (rows, options, format) => {
          const at = await caseDir();
          await mkdir(join(at, 'in'));
          let source: string;
          if (format.input === 'csv') {
            const csv = join(at, 'in', 'rows.csv');
            await writeFile(csv, csvText(['key', 'amount'], rows));
            source = readCsv(csv, ['key', 'amount']);
          } else {
            // Many small row groups: each becomes a split (or a few, packed up to splitBytes).
            const parquet = join(at, 'in', 'rows.parquet');
            const bytes = parquetWriteBuffer({
              columnData: [
                { name: 'key', data: rows.map((r) => r[0]), type: 'STRING' },
                { name: 'amount', data: rows.map((r) => BigInt(r[1])), type: 'INT64' },
              ],
              rowGroupSize: format.rowGroupRows,
            });
            await writeFile(parquet, new Uint8Array(bytes));
            source = `read_parquet(${sqlString(parquet)})`;
          }
          const output = join(at, 'out');
          await runLocal({
            job: join(DIST_JOBS, 'aggregate.js'),
            inputs: [{ path: join(at, 'in') }],
            output,
            outputFormat: format.output as 'text' | 'parquet',
            ...options,
          });
          const expected = await oracle.rows(
            `SELECT key, count(*)::VARCHAR || ',' || sum(amount::BIGINT)::VARCHAR AS v FROM ${source} GROUP BY key`,
          );
          const got =
            format.output === 'text'
              ? (await readOutput(output)).lines
              : (
                  await oracle.rows(
                    `SELECT key, count::VARCHAR || ',' || sum::VARCHAR AS v FROM read_parquet(${sqlString(join(output, 'part-*.parquet'))})`,
                  )
                ).map((r) => `${r.key}\t${r.v}`);
          expect(got.sort()).toEqual(expected.map((r) => `${r.key}\t${r.v}`).sort());
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('word count: maximal runs of letters, lower-cased, counted', async () => {
    const line = fc.string({
      unit: fc.constantFrom('a', 'b', 'B', 'é', 'Ü', 'ω', ' ', ',', '.', '1', '-', '\t'),
      maxLength: 30,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { minLength: 1, maxLength: 80, size: 'max' }),
        engine,
        async (lines, options) => {
          const at = await caseDir();
          const text = join(at, 'in.txt');
          await writeFile(text, `${lines.join('\n')}\n`);
          await runLocal({
            job: join(DIST_JOBS, 'wordcount.js'),
            inputs: [{ path: text, format: 'text' }],
            output: join(at, 'out'),
            ...options,
          });
          const expected = await oracle.rows(
            `SELECT w, count(*)::VARCHAR AS n FROM (SELECT unnest(regexp_extract_all(lower(content), '\\p{L}+')) AS w FROM read_text(${sqlString(text)})) GROUP BY w`,
          );
          const got = (await readOutput(join(at, 'out'))).lines.sort();
          expect(got).toEqual(expected.map((r) => `${r.w}\t${r.n}`).sort());
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('joins (Figure 10-2): sort-merge (plain, named and sampled hot keys) and broadcast equal SQL JOIN', async () => {
    const userId = fc.constantFrom('u0', 'u1', 'u2', 'u3', 'u,4', 'u"5', ' u6', 'u7');
    const hotUser = fc.constantFrom('u1', 'u,4');
    const tables = fc.record({
      users: fc.array(fc.tuple(userId, fc.constantFrom('1970-01-01', '1985-06-30', '2001-12-24')), {
        minLength: 1,
        maxLength: 12,
      }),
      // Events lean towards one hot user so that sampling finds it.
      events: fc.array(
        fc.tuple(
          fc.oneof({ weight: 1, arbitrary: userId }, { weight: 2, arbitrary: hotUser }),
          fc.constantFrom('/', '/a', '/b,c', '/"q"'),
          fc.integer({ min: 0, max: 50 }),
        ),
        { minLength: 1, maxLength: 150, size: 'max' },
      ),
      join: fc.constantFrom('sort-merge', 'named-hot', 'sampled-hot', 'broadcast'),
    });
    let sampledHot = 0;
    await fc.assert(
      fc.asyncProperty(tables, engine, async ({ users, events, join: kind }, options) => {
        const at = await caseDir();
        const usersCsv = join(at, 'users', 'users.csv');
        const eventsJsonl = join(at, 'events', 'events.jsonl');
        await mkdir(join(at, 'users'));
        await mkdir(join(at, 'events'));
        await writeFile(usersCsv, csvText(['user_id', 'date_of_birth'], users));
        await writeFile(
          eventsJsonl,
          `${events.map(([user_id, url, ts]) => JSON.stringify({ user_id, url, ts })).join('\n')}\n`,
        );
        const both = [
          { path: join(at, 'users'), name: 'users' },
          { path: join(at, 'events'), name: 'events' },
        ];
        const output = join(at, 'out');
        if (kind === 'broadcast') {
          await runLocal({
            job: join(DIST_JOBS, 'join-broadcast.js'),
            inputs: [{ path: join(at, 'events'), name: 'events' }],
            output,
            params: { users: usersCsv },
            ...options,
          });
        } else {
          const params: Record<string, string> =
            kind === 'named-hot'
              ? { hotKeys: 'u1', fanout: '3' }
              : kind === 'sampled-hot'
                ? { skew: 'sample' }
                : {};
          const report = await runLocal({
            job: join(DIST_JOBS, 'join-sort-merge.js'),
            inputs: both,
            output,
            params,
            ...options,
            // The planner samples 10 splits: keep them big enough to see the hot key 10 times.
            ...(kind === 'sampled-hot'
              ? { splitBytes: Math.max(options.splitBytes, 4096), reduces: Math.max(options.reduces, 2) }
              : {}),
          });
          if (kind === 'sampled-hot' && Object.keys(report.hotKeys).length > 0) sampledHot++;
        }
        const expected = await oracle.rows(
          `SELECT e.user_id, e.url, e.ts::VARCHAR AS ts, u.date_of_birth
             FROM read_json(${sqlString(eventsJsonl)}, columns = {user_id: 'VARCHAR', url: 'VARCHAR', ts: 'BIGINT'}) e
             JOIN ${readCsv(usersCsv, ['user_id', 'date_of_birth'])} u ON e.user_id = u.user_id`,
        );
        const got = (await readOutput(output)).lines.sort();
        expect(got).toEqual(
          expected.map((r) => `${r.user_id}\t${JSON.stringify([r.url, r.ts, r.date_of_birth])}`).sort(),
        );
      }),
      {
        numRuns: RUNS,
        // Always one input skewed enough for the sampler: with 15 random cases, none might draw
        // 'sampled-hot' with a hot enough key, and the count below would fail by chance.
        examples: [
          [
            {
              users: [
                ['u1', '1970-01-01'],
                ['u2', '1985-06-30'],
              ],
              events: Array.from({ length: 150 }, (_, i) => [i % 10 === 0 ? 'u2' : 'u1', '/a', i % 50]),
              join: 'sampled-hot',
            },
            { reduces: 2, splitBytes: 512, spillBytes: 8192 },
          ],
        ],
      },
    );
    // At least one input (the example above, at least) was skewed enough for the sampler to split a key.
    expect(sampledHot).toBeGreaterThan(0);
  });

  it('sessionize: sessions per user with an inactivity gap equal DuckDB window functions', async () => {
    const clicks = fc.array(
      fc.tuple(
        fc.constantFrom('ann', 'bob', 'c,d', 'é'),
        fc.integer({ min: 0, max: 400 }),
        fc.constantFrom('/', '/home', '/cart', '/pay'),
      ),
      { minLength: 1, maxLength: 150, size: 'max' },
    );
    await fc.assert(
      fc.asyncProperty(clicks, fc.integer({ min: 0, max: 60 }), engine, async (rows, gap, options) => {
        const at = await caseDir();
        const csv = join(at, 'clicks.csv');
        await writeFile(csv, csvText(['user_id', 'ts', 'url'], rows));
        await runLocal({
          job: join(DIST_JOBS, 'sessionize.js'),
          inputs: [{ path: csv }],
          output: join(at, 'out'),
          params: { gap: String(gap) },
          ...options,
        });
        const expected = await oracle.rows(sessionsSql(readCsv(csv, ['user_id', 'ts', 'url']), gap));
        const got = (await readOutput(join(at, 'out'))).lines.sort();
        expect(got).toEqual(
          expected
            .map((r) => `${r.user_id}\t${JSON.stringify([r.session, r.first, r.last, r.clicks, r.landing])}`)
            .sort(),
        );
      }),
      { numRuns: RUNS },
    );
  });
});
