// A Log that can be rewritten as a whole, crash-safely: compaction writes the surviving
// records into a new generation directory, makes it durable, then flips a CURRENT file
// (atomic rename) to point at it, then deletes the old generation. A crash at any point
// leaves either the old or the new generation current, never a mix: the same trick as
// LevelDB's CURRENT -> MANIFEST switch.
import { type FileSystem, type FsyncPolicy, Log, nodeFileSystem, removeTree } from '@ddia/common';
import { join, listDirs, readJson, STREAMING_SYNC, writeJson } from './files.js';

const CURRENT_FILE = 'CURRENT.json';

export interface GenerationalLogOptions {
  dir: string;
  fsync: FsyncPolicy;
  segmentBytesMax?: number;
  /** The file system to store the generations on (default: the real one). */
  fs?: FileSystem;
}

function generationDir(dir: string, generation: number): string {
  return join(dir, `gen-${String(generation).padStart(6, '0')}`);
}

export class GenerationalLog {
  private constructor(
    private readonly options: GenerationalLogOptions,
    public log: Log,
    public generation: number,
  ) {}

  private get fs(): FileSystem {
    return this.options.fs ?? nodeFileSystem;
  }

  static async open(options: GenerationalLogOptions): Promise<GenerationalLog> {
    const fs = options.fs ?? nodeFileSystem;
    const current =
      (await readJson<{ generation: number }>(fs, join(options.dir, CURRENT_FILE)))?.generation ?? 0;
    // Leftovers of a rewrite that crashed before or after the flip.
    for (const name of await listDirs(fs, options.dir)) {
      if (name.startsWith('gen-') && name !== `gen-${String(current).padStart(6, '0')}`) {
        await removeTree(fs, join(options.dir, name));
      }
    }
    const log = await Log.open({
      dir: generationDir(options.dir, current),
      fsync: options.fsync,
      segmentBytesMax: options.segmentBytesMax,
      fs,
    });
    return new GenerationalLog(options, log, current);
  }

  /** Replaces every record with `records`, atomically with respect to crashes. */
  async rewrite(records: Uint8Array[]): Promise<void> {
    const next = this.generation + 1;
    const dir = generationDir(this.options.dir, next);
    await removeTree(this.fs, dir);
    const fresh = await Log.open({
      dir,
      fsync: this.options.fsync,
      segmentBytesMax: this.options.segmentBytesMax,
      fs: this.fs,
    });
    if (records.length > 0) await fresh.appendBatch(records, { sync: true });
    await fresh.sync();
    await writeJson(
      this.fs,
      join(this.options.dir, CURRENT_FILE),
      { generation: next },
      STREAMING_SYNC.generationCurrent,
    );
    const old = this.log;
    const oldDir = generationDir(this.options.dir, this.generation);
    this.log = fresh;
    this.generation = next;
    await old.close();
    await removeTree(this.fs, oldDir);
  }

  close(): Promise<void> {
    return this.log.close();
  }
}
