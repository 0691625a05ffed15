// One process per database directory: LevelDB's LOCK file (util/env_posix.cc LockFile).
// Two engines appending to one WAL and rewriting one manifest would corrupt both. Node has no
// portable flock(2), so the lock is a file named LOCK holding the owner's pid, created with
// O_EXCL. An opener that finds one takes it over only when the file is stale: its pid is no
// longer running (the owner crashed), or it is this process's own pid while no database in
// this process holds the directory (a container restarted and got the same pid again).
// Known gap against flock: two openers taking over the same stale lock at the same instant
// can both win, and processes in different pid namespaces sharing a volume cannot see each
// other's pids. FORMAT.md "LOCK".
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isProcessAlive } from '@ddia/common';
import { DatabaseLockedError } from './errors.js';

export const LOCK_FILE_NAME = 'LOCK';
/** Create-or-take-over attempts before giving up (another opener keeps racing us). */
const ACQUIRE_ATTEMPTS_MAX = 3;

/** Directories held by databases open in this process (the pid alone cannot tell them apart). */
const heldInProcess = new Set<string>();

export class DirectoryLock {
  private released = false;

  private constructor(
    private readonly key: string,
    private readonly path: string,
  ) {}

  /** Takes the lock on `dir`, or throws DatabaseLockedError naming the process that holds it. */
  static acquire(dir: string): DirectoryLock {
    const path = join(dir, LOCK_FILE_NAME);
    const key = resolve(path);
    if (heldInProcess.has(key)) throw new DatabaseLockedError(dir, process.pid, 'by this process');
    for (let attempt = 0; attempt < ACQUIRE_ATTEMPTS_MAX; attempt++) {
      try {
        writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
        heldInProcess.add(key);
        return new DirectoryLock(key, path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let owner = Number.NaN;
      try {
        owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
        throw err;
      }
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isProcessAlive(owner))
        throw new DatabaseLockedError(dir, owner, `by process ${owner}`);
      // Stale: an empty or garbled file (a crash while creating it), or a dead owner.
      try {
        unlinkSync(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    throw new DatabaseLockedError(dir, 0, 'by another opener racing for it');
  }

  /** Removes the LOCK file (only while it still names this process). */
  release(): void {
    if (this.released) return;
    this.released = true;
    heldInProcess.delete(this.key);
    try {
      if (Number.parseInt(readFileSync(this.path, 'utf8'), 10) === process.pid) unlinkSync(this.path);
    } catch {
      // Already gone (the directory was removed): nothing to release.
    }
  }
}
