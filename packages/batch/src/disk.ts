// Every file-system call of the batch engine lives here. Input splits and scratch files (map
// runs, spills, a reduce's temporary part) use node:fs directly: nothing durable depends on
// them. Every write that a durable state depends on (a committed part file, `_SUCCESS`, job
// records, the ETL warehouse's partitions, dead letters and watermark) goes through common's
// `FileSystem` layer with a named sync point (BATCH_SYNC), so that testkit's FaultFileSystem
// can drop what a power cut drops (test/power-loss.test.ts). Task threads import only the light
// `@ddia/common/fs` entry, not the whole package.
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errorCode, type FileSystem, nodeFileSystem } from '@ddia/common/fs';

/**
 * The batch engine's named sync points (see FORMAT.md, "Crash safety"). Prefixes used with
 * writeFileAtomic name two points each: `<prefix>.file` and `<prefix>.dir`.
 */
export const BATCH_SYNC = {
  /** A committed part file's fsync before its rename: a visible part file is whole. */
  partFile: 'batch.part.file',
  /** The output directory's fsync after a part file's rename (the commit's `_SUCCESS` fsync
   *  of the same directory also covers it). */
  partDir: 'batch.part.dir',
  /** Each new parent's fsync when the output directory is made at submission. */
  outputDir: 'batch.output.dir',
  /** The output directory's fsync after `_SUCCESS` is created: the marker survives. */
  success: 'batch.success.dir',
  /** Each new parent's fsync when `jobs/` (and --data-dir) is made. */
  jobsDir: 'batch.jobs.dir',
  /** writeFileAtomic prefix of a job record (`.file`, `.dir`). */
  record: 'batch.record',
  /** Each new parent's fsync when a warehouse directory (a `date=D` partition, `_rejected`) is made. */
  etlDir: 'etl.dir',
  /** writeFileAtomic prefix of a partition's Parquet file. */
  etlPartition: 'etl.partition',
  /** writeFileAtomic prefix of a raw file's dead letters. */
  etlRejected: 'etl.rejected',
  /** writeFileAtomic prefix of the watermark. */
  etlWatermark: 'etl.watermark',
} as const;

/** A line longer than this is refused rather than read into memory whole. */
export const LINE_BYTES_MAX = 16 * 1024 * 1024;
const READ_CHUNK_BYTES = 64 * 1024;

/** The files under a path (the path itself when it is a file), sorted, hidden files skipped. */
export async function listFiles(path: string): Promise<{ path: string; bytes: number }[]> {
  const info = await stat(path);
  if (info.isFile()) return [{ path, bytes: info.size }];
  const out: { path: string; bytes: number }[] = [];
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    if (entry.name.startsWith('.') || entry.name.startsWith('_')) continue;
    out.push(...(await listFiles(join(path, entry.name))));
  }
  return out;
}

/**
 * The bytes of a split: from the first line that starts in [start, end) through the end of
 * the last such line. A split that does not start at 0 skips the line it starts inside of.
 */
export async function readSplitBytes(
  path: string,
  start: number,
  end: number,
): Promise<{ bytes: Buffer; from: number }> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    const from = start > 0 ? await lineStartFrom(handle, start - 1, size, path) : 0;
    if (from >= end) return { bytes: Buffer.alloc(0), from: Math.min(from, size) };
    // The end of the line that crosses `end` is found first, so that the split is read with one
    // read into one buffer it fills (no zeroing, no concatenation: a 64 MiB split once spent
    // about a tenth of its reading and parsing time copying itself).
    const to = end >= size ? size : await lineStartFrom(handle, end - 1, size, path);
    const bytes = Buffer.allocUnsafe(to - from);
    let filled = 0;
    while (filled < bytes.length) {
      const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, from + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return { bytes: bytes.subarray(0, filled), from };
  } finally {
    await handle.close();
  }
}

