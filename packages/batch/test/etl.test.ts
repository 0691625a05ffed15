// The ETL pipeline against DuckDB: counts in = out + rejected with every rejection in the dead
// letters; the Parquet tree (Hive-partitioned by date) holds exactly the clean, deduplicated,
// enriched orders; the daily revenue equals DuckDB's GROUP BY over those orders; an increment
// rewrites only the partitions it touches; running again changes nothing.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanOrder, isCalendarDate } from '../src/core/etl-rules.js';
import { generateRaw } from '../src/etl/generate.js';
import { readWatermark, runEtl } from '../src/etl/pipeline.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function sql(query: string): Promise<Record<string, unknown>[]> {
  const duck = await DuckDBInstance.create(':memory:');
  const connection = await duck.connect();
  try {
    return (await connection.runAndReadAll(query)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    duck.closeSync();
  }
}

describe('cleaning rules', () => {
  it('accepts a good row and names what is wrong with a bad one', () => {
    const good = {
      order_id: 'o1',
      customer_id: 'c1',
      amount: '12.345',
      quantity: '2',
      order_date: '2024-02-29',
      note: '',
    };
    expect(cleanOrder(good)).toEqual({ order: { ...good, amount: 12.35, quantity: 2 } });
    expect(cleanOrder({ ...good, order_date: '2023-02-29' })).toEqual({
      reason: "bad order_date '2023-02-29'",
    });
    expect(cleanOrder({ ...good, amount: 'twelve' })).toEqual({ reason: "bad amount 'twelve'" });
    expect(cleanOrder({ ...good, note: 'caf\uFFFD' })).toEqual({ reason: 'column note is not valid UTF-8' });
    expect(isCalendarDate('2026-13-45')).toBe(false);
  });
});

