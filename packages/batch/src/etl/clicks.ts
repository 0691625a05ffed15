// The clickstream stage of the ETL: raw click files (clicks-NNNN.jsonl) are cleaned (bad
// JSON, clicks without a user, timestamps that are not epoch seconds: dead letters with the
// reason), deduplicated, partitioned by the click's UTC date into
// warehouse/clicks/date=D/part-0.parquet, and each touched date is sessionized by the
// engine's own `sessionize` job (run by the local runner, Parquet in, Parquet out) into
// warehouse/sessions/date=D/part-0.parquet. Like the orders, a micro-batch rewrites only the
// dates it touches, a click already in its partition is not added twice, and the watermark
// (its `clicks` section) moves only after the partitions and dead letters are in place.
// Sessions are per day: a session that crosses midnight UTC is cut in two.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FileSystem, mkdirDurable, nodeFileSystem, writeFileAtomic } from '@ddia/common';
import { parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { type Click, cleanClick } from '../core/etl-rules.js';
import { BATCH_SYNC, existsOn, listFiles, listNames, readBytes, removeAll, writeBytes } from '../disk.js';
import { type MalformedRecord, readSplit } from '../input.js';
import * as sessionize from '../jobs/sessionize.js';
import { runLocal } from '../local-run.js';
import { commitWarehouseFile, readArrayBuffer } from './parquet.js';
import type { AppliedFile, Rejection, Watermark } from './pipeline.js';

export const SESSION_GAP_S = 1800;

export interface ClicksReport {
  applied: string[];
  rowsIn: number;
  rowsOut: number;
  rejected: number;
  touchedDates: string[];
  /** Session rows written (a date rewritten by two files of one run counts twice). */
  sessions: number;
}

type StoredClick = Omit<Click, 'date'>;
const keyOf = (c: StoredClick) => `${c.user_id}\t${c.ts}\t${c.url}`;

async function readClicks(fs: FileSystem, path: string): Promise<StoredClick[]> {
  if (!(await existsOn(fs, path))) return [];
  const rows = (await parquetReadObjects({ file: await readArrayBuffer(fs, path) })) as {
    user_id: string;
    ts: bigint | number;
    url: string;
  }[];
  return rows.map((r) => ({ user_id: r.user_id, ts: Number(r.ts), url: r.url }));
}

/** Writes a date's clicks to the warehouse; returns the Parquet bytes (the sessionizer's input). */
async function writeClicks(
  fs: FileSystem,
  path: string,
  clicks: readonly StoredClick[],
): Promise<Uint8Array> {
  const bytes = parquetWriteBuffer({
    columnData: [
      { name: 'user_id', data: clicks.map((c) => c.user_id), type: 'STRING' },
      { name: 'ts', data: clicks.map((c) => BigInt(c.ts)), type: 'INT64' },
      { name: 'url', data: clicks.map((c) => c.url), type: 'STRING' },
    ],
    rowGroupSize: 100_000,
    statistics: true,
  });
  const parquet = new Uint8Array(bytes);
  await commitWarehouseFile(fs, path, parquet);
  return parquet;
}

/**
 * Sessionizes one date's clicks with the engine (local runner, in a scratch directory of the
 * real file system) into sessions/date=D: the result is copied into the warehouse by an atomic
 * write beside its destination (a rename out of the scratch directory could cross file systems).
 */
async function sessionizeDate(
  fs: FileSystem,
  outDir: string,
  date: string,
  clicks: Uint8Array,
): Promise<number> {
  const work = await mkdtemp(join(tmpdir(), 'ddia-etl-sessions-'));
  try {
    await writeBytes(join(work, 'in', 'part-0.parquet'), clicks);
    const report = await runLocal({
      job: sessionize,
      inputs: [{ path: join(work, 'in', 'part-0.parquet'), format: 'parquet' }],
      output: join(work, 'out'),
      reduces: 1,
      params: { gap: String(SESSION_GAP_S) },
      outputFormat: 'parquet',
    });
    await mkdirDurable(fs, join(outDir, 'sessions', `date=${date}`), BATCH_SYNC.etlDir);
    await commitWarehouseFile(
      fs,
      join(outDir, 'sessions', `date=${date}`, 'part-0.parquet'),
      await readBytes(join(work, 'out', 'part-00000.parquet')),
    );
    return report.counters.reduceOutputRecords ?? 0;
  } finally {
    await removeAll(work);
  }
}

export async function applyClicks(
  rawDir: string,
  outDir: string,
  watermark: Watermark,
  save: () => Promise<void>,
  fs: FileSystem = nodeFileSystem,
): Promise<ClicksReport> {
  const report: ClicksReport = {
    applied: [],
    rowsIn: 0,
    rowsOut: 0,
    rejected: 0,
    touchedDates: [],
    sessions: 0,
  };
  const applied = (watermark.clicks ??= {});
  const touched = new Set<string>();
  for (const name of (await listNames(rawDir)).filter((n) => /^clicks-.*\.jsonl$/.test(n))) {
    if (applied[name]) continue;
    const [file] = await listFiles(join(rawDir, name));
    const split = {
      index: 0,
      path: file!.path,
      input: 'clicks',
      format: 'jsonl' as const,
      start: 0,
      end: file!.bytes,
    };
    const { records, lineIndexes } = await readSplit(split, 'pass');
    const rejections: Rejection[] = [];
    const byDate = new Map<string, Map<string, StoredClick>>();
    for (let r = 0; r < records.length; r++) {
      const record = records[r];
      const lineIndex = lineIndexes[r]!;
      const reject = (reason: string, raw: string) =>
        rejections.push({ file: name, line: lineIndex + 1, reason, raw });
      if (record !== null && typeof record === 'object' && '$malformed' in record) {
        const bad = record as MalformedRecord;
        reject(bad.$malformed, bad.$raw);
        continue;
      }
      const cleaned = cleanClick(record);
      if ('reason' in cleaned) {
        reject(cleaned.reason, JSON.stringify(record));
        continue;
      }
      const { date, ...click } = cleaned.click;
      const day = byDate.get(date) ?? new Map<string, StoredClick>();
      if (day.has(keyOf(click))) {
        reject('duplicate click in this batch', JSON.stringify(record));
        continue;
      }
      day.set(keyOf(click), click);
      byDate.set(date, day);
    }
    let rowsOut = 0;
    for (const [date, clicks] of [...byDate.entries()].sort()) {
      const path = join(outDir, 'clicks', `date=${date}`, 'part-0.parquet');
      const merged = new Map((await readClicks(fs, path)).map((c) => [keyOf(c), c]));
      for (const [key, click] of clicks) merged.set(key, click);
      const all = [...merged.values()].sort((a, b) =>
        keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0,
      );
      await mkdirDurable(fs, join(outDir, 'clicks', `date=${date}`), BATCH_SYNC.etlDir);
      const parquet = await writeClicks(fs, path, all);
      report.sessions += await sessionizeDate(fs, outDir, date, parquet);
      rowsOut += clicks.size;
      touched.add(date);
    }
    await mkdirDurable(fs, join(outDir, '_rejected'), BATCH_SYNC.etlDir);
    await writeFileAtomic(
      join(outDir, '_rejected', `${name}.jsonl`),
      rejections.map((r) => `${JSON.stringify(r)}\n`).join(''),
      { fs, syncPoint: BATCH_SYNC.etlRejected },
    );
    const entry: AppliedFile = {
      bytes: file!.bytes,
      rowsIn: records.length,
      rowsOut,
      rejected: rejections.length,
      dates: [...byDate.keys()].sort(),
    };
    applied[name] = entry;
    await save();
    report.applied.push(name);
    report.rowsIn += records.length;
    report.rowsOut += rowsOut;
    report.rejected += rejections.length;
  }
  report.touchedDates = [...touched].sort();
  return report;
}
