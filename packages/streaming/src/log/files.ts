// The broker's only file-system calls outside common's Log: directories for topics,
// partitions and log generations, and small JSON state files. Everything goes through
// common's `FileSystem`, so that the power-loss test (test/broker-power-loss.test.ts) can run
// the broker on testkit's FaultFileSystem, which forgets what a power cut forgets.
import { join } from 'node:path';
import { errorCode, type FileSystem, mkdirDurable, writeFileAtomic } from '@ddia/common';

/** The broker's own sync points (common's Log names its own: LOG_SYNC). */
export const STREAMING_SYNC = {
  /** writeFileAtomic of topics' meta.json (prefix: `.file`, `.dir`). */
  topicsMeta: 'streaming.topics.meta',
  /** writeFileAtomic of a log generation's CURRENT.json (prefix: `.file`, `.dir`). */
  generationCurrent: 'streaming.generation.current',
  /** The parent directory's fsync after the broker creates a directory. */
  dirCreate: 'streaming.dir.create',
} as const;

async function isDirectory(fs: FileSystem, path: string): Promise<boolean> {
  try {
    return (await fs.stat(path)).isDirectory;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/** Creates `dir` and any missing parent, each made durable in its parent (common's mkdirDurable). */
export function ensureDir(fs: FileSystem, dir: string): Promise<void> {
  return mkdirDurable(fs, dir, STREAMING_SYNC.dirCreate);
}

export async function listDirs(fs: FileSystem, dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  }
  const out: string[] = [];
  for (const name of names) if (await isDirectory(fs, join(dir, name))) out.push(name);
  return out.sort();
}

/** Reads a JSON state file, or null when it does not exist yet. */
export async function readJson<T>(fs: FileSystem, path: string): Promise<T | null> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return null;
    throw err;
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (err) {
    // Written only by writeJson (fsync, rename, fsync): a torn file means a broken disk or a
    // skipped sync, and guessing its contents could resurrect deleted topics.
    throw new Error(`${path} is not valid JSON (${(err as Error).message}): refusing to start on it`);
  }
}

/** Replaces a JSON state file atomically (write, fsync, rename, fsync the directory). */
export async function writeJson(
  fs: FileSystem,
  path: string,
  value: unknown,
  syncPoint: string,
): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, { fs, syncPoint });
}

export { join };
