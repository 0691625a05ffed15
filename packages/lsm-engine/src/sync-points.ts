// The LSM engine's named sync points (common's FileSystem layer): each is one call that makes
// something durable, and the power-loss test (test/power-loss.test.ts) proves, by skipping
// each one in turn, that a crash then loses acknowledged data or leaves a database that does
// not open. The manifest's own points are common's Log points and CURRENT_SYNC (manifest.ts).
import { LOG_SYNC } from '@ddia/common/fs';

export const LSM_SYNC = {
  /** fdatasync of the active WAL segment before a `sync: true` write is acknowledged
   *  (the WAL is common's Log: this is its sync() point). */
  walSync: LOG_SYNC.sync,
  /** fdatasync of a full WAL segment before the next one is created: sealed segments are
   *  whole, so recovery never meets damage outside the last segment. */
  walSeal: LOG_SYNC.seal,
  /** Directory fsync of wal/ when a new segment is created, before anything in it is
   *  acknowledged: the segment's name survives. */
  walDir: LOG_SYNC.segmentDir,
  /** fdatasync of a new table file before the manifest names it. */
  tableSync: 'lsm.table.sync',
  /** Directory fsync after new tables were created, before the manifest names them. */
  tableDir: 'lsm.table.dir',
  /** Fsync of the parent directory after open created the database's directory. */
  openDir: 'lsm.open.dir',
} as const;
