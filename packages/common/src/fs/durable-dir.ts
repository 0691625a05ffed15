// Creating a directory so that its name survives a power cut: each new directory's parent is
// fsynced after it gains the entry (a file synced into a directory whose own name was never
// made durable vanishes with it). Used by every format that creates its own directory.
import { dirname } from 'node:path';
import { errorCode, type FileSystem, type SyncPoint } from './file-system.js';

/** Creates `dir` and its missing parents, fsyncing each parent (at `syncPoint`) after it gains an entry. */
export async function mkdirDurable(fs: FileSystem, dir: string, syncPoint: SyncPoint): Promise<void> {
  const exists = await fs.stat(dir).then(
    (s) => s.isDirectory,
    (err) => {
      if (errorCode(err) === 'ENOENT') return false;
      throw err;
    },
  );
  if (exists) return;
  const parent = dirname(dir);
  if (parent !== dir) await mkdirDurable(fs, parent, syncPoint);
  await fs.mkdir(dir).catch((err) => {
    // Another opener may have made it meanwhile.
    if (errorCode(err) !== 'EEXIST') throw err;
  });
  await fs.fsyncDir(parent, syncPoint);
}
