// The engine's CommitLog on common's segmented Log: one framed, CRC-checked record per
// commit, fsynced with group commit (concurrent commits share one fdatasync) before the
// commit is acknowledged. Recovery loads the newest checkpoint and replays the log after it
// (FORMAT.md; checkpoint.ts).
import { join } from 'node:path';
import { type FileSystem, Log, type LogStats, nodeFileSystem, type TimerClock } from '@ddia/common';
import { Database } from '../engine/database.js';
import { type CommitLog, decodeWalRecord, encodeWalRecord, type WalRecord } from '../engine/wal-record.js';
import {
  CHECKPOINT_WAL_BYTES_DEFAULT,
  CheckpointCorruptError,
  Checkpointer,
  type CheckpointStats,
  readCheckpoint,
  WAL_SEGMENT_BYTES,
} from './checkpoint.js';

/** Transaction ids a process may hand out per millisecond of its start time before overlapping. */
export const TX_IDS_PER_MS = 1000;

export class WalCommitLog implements CommitLog {
  constructor(
    readonly log: Log,
    private readonly onAppend?: (bytes: number) => void,
  ) {}
  async append(record: WalRecord): Promise<void> {
    const bytes = encodeWalRecord(record);
    const durable = this.log.append(bytes);
    this.onAppend?.(bytes.length);
    await durable;
  }
}

export interface OpenedDatabase {
  db: Database;
  /** Records replayed at startup (after the checkpoint, if there was one). */
  recovered: number;
  /** The WAL index the loaded checkpoint covered up to, or null when there was none. */
  checkpointWalIndex: number | null;
  /** Takes a checkpoint now (the service also takes them as the WAL grows). */
  checkpoint(): Promise<CheckpointStats>;
  /** The WAL's counters (appends, writes: under group commit one O_DSYNC write serves many appends). */
  walStats(): LogStats | null;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  clock: TimerClock;
  /** Absent: in memory only, nothing survives a restart. */
  dataDir?: string;
  lockTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** The file system the WAL lives on (default: the real one; crash tests pass a faulty one). */
  fs?: FileSystem;
  /** WAL growth in bytes that starts a checkpoint (default 32 MiB); 0: only when asked. */
  checkpointWalBytes?: number;
  /** WAL segment size (default 8 MiB); a checkpoint deletes whole segments behind it. */
  walSegmentBytes?: number;
  /** A background checkpoint failed; nothing is lost (the previous one and the WAL remain). */
  onCheckpointError?: (e: unknown) => void;
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<OpenedDatabase> {
  const db = new Database({
    clock: options.clock,
    lockTimeoutMs: options.lockTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs,
    // Ids from the wall clock at startup (x1000): a restarted process never reuses an id.
    firstTxId: Math.floor(options.clock.wallMs()) * TX_IDS_PER_MS,
  });
  if (!options.dataDir) {
    return {
      db,
      recovered: 0,
      checkpointWalIndex: null,
      walStats: () => null,
      checkpoint: async () => {
        throw new Error('an in-memory database has no WAL to checkpoint');
      },
      close: async () => db.abortAll('shutting down'),
    };
  }
  const fs = options.fs ?? nodeFileSystem;
  const log = await Log.open({
    dir: join(options.dataDir, 'wal'),
    fsync: 'group',
    fs,
    segmentBytesMax: options.walSegmentBytes ?? WAL_SEGMENT_BYTES,
  });
  try {
    const image = await readCheckpoint(fs, options.dataDir);
    let from = log.firstIndex;
    if (image) {
      // The checkpoint is written only after the WAL is durable up to its index, and segments
      // are dropped only behind it: anything else means files were lost or damaged.
      if (image.walIndex < log.firstIndex || image.walIndex > log.nextIndex) {
        throw new CheckpointCorruptError(
          join(options.dataDir, 'checkpoint'),
          `it covers the WAL up to index ${image.walIndex}, but the WAL holds [${log.firstIndex}, ${log.nextIndex})`,
        );
      }
      db.restoreCheckpoint(image);
      from = image.walIndex;
    }
    let recovered = 0;
    for await (const { record } of log.entries(from)) {
      db.replay(decodeWalRecord(record));
      recovered++;
    }
    const checkpointer = new Checkpointer({
      db,
      log,
      fs,
      dataDir: options.dataDir,
      walBytes: options.checkpointWalBytes ?? CHECKPOINT_WAL_BYTES_DEFAULT,
      onError: options.onCheckpointError,
    });
    db.attachWal(new WalCommitLog(log, (bytes) => checkpointer.noteAppended(bytes)));
    return {
      db,
      recovered,
      checkpointWalIndex: image?.walIndex ?? null,
      checkpoint: () => checkpointer.checkpoint(),
      walStats: () => log.stats,
      close: async () => {
        db.abortAll('shutting down');
        await checkpointer.settle();
        await log.close();
      },
    };
  } catch (e) {
    await log.close();
    throw e;
  }
}
