// The engine's CommitLog on common's segmented Log: one framed, CRC-checked record per
// commit, fsynced with group commit (concurrent commits share one fdatasync) before the
// commit is acknowledged. Recovery replays the log in order (FORMAT.md).
import { join } from 'node:path';
import { type FileSystem, Log, type TimerClock } from '@ddia/common';
import { Database } from '../engine/database.js';
import { type CommitLog, decodeWalRecord, encodeWalRecord, type WalRecord } from '../engine/wal-record.js';

/** Transaction ids a process may hand out per millisecond of its start time before overlapping. */
export const TX_IDS_PER_MS = 1000;

export class WalCommitLog implements CommitLog {
  constructor(readonly log: Log) {}
  async append(record: WalRecord): Promise<void> {
    await this.log.append(encodeWalRecord(record));
  }
}

export interface OpenedDatabase {
  db: Database;
  /** Records replayed at startup. */
  recovered: number;
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
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<OpenedDatabase> {
  const db = new Database({
    clock: options.clock,
    lockTimeoutMs: options.lockTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs,
    // Ids from the wall clock at startup (x1000): a restarted process never reuses an id.
    firstTxId: Math.floor(options.clock.wallMs()) * TX_IDS_PER_MS,
  });
  if (!options.dataDir) return { db, recovered: 0, close: async () => db.abortAll('shutting down') };
  const log = await Log.open({ dir: join(options.dataDir, 'wal'), fsync: 'group', fs: options.fs });
  let recovered = 0;
  for await (const { record } of log.entries(log.firstIndex)) {
    db.replay(decodeWalRecord(record));
    recovered++;
  }
  db.attachWal(new WalCommitLog(log));
  return {
    db,
    recovered,
    close: async () => {
      db.abortAll('shutting down');
      await log.close();
    },
  };
}
