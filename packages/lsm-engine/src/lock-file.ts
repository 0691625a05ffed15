// One process per database directory: LevelDB's LOCK file (util/env_posix.cc LockFile).
// Two engines appending to one WAL and rewriting one manifest would corrupt both. Node has no
// portable flock(2), so the lock is a file named LOCK holding the owner's pid, created with
// O_EXCL. An opener that finds one takes it over only when the file is stale: its pid is no
// longer running (the owner crashed), or it is this process's own pid while no database in
// this process holds the directory (a container restarted and got the same pid again).
// Known gap against flock: two openers taking over the same stale lock at the same instant
// can both win, and processes in different pid namespaces sharing a volume cannot see each
// other's pids. FORMAT.md "LOCK". The file goes through common's FileSystem layer; it is never
// synced (a LOCK file that a power cut leaves behind names a process that no longer runs).
import { join, resolve } from 'node:path';
import { errorCode, type FileSystem, nodeFileSystem } from '@ddia/common/fs';
import { isProcessAlive } from '@ddia/common/storage';
import { DatabaseLockedError } from './errors.js';

export const LOCK_FILE_NAME = 'LOCK';
/** Create-or-take-over attempts before giving up (another opener keeps racing us). */
const ACQUIRE_ATTEMPTS_MAX = 3;

/** Directories held by databases open in this process (the pid alone cannot tell them apart),
 *  per file system (a test's simulated machine is not the real one). */
const heldInProcess = new WeakMap<FileSystem, Set<string>>();

export class DirectoryLock {
  private released = false;

  private constructor(
    private readonly key: string,
    private readonly path: string,
    private readonly fs: FileSystem,
    private readonly held: Set<string>,
  ) {}

  /** Takes the lock on `dir`, or throws DatabaseLockedError naming the process that holds it. */
  static acquire(dir: string, fs: FileSystem = nodeFileSystem): DirectoryLock {
    const path = join(dir, LOCK_FILE_NAME);
    const key = resolve(path);
    let held = heldInProcess.get(fs);
    if (held === undefined) {
      held = new Set();
      heldInProcess.set(fs, held);
    }
    if (held.has(key)) throw new DatabaseLockedError(dir, process.pid, 'by this process');
    for (let attempt = 0; attempt < ACQUIRE_ATTEMPTS_MAX; attempt++) {
      try {
        const handle = fs.openSync(path, { write: true, create: true, exclusive: true });
        try {
          const pid = Buffer.from(`${process.pid}\n`);
          handle.writeSync(pid, 0, pid.length, 0);
        } finally {
          handle.closeSync();
        }
        held.add(key);
        return new DirectoryLock(key, path, fs, held);
      } catch (err) {
        if (errorCode(err) !== 'EEXIST') throw err;
      }
      let owner = Number.NaN;
      try {
        owner = Number.parseInt(Buffer.from(fs.readFileSync(path)).toString('utf8'), 10);
      } catch (err) {
        if (errorCode(err) === 'ENOENT') continue; // released meanwhile
        throw err;
      }
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isProcessAlive(owner))
        throw new DatabaseLockedError(dir, owner, `by process ${owner}`);
      // Stale: an empty or garbled file (a crash while creating it), or a dead owner.
      try {
        fs.unlinkSync(path);
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') throw err;
      }
    }
    throw new DatabaseLockedError(dir, 0, 'by another opener racing for it');
  }

  /** Removes the LOCK file (only while it still names this process). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.held.delete(this.key);
    try {
      const owner = Number.parseInt(Buffer.from(this.fs.readFileSync(this.path)).toString('utf8'), 10);
      if (owner === process.pid) this.fs.unlinkSync(this.path);
    } catch {
      // Already gone (the directory was removed): nothing to release.
    }
  }
}
