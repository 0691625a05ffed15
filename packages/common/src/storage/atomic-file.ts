// Replacing a file so that a crash leaves either the old or the new contents, never a mix:
// write a temp file, fsync it, rename over the target, fsync the directory so that the
// rename itself is durable (the step most code forgets; see LevelDB's SetCurrentFile).
import { basename, dirname, join } from 'node:path';
import type { FileSystem, SyncPoint } from '../fs/file-system.js';
import { nodeFileSystem } from '../fs/node-file-system.js';

export interface AtomicFileOptions {
  /** The file system to write through (default: the real one). */
  fs?: FileSystem;
  /**
   * Prefix of this call site's sync point names: `<prefix>.file` (the temp file's fsync) and
   * `<prefix>.dir` (the directory's fsync after the rename). Default 'atomic'.
   */
  syncPoint?: SyncPoint;
}

/** The temp file's fsync: without it the rename can expose an empty or partial file. */
export const ATOMIC_FILE_SYNC = 'file';
/** The directory's fsync after the rename: without it the rename can revert. */
export const ATOMIC_DIR_SYNC = 'dir';

let tempCounter = 0;

export async function fsyncDir(
  dir: string,
  fs: FileSystem = nodeFileSystem,
  point: SyncPoint = 'dir',
): Promise<void> {
  await fs.fsyncDir(dir, point);
}

export async function writeFileAtomic(
  path: string,
  contents: Uint8Array | string,
  options: AtomicFileOptions = {},
): Promise<void> {
  const fs = options.fs ?? nodeFileSystem;
  const prefix = options.syncPoint ?? 'atomic';
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.${tempCounter++}.tmp`);
  const bytes = typeof contents === 'string' ? Buffer.from(contents) : contents;
  const handle = await fs.open(temp, { write: true, create: true, truncate: true });
  try {
    let written = 0;
    while (written < bytes.length) {
      written += await handle.write(bytes, written, bytes.length - written, written);
    }
    await handle.sync(`${prefix}.${ATOMIC_FILE_SYNC}`);
  } catch (err) {
    await handle.close().catch(() => {});
    await fs.unlink(temp).catch(() => {});
    throw err;
  }
  await handle.close();
  await fs.rename(temp, path);
  await fs.fsyncDir(dir, `${prefix}.${ATOMIC_DIR_SYNC}`);
}
