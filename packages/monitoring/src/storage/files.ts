// The TSDB's file operations (block files, the WAL generation pointer, directories), all through
// common's FileSystem layer, so that a test can run the whole TSDB on testkit's FaultFileSystem
// and cut the power (test/tsdb-power-loss.test.ts). Durable replacement goes through common's
// writeFileAtomic; every call that makes something durable names its sync point (below).
import { join } from 'node:path';
import { errorCode, type FileSystem, mkdirDurable, writeFileAtomic } from '@ddia/common';

/** The TSDB's sync points (FaultFileSystem can skip one to prove the crash test notices). */
export const TSDB_SYNC = {
  /** writeFileAtomic of a block file: `.file` (its fsync) and `.dir` (blocks/ after the rename). */
  block: 'tsdb.block',
  /** writeFileAtomic of WAL_CURRENT: `.file` and `.dir` (the data dir after the rename). */
  walCurrent: 'tsdb.wal-current',
  /** The parent's fsync after the data dir or blocks/ is created. */
  mkdir: 'tsdb.mkdir',
} as const;

export class TsdbFiles {
  constructor(readonly fs: FileSystem) {}

  /**
   * Creates `dir` and missing parents, fsyncing each parent after it gains an entry: a block
   * written into a blocks/ directory whose own name was never made durable vanishes with it.
   */
  ensureDurableDir(dir: string): Promise<void> {
    return mkdirDurable(this.fs, dir, TSDB_SYNC.mkdir);
  }

  async listFiles(dir: string, suffix: string): Promise<string[]> {
    return (await this.fs.readdir(dir)).filter((n) => n.endsWith(suffix)).sort();
  }

  async listDirs(dir: string, prefix: string): Promise<string[]> {
    const out: string[] = [];
    for (const name of await this.fs.readdir(dir)) {
      if (name.startsWith(prefix) && (await this.fs.stat(join(dir, name))).isDirectory) out.push(name);
    }
    return out.sort();
  }

  readBytes(path: string): Promise<Uint8Array> {
    return this.fs.readFile(path);
  }

  async readTextOrNull(path: string): Promise<string | null> {
    try {
      return new TextDecoder().decode(await this.fs.readFile(path));
    } catch (e) {
      if (errorCode(e) === 'ENOENT') return null;
      throw e;
    }
  }

  /** Replaces `path` atomically and durably (temp file, fsync, rename, directory fsync). */
  writeDurably(path: string, contents: Uint8Array | string, syncPoint: string): Promise<void> {
    return writeFileAtomic(path, contents, { fs: this.fs, syncPoint });
  }

  /**
   * Removes a file or a directory tree; missing is fine. Not made durable: every removal the
   * TSDB makes is of something already superseded durably (an old WAL generation after
   * WAL_CURRENT moved on, a block past retention), and open() deletes what a crash left.
   */
  async remove(path: string): Promise<void> {
    let isDirectory: boolean;
    try {
      isDirectory = (await this.fs.stat(path)).isDirectory;
    } catch (e) {
      if (errorCode(e) === 'ENOENT') return;
      throw e;
    }
    if (!isDirectory) {
      await this.fs.unlink(path);
      return;
    }
    for (const name of await this.fs.readdir(path)) await this.remove(join(path, name));
    await this.fs.rmdir(path);
  }
}

export { join };
