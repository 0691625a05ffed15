// The real file system: a thin layer over node:fs that adds nothing to the fast paths (one
// method call per write or sync; an async handle is node's own promises FileHandle, so writes
// still run on libuv's thread pool exactly as before). The sync point names are ignored here.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { FileHandle, FileStat, FileSystem, OpenOptions } from './file-system.js';

function openFlags(options: OpenOptions): number {
  const c = fs.constants;
  let flags = options.write ? c.O_RDWR : c.O_RDONLY;
  if (options.create) flags |= c.O_CREAT;
  if (options.exclusive) flags |= c.O_EXCL;
  if (options.truncate) flags |= c.O_TRUNC;
  if (options.dsync !== undefined) flags |= c.O_DSYNC;
  return flags;
}

function toStat(s: fs.Stats): FileStat {
  return { size: s.size, isFile: s.isFile(), isDirectory: s.isDirectory() };
}

/** Runs a callback-style node:fs call as a promise (handles opened with openSync). */
function call<T>(run: (done: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value))));
}

class NodeFileHandle implements FileHandle {
  readonly fd: number;
  constructor(
    readonly path: string,
    fdOrHandle: number | fsp.FileHandle,
  ) {
    if (typeof fdOrHandle === 'number') {
      this.fd = fdOrHandle;
      this.handle = null;
    } else {
      this.fd = fdOrHandle.fd;
      this.handle = fdOrHandle;
    }
  }
  private readonly handle: fsp.FileHandle | null;

  async read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    if (this.handle) return (await this.handle.read(buffer, offset, length, position)).bytesRead;
    return call<number>((done) => fs.read(this.fd, buffer, offset, length, position, done));
  }

  readSync(buffer: Uint8Array, offset: number, length: number, position: number): number {
    return fs.readSync(this.fd, buffer, offset, length, position);
  }

  async write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    if (this.handle) return (await this.handle.write(buffer, offset, length, position)).bytesWritten;
    return call<number>((done) => fs.write(this.fd, buffer, offset, length, position, done));
  }

  writeSync(buffer: Uint8Array, offset: number, length: number, position: number): number {
    return fs.writeSync(this.fd, buffer, offset, length, position);
  }

  datasync(): Promise<void> {
    if (this.handle) return this.handle.datasync();
    return call<void>((done) => fs.fdatasync(this.fd, (err) => done(err, undefined)));
  }

  datasyncSync(): void {
    fs.fdatasyncSync(this.fd);
  }

  sync(): Promise<void> {
    if (this.handle) return this.handle.sync();
    return call<void>((done) => fs.fsync(this.fd, (err) => done(err, undefined)));
  }

  truncate(length: number): Promise<void> {
    if (this.handle) return this.handle.truncate(length);
    return call<void>((done) => fs.ftruncate(this.fd, length, (err) => done(err, undefined)));
  }

  async stat(): Promise<FileStat> {
    if (this.handle) return toStat(await this.handle.stat());
    return toStat(await call<fs.Stats>((done) => fs.fstat(this.fd, done)));
  }

  close(): Promise<void> {
    if (this.handle) return this.handle.close();
    return call<void>((done) => fs.close(this.fd, (err) => done(err, undefined)));
  }

  closeSync(): void {
    fs.closeSync(this.fd);
  }
}

class NodeFileSystem implements FileSystem {
  async open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    return new NodeFileHandle(path, await fsp.open(path, openFlags(options), 0o644));
  }

  openSync(path: string, options: OpenOptions = {}): FileHandle {
    return new NodeFileHandle(path, fs.openSync(path, openFlags(options), 0o644));
  }

  async readFile(path: string): Promise<Uint8Array> {
    return fsp.readFile(path);
  }

  readFileSync(path: string): Uint8Array {
    return fs.readFileSync(path);
  }

  rename(from: string, to: string): Promise<void> {
    return fsp.rename(from, to);
  }

  unlink(path: string): Promise<void> {
    return fsp.unlink(path);
  }

  unlinkSync(path: string): void {
    fs.unlinkSync(path);
  }

  async mkdir(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    await fsp.mkdir(path, { recursive: options.recursive ?? false });
  }

  rmdir(path: string): Promise<void> {
    return fsp.rmdir(path);
  }

  readdir(path: string): Promise<string[]> {
    return fsp.readdir(path);
  }

  async stat(path: string): Promise<FileStat> {
    return toStat(await fsp.stat(path));
  }

  async fsyncDir(path: string): Promise<void> {
    const handle = await fsp.open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

/** The file system on node:fs: the default of every storage format. */
export const nodeFileSystem: FileSystem = new NodeFileSystem();
