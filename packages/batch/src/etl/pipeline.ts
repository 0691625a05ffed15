// The ETL pipeline: raw CSV order files -> clean -> deduplicate -> enrich (join customers) ->
// Parquet, Hive-partitioned by date (orders/date=YYYY-MM-DD/part-0.parquet), plus the daily
// revenue per country (daily_revenue/date=.../part-0.parquet). Incremental: a watermark file
// names the raw files already applied; a run applies only new files, as a micro-batch that
// rewrites just the date partitions it touches. Orders are upserted by order_id, so running a
// batch twice (a crash before the watermark was written) gives the same tree. Every rejected
// row goes to a dead-letter file with its reason: rows in = rows out + rows rejected.
import { join } from 'node:path';
import { type FileSystem, mkdirDurable, nodeFileSystem, writeFileAtomic } from '@ddia/common';
import {
  cleanOrder,
  dailyRevenue,
  type EnrichedOrder,
  ORDER_COLUMNS,
  type RawOrder,
} from '../core/etl-rules.js';
import { BATCH_SYNC, existsOn, listFiles, listNames } from '../disk.js';
import { type MalformedRecord, readSplit } from '../input.js';
import { applyClicks, type ClicksReport } from './clicks.js';
import { readOrders, writeDailyRevenue, writeOrders } from './parquet.js';

export const WATERMARK_FILE = '_watermark.json';
export const REJECTED_DIR = '_rejected';

export interface AppliedFile {
  bytes: number;
  rowsIn: number;
  rowsOut: number;
  rejected: number;
  dates: string[];
}

export interface Watermark {
  applied: Record<string, AppliedFile>;
  /** The clickstream files applied (src/etl/clicks.ts). */
  clicks?: Record<string, AppliedFile>;
}

export interface Rejection {
  file: string;
  line: number;
  reason: string;
  raw: string;
}

export interface EtlReport {
  applied: string[];
  skipped: string[];
  rowsIn: number;
  rowsOut: number;
  rejected: number;
  touchedDates: string[];
  /** The clickstream stage: clicks cleaned and partitioned, sessions per touched date. */
  clicks: ClicksReport;
}

async function readRows(
  path: string,
): Promise<{ line: number; row: Record<string, string> | MalformedRecord }[]> {
  const [file] = await listFiles(path);
  const split = { index: 0, path, input: 'raw', format: 'csv' as const, start: 0, end: file!.bytes };
  const { records, lineIndexes } = await readSplit(split, 'pass');
  return records.map((record, i) => ({
    line: lineIndexes[i]! + 1,
    row: record as Record<string, string>,
  }));
}

export async function readWatermark(outDir: string, fs: FileSystem = nodeFileSystem): Promise<Watermark> {
  const path = join(outDir, WATERMARK_FILE);
  if (!(await existsOn(fs, path))) return { applied: {} };
  return JSON.parse(Buffer.from(await fs.readFile(path)).toString('utf8')) as Watermark;
}

export interface EtlOptions {
  /** The warehouse's file system (default: the real one); raw files are read from the real one. */
  fs?: FileSystem;
}

/**
 * Applies the raw files the watermark does not name. Durable order per file: every touched
 * partition (its `date=D` directory made durably, its file replaced atomically), then the dead
 * letters, then the watermark, so a watermark never names a file whose partitions could be lost.
 */
