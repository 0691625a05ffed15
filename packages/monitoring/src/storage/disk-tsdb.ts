// The TSDB on disk: the head's write-ahead log on common's segmented Log, blocks written
// atomically as single files, and retention by time. Layout of a data dir (FORMAT.md):
//   WAL_CURRENT        the live WAL generation, e.g. "3" (replaced atomically)
//   wal-00000003/      common's Log: SERIES and SAMPLES records (core/wal-record.ts)
//   blocks/<minT>-<maxT>.block
// A flush moves old sealed chunks into a block, then checkpoints: it writes what is still in
// the head to a fresh WAL generation, switches WAL_CURRENT to it and deletes the old one
// (Prometheus checkpoints its WAL for the same reason: the log must not grow forever). A crash
// between the block and the switch replays the old WAL; samples already in a block are skipped.
import { type FileSystem, type FsyncPolicy, Log, nodeFileSystem } from '@ddia/common';
import { decodeBlock } from '../core/block-format.js';
import type { Labels } from '../core/labels.js';
import { MemoryTsdb } from '../core/tsdb.js';
import {
  decodeWalRecord,
  encodeSamplesRecord,
  encodeSeriesRecord,
  SamplesRecordWriter,
  type WalSample,
} from '../core/wal-record.js';
import { join, TSDB_SYNC, TsdbFiles } from './files.js';

export const BLOCK_RANGE_DEFAULT_MS = 2 * 60 * 60 * 1000;
export const RETENTION_DEFAULT_MS = 15 * 24 * 60 * 60 * 1000;
export const WAL_SYNC_DEFAULT_MS = 1000;
/** Samples per SAMPLES record when a checkpoint rewrites the head. */
const CHECKPOINT_BATCH = 4096;

export interface DiskTsdbOptions {
  dataDir: string;
  blockRangeMs?: number;
  retentionMs?: number;
  /** 'interval' (default): fdatasync every walSyncMs; 'always': every append is synced. */
  walFsync?: FsyncPolicy;
  walSyncMs?: number;
  /** The file system under the data dir (default: the real one; crash tests pass a faulty one). */
  fs?: FileSystem;
}

export interface IngestSample {
  labels: Labels;
  t: number;
  value: number;
  /** A staleness marker (value NaN): the series ended at t (special-values.ts). */
  stale?: boolean;
}

export interface IngestResult {
  appended: number;
  outOfOrder: number;
  duplicate: number;
}

export class DiskTsdb {
  private generation = 0;
  private chain: Promise<unknown> = Promise.resolve();
  replayed = 0;

  private constructor(
    readonly db: MemoryTsdb,
    private wal: Log,
    private readonly options: Required<DiskTsdbOptions>,
    private readonly files: TsdbFiles,
  ) {}

  static async open(options: DiskTsdbOptions): Promise<DiskTsdb> {
    const full: Required<DiskTsdbOptions> = {
      blockRangeMs: BLOCK_RANGE_DEFAULT_MS,
      retentionMs: RETENTION_DEFAULT_MS,
      walFsync: 'interval',
      walSyncMs: WAL_SYNC_DEFAULT_MS,
      fs: nodeFileSystem,
      ...options,
    };
    const files = new TsdbFiles(full.fs);
    const db = new MemoryTsdb();
    const blocksDir = join(full.dataDir, 'blocks');
    await files.ensureDurableDir(blocksDir);
    // Temp files of a block or WAL_CURRENT write that a crash interrupted.
    for (const dir of [blocksDir, full.dataDir]) {
      for (const name of await files.listFiles(dir, '.tmp')) await files.remove(join(dir, name));
    }
    for (const name of await files.listFiles(blocksDir, '.block')) {
      db.addBlock(name, decodeBlock(await files.readBytes(join(blocksDir, name))));
    }
    const current = await files.readTextOrNull(join(full.dataDir, 'WAL_CURRENT'));
    const generation = current === null ? 0 : Number(current.trim());
    if (!Number.isSafeInteger(generation) || generation < 0)
      throw new Error(`${full.dataDir}/WAL_CURRENT holds '${current}', not a WAL generation`);
    let replayed = 0;
    const walDir = join(full.dataDir, walName(generation));
    const wal = await Log.open({
      dir: walDir,
      fsync: full.walFsync,
      fsyncIntervalMs: full.walSyncMs,
      fs: full.fs,
    });
    const labelsByWalId = new Map<number, Labels>();
    for await (const { record } of wal.entries(wal.firstIndex)) {
      const r = decodeWalRecord(record);
      if (r.kind === 'series') labelsByWalId.set(r.id, r.labels);
      else {
        for (const s of r.samples) {
          const labels = labelsByWalId.get(s.id);
          if (!labels) continue; // cannot happen: a series record precedes its samples in one batch
          if (db.append(labels, s.t, s.value, s.stale === true).outcome === 'ok') replayed++;
        }
      }
    }
    const tsdb = new DiskTsdb(db, wal, full, files);
    tsdb.generation = generation;
    tsdb.replayed = replayed;
    // WAL ids are this process's series ids; rewrite the head under the new ids at once.
    await tsdb.checkpoint();
    // Delete generations a crash left behind.
    for (const dir of await files.listDirs(full.dataDir, 'wal-')) {
      if (dir !== walName(tsdb.generation)) await files.remove(join(full.dataDir, dir));
    }
    return tsdb;
  }

