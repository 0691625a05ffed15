// The package's only direct file-system calls (block files and the WAL generation pointer),
// kept in one place so that they can move onto common's FileSystem layer when it lands.
// Durable replacement goes through common's writeFileAtomic.
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@ddia/common';

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

export async function listFiles(dir: string, suffix: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith(suffix)).sort();
}

export async function listDirs(dir: string, prefix: string): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && e.name.startsWith(prefix))
    .map((e) => e.name)
    .sort();
}

export async function readBytes(path: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(path));
}

export async function readTextOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

export async function writeDurably(path: string, contents: Uint8Array | string): Promise<void> {
  await writeFileAtomic(path, contents);
}

export async function remove(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

export { join };