/** One past the first '\n' at or after `pos` (the start of the next line), or the file's size. */
async function lineStartFrom(handle: FileHandle, pos: number, size: number, path: string): Promise<number> {
  const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  for (let at = pos; at < size; ) {
    const { bytesRead } = await handle.read(chunk, 0, READ_CHUNK_BYTES, at);
    if (bytesRead === 0) break;
    const nl = chunk.subarray(0, bytesRead).indexOf(10);
    if (nl >= 0) return at + nl + 1;
    at += bytesRead;
    if (at - pos > LINE_BYTES_MAX) throw new Error(`${path}: a line longer than ${LINE_BYTES_MAX} bytes`);
  }
  return size;
}

/** The first line of a file (a CSV header), without its newline. */
export async function readFirstLine(path: string): Promise<string> {
  const stream = createReadStream(path, { start: 0, end: LINE_BYTES_MAX });
  let text = '';
  for await (const chunk of stream) {
    text += (chunk as Buffer).toString('utf8');
    const nl = text.indexOf('\n');
    if (nl >= 0) {
      stream.destroy();
      return text.slice(0, nl).replace(/\r$/, '');
    }
  }
  return text.replace(/\r$/, '');
}

/** The 1-based line number of byte `offset` in a file (for error messages only). */
export async function lineNumberAt(path: string, offset: number): Promise<number> {
  let line = 1;
  const stream = createReadStream(path, { start: 0, end: Math.max(0, offset - 1) });
  for await (const chunk of stream) {
    for (const byte of chunk as Buffer) if (byte === 10) line++;
  }
  return offset === 0 ? 1 : line;
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}

export async function readBytes(path: string): Promise<Buffer> {
  return readFile(path);
}

export async function readText(path: string): Promise<string> {
  return readFile(path, 'utf8');
}

export async function ensureDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true });
}

export async function removeAll(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

export async function writeBytes(path: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
}

/**
 * Write-then-rename: a reader sees the old file or the whole new one, never part of one.
 * The temp file must be in the destination's directory (a rename does not cross file systems).
 */
export async function commitFile(
  tempPath: string,
  finalPath: string,
  fs: FileSystem = nodeFileSystem,
): Promise<void> {
  const handle = await fs.open(tempPath, { write: true });
  try {
    await handle.sync(BATCH_SYNC.partFile);
  } finally {
    await handle.close();
  }
  await fs.rename(tempPath, finalPath);
  await fs.fsyncDir(dirname(finalPath), BATCH_SYNC.partDir);
}

/** Whether a path exists on a FileSystem. */
export async function existsOn(fs: FileSystem, path: string): Promise<boolean> {
  try {
    await fs.stat(path);
    return true;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/** A directory's sorted names on a FileSystem, none when it is missing. */
export async function listNamesOn(fs: FileSystem, dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).sort();
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  }
}

/** Creates an empty file and makes its name durable (a marker such as `_SUCCESS`). */
export async function createMarker(fs: FileSystem, path: string, syncPoint: string): Promise<void> {
  const handle = await fs.open(path, { write: true, create: true, truncate: true });
  await handle.close();
  await fs.fsyncDir(dirname(path), syncPoint);
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function listNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

/** Appends text to a file through a bounded buffer (reduce output, dead letters). */
export class TextSink {
  private chunks: string[] = [];
  private buffered = 0;
  private handle: Awaited<ReturnType<typeof open>> | null = null;
  bytes = 0;

  constructor(
    readonly path: string,
    private readonly flushBytes = 1024 * 1024,
  ) {}

  async write(text: string): Promise<void> {
    this.chunks.push(text);
    this.buffered += text.length;
    if (this.buffered >= this.flushBytes) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.handle) {
      await mkdir(dirname(this.path), { recursive: true });
      this.handle = await open(this.path, 'w');
    }
    if (this.chunks.length === 0) return;
    const buffer = Buffer.from(this.chunks.join(''), 'utf8');
    this.chunks = [];
    this.buffered = 0;
    this.bytes += buffer.length;
    await this.handle.write(buffer);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.handle!.sync();
    await this.handle!.close();
    this.handle = null;
  }
}