  /** Serializes appends, flushes and checkpoints. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  /** Appends one scrape's samples; resolves once logged under the WAL's fsync policy. */
  ingest(samples: readonly IngestSample[]): Promise<IngestResult> {
    return this.exclusive(async () => {
      const records: Uint8Array[] = [];
      const logged = new SamplesRecordWriter(samples.length);
      const result: IngestResult = { appended: 0, outOfOrder: 0, duplicate: 0 };
      for (const s of samples) {
        const stale = s.stale === true;
        const r = this.db.append(s.labels, s.t, s.value, stale);
        if (r.created) records.push(encodeSeriesRecord(r.id, s.labels));
        if (r.outcome === 'ok') {
          logged.add(r.id, s.t, s.value, stale);
          result.appended++;
        } else if (r.outcome === 'duplicate') result.duplicate++;
        else result.outOfOrder++;
      }
      if (logged.count > 0) records.push(logged.finish());
      if (records.length > 0) await this.wal.appendBatch(records);
      return result;
    });
  }

  /** Makes every sample ingested so far durable. */
  sync(): Promise<void> {
    return this.exclusive(() => this.wal.sync());
  }

  /**
   * Cuts a block when the head spans more than 1.5 block ranges (keeping the newest half range
   * in memory, as Prometheus does), then applies retention relative to `nowMs`.
   */
  compact(nowMs: number): Promise<{ block: string | null; dropped: string[] }> {
    return this.exclusive(async () => {
      let blockName: string | null = null;
      const head = this.db.head;
      if (head.maxT - head.minT > this.options.blockRangeMs * 1.5) {
        const cut = this.db.cutBlock(head.maxT - this.options.blockRangeMs / 2);
        if (cut) {
          blockName = `${cut.block.minT}-${cut.block.maxT}.block`;
          await this.files.writeDurably(
            join(this.options.dataDir, 'blocks', blockName),
            cut.bytes,
            TSDB_SYNC.block,
          );
          this.db.addBlock(blockName, cut.block);
          await this.checkpointNow();
        }
      }
      const dropped = this.db.dropBlocksBefore(nowMs - this.options.retentionMs);
      for (const name of dropped) await this.files.remove(join(this.options.dataDir, 'blocks', name));
      return { block: blockName, dropped };
    });
  }

  private checkpoint(): Promise<void> {
    return this.exclusive(() => this.checkpointNow());
  }

  private async checkpointNow(): Promise<void> {
    const next = this.generation + 1;
    const dir = join(this.options.dataDir, walName(next));
    await this.files.remove(dir);
    const wal = await Log.open({
      dir,
      fsync: this.options.walFsync,
      fsyncIntervalMs: this.options.walSyncMs,
      fs: this.options.fs,
    });
    const records: Uint8Array[] = [];
    for (const [id, s] of this.db.head.series) records.push(encodeSeriesRecord(id, s.labels));
    let batch: WalSample[] = [];
    for (const { id, timestamps, values, stale } of this.db.head.allSamples()) {
      for (let i = 0; i < timestamps.length; i++) {
        batch.push({ id, t: timestamps[i]!, value: values[i]!, stale: stale[i]! });
        if (batch.length >= CHECKPOINT_BATCH) {
          records.push(encodeSamplesRecord(batch));
          batch = [];
        }
      }
    }
    if (batch.length > 0) records.push(encodeSamplesRecord(batch));
    if (records.length > 0) await wal.appendBatch(records);
    await wal.sync();
    await this.files.writeDurably(
      join(this.options.dataDir, 'WAL_CURRENT'),
      String(next),
      TSDB_SYNC.walCurrent,
    );
    const old = this.wal;
    const oldDir = join(this.options.dataDir, walName(this.generation));
    this.wal = wal;
    this.generation = next;
    await old.close();
    await this.files.remove(oldDir);
  }

  get walStats() {
    return this.wal.stats;
  }

  close(): Promise<void> {
    return this.exclusive(() => this.wal.close());
  }
}

function walName(generation: number): string {
  return `wal-${String(generation).padStart(8, '0')}`;
}
