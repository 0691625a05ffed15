// The named sync points of common's storage formats. Each name is one call site that makes
// something durable; the README's mutation table lists which crash test fails when that one
// call is skipped (testkit's FaultFileSystem `skipSyncPoints`).

/** The segmented Log's sync points (src/storage/log.ts). */
export const LOG_SYNC = {
  /** O_DSYNC on the segment being written (policies 'always' and 'group'): an append is
   *  acknowledged only after its own write is durable. */
  append: 'log.append',
  /** The fdatasync of an append made with `{ sync: true }` under 'interval' and 'never'. */
  appendSync: 'log.append.sync',
  /** The fdatasync of `sync()` (and of the 'interval' timer). */
  sync: 'log.sync',
  /** The fdatasync of a full segment before the next one starts: sealed segments are whole. */
  seal: 'log.roll.seal',
  /** The directory fsync after a new segment file is created: its name survives. */
  segmentDir: 'log.segment.dir',
  /** The directory fsync after a brand-new log's directory is made (in its parent). */
  openDir: 'log.open.dir',
  /** The fdatasync after `truncateSuffix` cuts the last segment: cut records stay cut. */
  truncate: 'log.truncate',
  /** The directory fsync after `truncateSuffix` deletes later segments. */
  truncateDir: 'log.truncate.dir',
  /** The directory fsync after `dropPrefix` deletes old segments. */
  dropDir: 'log.drop.dir',
  /** The RESET marker written atomically before a reset (prefix: `.file` and `.dir`). */
  resetMarker: 'log.reset.marker',
  /** The directory fsync that makes a reset's new segment and the marker's removal durable. */
  resetDir: 'log.reset.dir',
  /** The fsync after recovery cuts a torn tail or preallocated zeros off the last segment. */
  recoverCut: 'log.recover.cut',
  /** The fdatasync of a zero-fill ahead of the end (preallocateBytes): performance, not safety. */
  preallocate: 'log.preallocate',
} as const;

/** The sync point names of writeFileAtomic called with syncPoint `prefix`. */
export function atomicFileSyncPoints(prefix: string): [file: string, dir: string] {
  return [`${prefix}.file`, `${prefix}.dir`];
}