export async function runEtl(rawDir: string, outDir: string, options: EtlOptions = {}): Promise<EtlReport> {
  const fs = options.fs ?? nodeFileSystem;
  const saveWatermark = () =>
    writeFileAtomic(join(outDir, WATERMARK_FILE), JSON.stringify(watermark, null, 2), {
      fs,
      syncPoint: BATCH_SYNC.etlWatermark,
    });
  await mkdirDurable(fs, outDir, BATCH_SYNC.etlDir);
  const watermark = await readWatermark(outDir, fs);
  const countries = new Map<string, string>();
  for (const { row } of await readRows(join(rawDir, 'customers.csv'))) {
    if (!('$malformed' in row)) countries.set(String(row.customer_id), String(row.country));
  }
  const names = (await listNames(rawDir)).filter((n) => /^orders-.*\.csv$/.test(n));
  const report: EtlReport = {
    applied: [],
    skipped: [],
    rowsIn: 0,
    rowsOut: 0,
    rejected: 0,
    touchedDates: [],
    clicks: { applied: [], rowsIn: 0, rowsOut: 0, rejected: 0, touchedDates: [], sessions: 0 },
  };
  const touched = new Set<string>();
  for (const name of names) {
    if (watermark.applied[name]) {
      report.skipped.push(name);
      continue;
    }
    const rejections: Rejection[] = [];
    const byDate = new Map<string, Map<string, EnrichedOrder>>();
    const rows = await readRows(join(rawDir, name));
    for (const { line, row } of rows) {
      const reject = (reason: string) =>
        rejections.push({
          file: name,
          line,
          reason,
          raw: '$raw' in row ? String(row.$raw) : ORDER_COLUMNS.map((c) => row[c]).join(','),
        });
      if ('$malformed' in row) {
        reject(String(row.$malformed));
        continue;
      }
      const cleaned = cleanOrder(row as unknown as RawOrder);
      if ('reason' in cleaned) {
        reject(cleaned.reason);
        continue;
      }
      const country = countries.get(cleaned.order.customer_id);
      if (country === undefined) {
        reject(`unknown customer '${cleaned.order.customer_id}'`);
        continue;
      }
      const day = byDate.get(cleaned.order.order_date) ?? new Map<string, EnrichedOrder>();
      if (day.has(cleaned.order.order_id)) {
        reject(`duplicate order_id '${cleaned.order.order_id}' in this batch`);
        continue;
      }
      day.set(cleaned.order.order_id, { ...cleaned.order, country });
      byDate.set(cleaned.order.order_date, day);
    }
    let rowsOut = 0;
    for (const [date, orders] of [...byDate.entries()].sort()) {
      // Rewrite only this date's partition: what was there, upserted with this batch's orders.
      const ordersPath = join(outDir, 'orders', `date=${date}`, 'part-0.parquet');
      const merged = new Map((await readOrders(ordersPath, date, fs)).map((o) => [o.order_id, o]));
      for (const [id, order] of orders) merged.set(id, order);
      const all = [...merged.values()].sort((a, b) => (a.order_id < b.order_id ? -1 : 1));
      await mkdirDurable(fs, join(outDir, 'orders', `date=${date}`), BATCH_SYNC.etlDir);
      await writeOrders(ordersPath, all, fs);
      await mkdirDurable(fs, join(outDir, 'daily_revenue', `date=${date}`), BATCH_SYNC.etlDir);
      await writeDailyRevenue(
        join(outDir, 'daily_revenue', `date=${date}`, 'part-0.parquet'),
        dailyRevenue(all),
        fs,
      );
      rowsOut += orders.size;
      touched.add(date);
    }
    await mkdirDurable(fs, join(outDir, REJECTED_DIR), BATCH_SYNC.etlDir);
    await writeFileAtomic(
      join(outDir, REJECTED_DIR, `${name}.jsonl`),
      rejections.map((r) => `${JSON.stringify(r)}\n`).join(''),
      { fs, syncPoint: BATCH_SYNC.etlRejected },
    );
    const [file] = await listFiles(join(rawDir, name));
    watermark.applied[name] = {
      bytes: file!.bytes,
      rowsIn: rows.length,
      rowsOut,
      rejected: rejections.length,
      dates: [...byDate.keys()].sort(),
    };
    // The watermark moves only after the partitions and dead letters are in place.
    await saveWatermark();
    report.applied.push(name);
    report.rowsIn += rows.length;
    report.rowsOut += rowsOut;
    report.rejected += rejections.length;
  }
  report.touchedDates = [...touched].sort();
  report.clicks = await applyClicks(rawDir, outDir, watermark, saveWatermark, fs);
  return report;
}