describe('ETL to Parquet, queried with DuckDB', () => {
  it('clean, dedupe, enrich, aggregate; incremental and idempotent', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ddia-batch-etl-'));
    dirs.push(dir);
    const raw = join(dir, 'raw');
    const out = join(dir, 'warehouse');
    await generateRaw(raw, 5, 3);
    const first = await runEtl(raw, out);
    expect(first.applied).toEqual(['orders-0001.csv', 'orders-0002.csv', 'orders-0003.csv']);
    expect(first.rowsIn).toBe(1_200);
    expect(first.rejected).toBeGreaterThan(0);
    expect(first.rowsIn).toBe(first.rowsOut + first.rejected);
    // Every rejection is in a dead-letter file, with a reason; every kind of dirt was caught.
    let letters: { reason: string }[] = [];
    for (const name of first.applied) {
      const text = await readFile(join(out, '_rejected', `${name}.jsonl`), 'utf8');
      letters = letters.concat(
        text
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l)),
      );
    }
    expect(letters).toHaveLength(first.rejected);
    for (const kind of [
      /expected 6 CSV fields/,
      /bad order_date/,
      /bad amount/,
      /unknown customer/,
      /duplicate order_id/,
      /not valid UTF-8/,
    ]) {
      expect(
        letters.some((l) => kind.test(l.reason)),
        String(kind),
      ).toBe(true);
    }

    const orders = `read_parquet('${out}/orders/*/*.parquet', hive_partitioning = true)`;
    const revenue = `read_parquet('${out}/daily_revenue/*/*.parquet', hive_partitioning = true)`;
    const [count] = await sql(
      `SELECT count(*)::INTEGER AS n, count(DISTINCT order_id)::INTEGER AS ids FROM ${orders}`,
    );
    expect(count).toEqual({ n: first.rowsOut, ids: first.rowsOut });
    // The oracle: DuckDB's own GROUP BY over the clean orders equals our aggregate.
    const ours = await sql(
      `SELECT CAST(date AS VARCHAR) AS date, country, orders, round(revenue, 2) AS revenue FROM ${revenue} ORDER BY 1, 2`,
    );
    const duck = await sql(
      `SELECT CAST(date AS VARCHAR) AS date, country, count(*)::INTEGER AS orders, round(sum(amount), 2) AS revenue FROM ${orders} GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    expect(ours.length).toBeGreaterThan(6);
    expect(ours).toEqual(duck);
    // And the clean rows equal DuckDB's own cleaning of the raw CSVs (its parser, our rules in SQL).
    const [fromRaw] = await sql(
      `SELECT count(DISTINCT o.order_id)::INTEGER AS n
         FROM read_csv('${raw}/orders-*.csv', header = true, all_varchar = true, ignore_errors = true, null_padding = false, strict_mode = true) o
         JOIN read_csv('${raw}/customers.csv', header = true, all_varchar = true) c ON o.customer_id = c.customer_id
        WHERE TRY_CAST(o.amount AS DOUBLE) > 0 AND TRY_CAST(o.order_date AS DATE) IS NOT NULL
          AND NOT contains(coalesce(o.note, ''), '\uFFFD')`,
    );
    expect(fromRaw).toEqual({ n: first.rowsOut });

    // Increment: one new file touching an old day and a new one: only those partitions change.
    const mtime = async (date: string) =>
      (await stat(join(out, 'orders', `date=${date}`, 'part-0.parquet'))).mtimeMs;
    const before = {
      d1: await mtime('2026-03-01'),
      d2: await mtime('2026-03-02'),
      d3: await mtime('2026-03-03'),
    };
    await generateRaw(raw, 5, 1, 4);
    const second = await runEtl(raw, out);
    expect(second.applied).toEqual(['orders-0004.csv']);
    expect(second.touchedDates).toEqual(['2026-03-03', '2026-03-04']);
    expect(await mtime('2026-03-01')).toBe(before.d1);
    expect(await mtime('2026-03-02')).toBe(before.d2);
    expect(await mtime('2026-03-03')).not.toBe(before.d3);
    const [after] = await sql(`SELECT count(*)::INTEGER AS n FROM ${orders}`);
    expect(after).toEqual({ n: first.rowsOut + second.rowsOut });

    // Idempotent: nothing new, nothing applied; a lost watermark re-applies to the same tree.
    const third = await runEtl(raw, out);
    expect(third.applied).toEqual([]);
    const watermark = await readWatermark(out);
    expect(Object.keys(watermark.applied)).toHaveLength(4);
    await rm(join(out, '_watermark.json'));
    const replay = await runEtl(raw, out);
    expect(replay.rowsOut).toBe(first.rowsOut + second.rowsOut);
    const [again] = await sql(`SELECT count(*)::INTEGER AS n FROM ${orders}`);
    expect(again).toEqual(after);
    expect(
      await sql(
        `SELECT CAST(date AS VARCHAR) AS date, country, orders, round(revenue, 2) AS revenue FROM ${revenue} ORDER BY 1, 2`,
      ),
    ).toEqual(
      await sql(
        `SELECT CAST(date AS VARCHAR) AS date, country, count(*)::INTEGER AS orders, round(sum(amount), 2) AS revenue FROM ${orders} GROUP BY 1, 2 ORDER BY 1, 2`,
      ),
    );
  });

  it('clickstream: cleaned, partitioned by date, sessionized by the engine = DuckDB window functions; incremental', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ddia-batch-clicks-'));
    dirs.push(dir);
    const raw = join(dir, 'raw');
    const out = join(dir, 'warehouse');
    await generateRaw(raw, 6, 2);
    const first = (await runEtl(raw, out)).clicks;
    expect(first.applied).toEqual(['clicks-0001.jsonl', 'clicks-0002.jsonl']);
    expect(first.rowsIn).toBe(1_200);
    expect(first.rowsIn).toBe(first.rowsOut + first.rejected);
    expect(first.touchedDates).toEqual(['2026-03-01', '2026-03-02']);
    const letters: { reason: string }[] = [];
    for (const name of first.applied) {
      const text = await readFile(join(out, '_rejected', `${name}.jsonl`), 'utf8');
      for (const line of text.trim().split('\n')) letters.push(JSON.parse(line));
    }
    expect(letters).toHaveLength(first.rejected);
    for (const kind of [/not JSON/, /missing user_id/, /bad ts/, /duplicate click/]) {
      expect(letters.some((l) => kind.test(l.reason))).toBe(true);
    }
    const clicks = `read_parquet('${out}/clicks/*/*.parquet', hive_partitioning = true)`;
    const sessions = `read_parquet('${out}/sessions/*/*.parquet', hive_partitioning = true)`;
    const [stored] = await sql(`SELECT count(*)::INTEGER AS n FROM ${clicks}`);
    expect(stored).toEqual({ n: first.rowsOut });
    const ours = `SELECT CAST(date AS VARCHAR) AS date, user_id, session::INTEGER AS session, first_ts::BIGINT::VARCHAR AS first_ts,
        last_ts::BIGINT::VARCHAR AS last_ts, clicks::INTEGER AS clicks, landing_url FROM ${sessions} ORDER BY ALL`;
    // DuckDB's answer: a click starts a session when the same user's previous click that day is over 30 min before.
    const duck = `WITH f AS (
        SELECT *, CASE WHEN ts - lag(ts) OVER w <= 1800 THEN 0 ELSE 1 END AS starts FROM ${clicks}
        WINDOW w AS (PARTITION BY date, user_id ORDER BY ts, url)),
      n AS (SELECT *, sum(starts) OVER (PARTITION BY date, user_id ORDER BY ts, url ROWS UNBOUNDED PRECEDING) AS session FROM f)
      SELECT CAST(date AS VARCHAR) AS date, user_id, session::INTEGER AS session, min(ts)::VARCHAR AS first_ts,
        max(ts)::VARCHAR AS last_ts, count(*)::INTEGER AS clicks, arg_min(url, (ts, url)) AS landing_url
      FROM n GROUP BY ALL ORDER BY ALL`;
    const expected = await sql(duck);
    expect(expected.length).toBeGreaterThan(100);
    expect(await sql(ours)).toEqual(expected);
    expect(first.sessions).toBeGreaterThanOrEqual(expected.length); // a date rewritten by two files counts twice

    // Another batch touches 03-02 and 03-03 only; a re-run applies nothing.
    await generateRaw(raw, 6, 1, 3);
    const second = (await runEtl(raw, out)).clicks;
    expect(second.applied).toEqual(['clicks-0003.jsonl']);
    expect(second.touchedDates).toEqual(['2026-03-02', '2026-03-03']);
    expect(await sql(ours)).toEqual(await sql(duck));
    expect((await runEtl(raw, out)).clicks.applied).toEqual([]);
  });
});
