// Named errors of the engine. Every on-disk damage names the file and the byte offset, so
// an operator can look at the bytes (see ../FORMAT.md) instead of guessing: the corruption
// errors share common's CorruptionError base (codes DDIA_ERR_LSM_CORRUPT_*).
import { corruptionClass } from '@ddia/common/core';

/** A table file whose bytes do not check out: bad magic, bad block checksum, bad encoding. */
export class CorruptTableError extends corruptionClass(
  'CorruptTableError',
  'DDIA_ERR_LSM_CORRUPT_TABLE',
  'table',
) {}

/** The manifest (the list of live tables) is damaged or inconsistent with the files. */
export class CorruptManifestError extends corruptionClass(
  'CorruptManifestError',
  'DDIA_ERR_LSM_CORRUPT_MANIFEST',
  'manifest',
) {}

/** A write-ahead-log record that passed its checksum but does not decode, or damage mid-log. */
export class CorruptWalError extends corruptionClass(
  'CorruptWalError',
  'DDIA_ERR_LSM_CORRUPT_WAL',
  'write-ahead log',
) {}

/** The database directory is missing (createIfMissing: false) or present (errorIfExists). */
export class DatabaseLocationError extends Error {
  override name = 'DatabaseLocationError';
}

/** Another open database (in this or another process) holds the directory's LOCK file. */
export class DatabaseLockedError extends Error {
  override name = 'DatabaseLockedError';
  constructor(
    readonly location: string,
    /** The pid named in the LOCK file (0 when unknown). */
    readonly ownerPid: number,
    by: string,
  ) {
    super(`database ${location} is locked ${by} (LOCK file); one process may open it at a time`);
  }
}

/** The engine stopped after a background failure (flush or compaction I/O). */
export class EngineFailedError extends Error {
  override name = 'EngineFailedError';
}

/** Option values out of their documented range. */
export class LsmOptionsError extends RangeError {
  override name = 'LsmOptionsError';
}
