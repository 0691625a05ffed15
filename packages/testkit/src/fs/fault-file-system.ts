// A file system in memory that forgets what a power cut forgets, deterministically from a
// seed. It implements common's `FileSystem`, so any storage format can run on it unchanged.
//
// The model (LevelDB's fault_injection_test, RocksDB's FaultInjectionTestFS, LazyFS, and the
// ALICE study's "All File Systems Are Not Created Equal", OSDI '14):
// - Each file has a durable image and the list of operations (writes, truncations) made since
//   its last fsync/fdatasync: the "page cache". A sync folds the list into the image; a write
//   through an O_DSYNC handle is durable by itself.
// - Each directory has its durable entries and the list of entry changes (create, rename,
//   unlink, mkdir) since its last directory fsync. A file fsync does not make its name durable.
// - `crash()` (or the crash that `crashAfterOps` triggers) keeps the durable state and a part
//   of the unsynced operations chosen by the crash mode: none, all, an in-order prefix whose
//   last write is torn at a 512-byte or 4 KiB boundary, or any subset of sectors (writes
//   reordered). Directory changes survive as an in-order prefix (file systems journal
//   metadata in order). Optionally a bit flips somewhere in a surviving file: the checksums'
//   turn to catch it.
// - Sync points named in `skipSyncPoints` are not performed (the call returns as if it had):
//   the mutation check proves that a crash test notices each one missing.
import { posix } from 'node:path';
import {
  type FileHandle,
  type FileStat,
  type FileSystem,
  type OpenOptions,
  SeededRandom,
  type SyncPoint,
} from '@ddia/common';

export type CrashMode = 'lose-all' | 'keep-all' | 'prefix' | 'reorder';
export const CRASH_MODES: readonly CrashMode[] = ['lose-all', 'keep-all', 'prefix', 'reorder'];
/** Sector sizes a torn write breaks at: a disk's sector and a page. */
export const TEAR_BYTES: readonly number[] = [512, 4096];

export interface FaultFileSystemOptions {
  seed: number;
  /** After this many mutating calls the machine "loses power": that call and every later one
   *  throws SimulatedCrashError (the in-flight write is kept, unsynced, for the crash to tear). */
  crashAfterOps?: number;
  /** Sync points to skip (mutation check): the call returns without making anything durable. */
  skipSyncPoints?: Iterable<SyncPoint>;
  /** Chance, per crash, that one bit flips in a surviving file (default 0). */
  bitFlipChance?: number;
  /** The crash mode of every crash; default: one chosen from the seed per crash. */
  crashMode?: CrashMode;
}

/** Thrown by every call once the simulated power is gone. */
export class SimulatedCrashError extends Error {
  override name = 'SimulatedCrashError';
  readonly code = 'EIO';
}

/**
 * Whether an error is what a power cut shows a caller: the crash itself, the crash as an error's
 * cause, or a log the cut closed under its writers (common's LogClosedError).
 */
export function isSimulatedCrash(err: unknown): boolean {
  return (
    err instanceof SimulatedCrashError ||
    (err instanceof Error && (err.name === 'LogClosedError' || err.cause instanceof SimulatedCrashError))
  );
}

/** Awaits an operation of a power-loss trial: a simulated crash is `{ ok: false }`, anything else throws. */
export async function settleUnlessCrash<T>(
  promise: Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false }> {
  try {
    return { ok: true, value: await promise };
  } catch (err) {
    if (isSimulatedCrash(err)) return { ok: false };
    throw err;
  }
}

/** What the last crash did, for a failing seed's report. */
export interface CrashReport {
  mode: CrashMode;
  tearBytes: number;
  opsLost: number;
  opsKept: number;
  dirChangesLost: number;
  bitFlip: { path: string; offset: number; bit: number } | null;
}

type FileOp =
  | { kind: 'write'; offset: number; bytes: Uint8Array; durable: boolean }
  | { kind: 'truncate'; length: number; durable: boolean };

class FileNode {
  readonly kind = 'file' as const;
  data: Uint8Array = new Uint8Array(0);
  durable: Uint8Array = new Uint8Array(0);
  pending: FileOp[] = [];
}

type DirChange =
  | { kind: 'link'; name: string; node: FsNode }
  | { kind: 'unlink'; name: string }
  | { kind: 'rename'; from: string; to: string; node: FsNode };

class DirNode {
  readonly kind = 'dir' as const;
  entries = new Map<string, FsNode>();
  durable = new Map<string, FsNode>();
  pending: DirChange[] = [];
}

type FsNode = FileNode | DirNode;

function fsError(code: string, syscall: string, path: string): Error {
  const err = new Error(`${code}: ${syscall} '${path}'`) as Error & { code: string; syscall: string };
  err.code = code;
  err.syscall = syscall;
  return err;
}

function writeInto(target: Uint8Array, offset: number, bytes: Uint8Array): Uint8Array {
  const end = offset + bytes.length;
  let out = target;
  if (end > target.length) {
    out = new Uint8Array(end);
    out.set(target);
  }
  out.set(bytes, offset);
  return out;
}

function truncateTo(target: Uint8Array, length: number): Uint8Array {
  if (length <= target.length) return target.slice(0, length);
  const out = new Uint8Array(length);
  out.set(target);
  return out;
}

export class FaultFileSystem implements FileSystem {
  private readonly root: DirNode;
  private readonly random: SeededRandom;
  private readonly skip: Set<SyncPoint>;
  private ops = 0;
  private crashLimit: number | undefined;
  private crashed = false;
  /** How often each sync point was called (skipped ones included). */
  readonly syncPointCalls = new Map<SyncPoint, number>();
  /** What the crash that made this file system's state did (null for a fresh one). */
  lastCrash: CrashReport | null = null;

  constructor(
    readonly options: FaultFileSystemOptions,
    root?: DirNode,
  ) {
    this.random = new SeededRandom(options.seed);
    this.skip = new Set(options.skipSyncPoints ?? []);
    this.root = root ?? FaultFileSystem.emptyRoot();
    this.crashLimit = options.crashAfterOps;
  }

  private static emptyRoot(): DirNode {
    return new DirNode();
  }

  /** Whether the power is gone (crashAfterOps reached, or crash() called). */
  get isCrashed(): boolean {
    return this.crashed;
  }

  /** Mutating calls made so far: the range to pick `crashAfterOps` from. */
  get opCount(): number {
    return this.ops;
  }

  /** Arms the power cut: it happens on the mutating call after `ops` more (0: the next one). */
  crashAfter(ops: number): void {
    this.crashLimit = this.ops + ops;
  }

  /**
   * Cuts the power: this file system refuses every further call, and the returned one holds
   * what survived, everything durable (as after a reboot), counting ops from zero.
   */
  crash(next: Partial<Omit<FaultFileSystemOptions, 'seed'>> & { seed?: number } = {}): FaultFileSystem {
    this.crashed = true;
    const mode = this.options.crashMode ?? this.random.pick(CRASH_MODES);
    const tearBytes = this.random.pick(TEAR_BYTES);
    const report: CrashReport = { mode, tearBytes, opsLost: 0, opsKept: 0, dirChangesLost: 0, bitFlip: null };
    const survivors = new Map<FsNode, FsNode>();
    const root = this.surviveDir(this.root, mode, tearBytes, report, survivors);
    const fresh = new FaultFileSystem(
      {
        ...this.options,
        crashAfterOps: undefined,
        ...next,
        seed: next.seed ?? this.random.int(0, 2 ** 31),
      },
      root,
    );
    if ((this.options.bitFlipChance ?? 0) > 0 && this.random.chance(this.options.bitFlipChance ?? 0)) {
      report.bitFlip = fresh.flipRandomBit(this.random);
    }
    fresh.lastCrash = report;
    return fresh;
  }

  private surviveDir(
    dir: DirNode,
    mode: CrashMode,
    tearBytes: number,
    report: CrashReport,
    survivors: Map<FsNode, FsNode>,
  ): DirNode {
    const kept = new Map(dir.durable);
    let keep = dir.pending.length;
    if (mode === 'lose-all') keep = 0;
    else if (mode !== 'keep-all') keep = this.random.int(0, dir.pending.length);
    report.dirChangesLost += dir.pending.length - keep;
    for (const change of dir.pending.slice(0, keep)) {
      if (change.kind === 'link') kept.set(change.name, change.node);
      else if (change.kind === 'unlink') kept.delete(change.name);
      else {
        kept.delete(change.from);
        kept.set(change.to, change.node);
      }
    }
    const out = new DirNode();
    for (const [name, node] of [...kept].sort(([a], [b]) => (a < b ? -1 : 1))) {
      let copy = survivors.get(node);
      if (!copy) {
        copy =
          node.kind === 'dir'
            ? this.surviveDir(node, mode, tearBytes, report, survivors)
            : this.surviveFile(node, mode, tearBytes, report);
        survivors.set(node, copy);
      }
      out.entries.set(name, copy);
      out.durable.set(name, copy);
    }
    return out;
  }

  private surviveFile(file: FileNode, mode: CrashMode, tearBytes: number, report: CrashReport): FileNode {
    let image: Uint8Array = file.durable;
    const pending = file.pending;
    // 'prefix': operations reached the disk in order up to a cut; the write at the cut is torn.
    const cut = mode === 'prefix' ? this.random.int(0, pending.length) : pending.length;
    // 'reorder': each sector was written back as of some point: it holds the first k of the
    // writes that touched it (k chosen per sector), whatever happened to its neighbours.
    const sectorWrites = new Map<number, number>();
    const sectorKeep = new Map<number, number>();
    if (mode === 'reorder') {
      for (const op of pending) {
        if (op.kind !== 'write' || op.durable) continue;
        for (const [from] of sectorsOf(op, tearBytes)) {
          const sector = Math.floor(from / tearBytes);
          sectorWrites.set(sector, (sectorWrites.get(sector) ?? 0) + 1);
        }
      }
      for (const [sector, writes] of sectorWrites) sectorKeep.set(sector, this.random.int(0, writes));
    }
    const seen = new Map<number, number>();
    pending.forEach((op, i) => {
      if (op.durable || mode === 'keep-all' || (mode === 'prefix' && i < cut)) {
        image = applyOp(image, op);
        report.opsKept++;
        return;
      }
      if (mode === 'lose-all' || mode === 'prefix') {
        if (mode === 'prefix' && i === cut && op.kind === 'write') {
          const sectors = sectorsOf(op, tearBytes);
          const keep = this.random.int(0, sectors.length - 1);
          for (const [from, to] of sectors.slice(0, keep)) {
            image = writeInto(image, from, op.bytes.subarray(from - op.offset, to - op.offset));
          }
        }
        report.opsLost++;
        return;
      }
      // reorder
      if (op.kind === 'truncate') {
        if (this.random.chance(0.5)) {
          image = applyOp(image, op);
          report.opsKept++;
        } else report.opsLost++;
        return;
      }
      let any = false;
      for (const [from, to] of sectorsOf(op, tearBytes)) {
        const sector = Math.floor(from / tearBytes);
        const nth = (seen.get(sector) ?? 0) + 1;
        seen.set(sector, nth);
        if (nth > (sectorKeep.get(sector) ?? 0)) continue;
        image = writeInto(image, from, op.bytes.subarray(from - op.offset, to - op.offset));
        any = true;
      }
      if (any) report.opsKept++;
      else report.opsLost++;
    });
    const out = new FileNode();
    out.data = image.slice();
    out.durable = image.slice();
    return out;
  }

  private flipRandomBit(random: SeededRandom): CrashReport['bitFlip'] {
    const files: [string, FileNode][] = [];
    const walk = (dir: DirNode, path: string) => {
      for (const [name, node] of dir.entries) {
        const child = path === '/' ? `/${name}` : `${path}/${name}`;
        if (node.kind === 'dir') walk(node, child);
        else if (node.data.length > 0) files.push([child, node]);
      }
    };
    walk(this.root, '/');
    if (files.length === 0) return null;
    const [path, file] = random.pick(files);
    const offset = random.int(0, file.data.length - 1);
    const bit = random.int(0, 7);
    file.data[offset]! ^= 1 << bit;
    file.durable[offset]! ^= 1 << bit;
    return { path, offset, bit };
  }

  /** Counts a mutating call; cuts the power when `crashAfterOps` is reached. */
  private tick(): void {
    this.alive();
    this.ops++;
    if (this.crashLimit !== undefined && this.ops > this.crashLimit) {
      this.crashed = true;
      throw new SimulatedCrashError(`power lost after ${this.crashLimit} operations`);
    }
  }

  private alive(): void {
    if (this.crashed) throw new SimulatedCrashError('power is off');
  }

  private skipped(point: SyncPoint): boolean {
    this.syncPointCalls.set(point, (this.syncPointCalls.get(point) ?? 0) + 1);
    return this.skip.has(point);
  }

  private lookup(path: string): { parent: DirNode; name: string; node: FsNode | undefined } {
    const normal = posix.resolve('/', path);
    if (normal === '/') return { parent: this.root, name: '', node: this.root };
    const parts = normal.slice(1).split('/');
    let dir = this.root;
    for (const part of parts.slice(0, -1)) {
      const next = dir.entries.get(part);
      if (!next) throw fsError('ENOENT', 'lookup', path);
      if (next.kind !== 'dir') throw fsError('ENOTDIR', 'lookup', path);
      dir = next;
    }
    const name = parts[parts.length - 1]!;
    return { parent: dir, name, node: dir.entries.get(name) };
  }

  private file(path: string, syscall: string): FileNode {
    const { node } = this.lookup(path);
    if (!node) throw fsError('ENOENT', syscall, path);
    if (node.kind !== 'file') throw fsError('EISDIR', syscall, path);
    return node;
  }

  private link(parent: DirNode, name: string, node: FsNode): void {
    parent.entries.set(name, node);
    parent.pending.push({ kind: 'link', name, node });
  }

  async open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    return this.openSync(path, options);
  }

  openSync(path: string, options: OpenOptions = {}): FileHandle {
    if (options.create || options.truncate) this.tick();
    else this.alive();
    const { parent, name, node } = this.lookup(path);
    let file: FileNode;
    if (node) {
      if (options.create && options.exclusive) throw fsError('EEXIST', 'open', path);
      if (node.kind !== 'file') {
        if (options.write) throw fsError('EISDIR', 'open', path);
        return new FaultDirHandle(path);
      }
      file = node;
    } else {
      if (!options.create) throw fsError('ENOENT', 'open', path);
      file = new FileNode();
      this.link(parent, name, file);
    }
    if (options.truncate && options.write) {
      file.data = new Uint8Array(0);
      file.pending.push({ kind: 'truncate', length: 0, durable: false });
    }
    const dsync = options.dsync !== undefined && !this.skipped(options.dsync);
    return new FaultFileHandle(this, path, file, options.write ?? false, dsync);
  }

  /** @internal the handle's operations, run against this file system's state */
  fileOp<T>(mutating: boolean, run: () => T): T {
    if (mutating) this.tick();
    else this.alive();
    return run();
  }

  /** @internal */
  syncFile(file: FileNode, point: SyncPoint): void {
    this.tick();
    if (this.skipped(point)) return;
    file.durable = file.data.slice();
    file.pending = [];
  }

  /** @internal */
  writeFile(file: FileNode, bytes: Uint8Array, position: number, dsync: boolean): void {
    this.tick();
    const copy = bytes.slice();
    file.data = writeInto(file.data, position, copy);
    if (dsync && file.pending.every((op) => op.durable)) {
      // Nothing unsynced before it: fold straight into the durable image.
      file.durable = writeInto(file.durable, position, copy);
      file.pending = [];
    } else {
      file.pending.push({ kind: 'write', offset: position, bytes: copy, durable: dsync });
    }
  }

  /** @internal */
  truncateFile(file: FileNode, length: number): void {
    this.tick();
    file.data = truncateTo(file.data, length);
    file.pending.push({ kind: 'truncate', length, durable: false });
  }

  async readFile(path: string): Promise<Uint8Array> {
    return this.readFileSync(path);
  }

  readFileSync(path: string): Uint8Array {
    this.alive();
    return Buffer.from(this.file(path, 'open').data);
  }

  async rename(from: string, to: string): Promise<void> {
    this.tick();
    const source = this.lookup(from);
    if (!source.node) throw fsError('ENOENT', 'rename', from);
    const target = this.lookup(to);
    if (target.node?.kind === 'dir') throw fsError('EISDIR', 'rename', to);
    source.parent.entries.delete(source.name);
    target.parent.entries.set(target.name, source.node);
    if (source.parent === target.parent) {
      source.parent.pending.push({ kind: 'rename', from: source.name, to: target.name, node: source.node });
    } else {
      target.parent.pending.push({ kind: 'link', name: target.name, node: source.node });
      source.parent.pending.push({ kind: 'unlink', name: source.name });
    }
  }

  async unlink(path: string): Promise<void> {
    this.unlinkSync(path);
  }

  unlinkSync(path: string): void {
    this.tick();
    const { parent, name, node } = this.lookup(path);
    if (!node) throw fsError('ENOENT', 'unlink', path);
    if (node.kind === 'dir') throw fsError('EISDIR', 'unlink', path);
    parent.entries.delete(name);
    parent.pending.push({ kind: 'unlink', name });
  }

  async mkdir(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    this.tick();
    const normal = posix.resolve('/', path);
    if (normal === '/') {
      if (options.recursive) return;
      throw fsError('EEXIST', 'mkdir', path);
    }
    const { parent, name, node } = options.recursive ? this.lookupCreating(normal) : this.lookup(normal);
    if (node) {
      if (options.recursive && node.kind === 'dir') return;
      throw fsError('EEXIST', 'mkdir', path);
    }
    this.link(parent, name, new DirNode());
  }

  private lookupCreating(normal: string): { parent: DirNode; name: string; node: FsNode | undefined } {
    const parts = normal.slice(1).split('/');
    let dir = this.root;
    for (const part of parts.slice(0, -1)) {
      let next = dir.entries.get(part);
      if (!next) {
        next = new DirNode();
        this.link(dir, part, next);
      }
      if (next.kind !== 'dir') throw fsError('ENOTDIR', 'mkdir', normal);
      dir = next;
    }
    const name = parts[parts.length - 1]!;
    return { parent: dir, name, node: dir.entries.get(name) };
  }

  async rmdir(path: string): Promise<void> {
    this.tick();
    const { parent, name, node } = this.lookup(path);
    if (!node) throw fsError('ENOENT', 'rmdir', path);
    if (node.kind !== 'dir') throw fsError('ENOTDIR', 'rmdir', path);
    if (node === this.root) throw fsError('EBUSY', 'rmdir', path);
    if (node.entries.size > 0) throw fsError('ENOTEMPTY', 'rmdir', path);
    parent.entries.delete(name);
    parent.pending.push({ kind: 'unlink', name });
  }

  async readdir(path: string): Promise<string[]> {
    this.alive();
    const { node } = this.lookup(path);
    if (!node) throw fsError('ENOENT', 'scandir', path);
    if (node.kind !== 'dir') throw fsError('ENOTDIR', 'scandir', path);
    return [...node.entries.keys()].sort();
  }

  async stat(path: string): Promise<FileStat> {
    this.alive();
    const { node } = this.lookup(path);
    if (!node) throw fsError('ENOENT', 'stat', path);
    return node.kind === 'dir'
      ? { size: 4096, isFile: false, isDirectory: true }
      : { size: node.data.length, isFile: true, isDirectory: false };
  }

  async fsyncDir(path: string, point: SyncPoint): Promise<void> {
    this.tick();
    const { node } = this.lookup(path);
    if (!node) throw fsError('ENOENT', 'open', path);
    if (node.kind !== 'dir') throw fsError('ENOTDIR', 'fsync', path);
    if (this.skipped(point)) return;
    node.durable = new Map(node.entries);
    node.pending = [];
  }

  /** Every file's current contents by path (the process's view, before any crash). */
  snapshot(): Map<string, Uint8Array> {
    this.alive();
    const out = new Map<string, Uint8Array>();
    const walk = (dir: DirNode, path: string) => {
      for (const [name, node] of dir.entries) {
        const child = path === '/' ? `/${name}` : `${path}/${name}`;
        if (node.kind === 'dir') walk(node, child);
        else out.set(child, node.data.slice());
      }
    };
    walk(this.root, '/');
    return out;
  }
}

/** The pieces of a write, split on the file's grid of `tearBytes` sectors. */
function sectorsOf(op: { offset: number; bytes: Uint8Array }, tearBytes: number): [number, number][] {
  const sectors: [number, number][] = [];
  const end = op.offset + op.bytes.length;
  for (let at = op.offset; at < end; ) {
    const next = Math.min(end, (Math.floor(at / tearBytes) + 1) * tearBytes);
    sectors.push([at, next]);
    at = next;
  }
  return sectors;
}

function applyOp(image: Uint8Array, op: FileOp): Uint8Array {
  return op.kind === 'write' ? writeInto(image, op.offset, op.bytes) : truncateTo(image, op.length);
}

class FaultFileHandle implements FileHandle {
  private closed = false;
  constructor(
    private readonly fs: FaultFileSystem,
    readonly path: string,
    private readonly file: FileNode,
    private readonly writable: boolean,
    private readonly dsync: boolean,
  ) {}

  private open(): void {
    if (this.closed) throw fsError('EBADF', 'fd', this.path);
  }

  private writableOrThrow(syscall: string): void {
    this.open();
    if (!this.writable) throw fsError('EBADF', syscall, this.path);
  }

  async read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return this.readSync(buffer, offset, length, position);
  }

  readSync(buffer: Uint8Array, offset: number, length: number, position: number): number {
    return this.fs.fileOp(false, () => {
      this.open();
      const data = this.file.data;
      const n = Math.max(0, Math.min(length, data.length - position));
      buffer.set(data.subarray(position, position + n), offset);
      return n;
    });
  }

  async write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return this.writeSync(buffer, offset, length, position);
  }

  writeSync(buffer: Uint8Array, offset: number, length: number, position: number): number {
    this.writableOrThrow('write');
    this.fs.writeFile(this.file, buffer.subarray(offset, offset + length), position, this.dsync);
    return length;
  }

  async datasync(point: SyncPoint): Promise<void> {
    this.datasyncSync(point);
  }

  datasyncSync(point: SyncPoint): void {
    this.open();
    this.fs.syncFile(this.file, point);
  }

  async sync(point: SyncPoint): Promise<void> {
    this.datasyncSync(point);
  }

  async truncate(length: number): Promise<void> {
    this.writableOrThrow('ftruncate');
    this.fs.truncateFile(this.file, length);
  }

  async stat(): Promise<FileStat> {
    return this.fs.fileOp(false, () => {
      this.open();
      return { size: this.file.data.length, isFile: true, isDirectory: false };
    });
  }

  async close(): Promise<void> {
    this.closeSync();
  }

  closeSync(): void {
    // Closing works even without power, as a crashed process's descriptors just vanish.
    this.closed = true;
  }
}

/** A directory opened read-only (what fsyncDir does on the real file system). */
class FaultDirHandle implements FileHandle {
  constructor(readonly path: string) {}
  private refuse(): never {
    throw fsError('EISDIR', 'read', this.path);
  }
  async read(): Promise<number> {
    this.refuse();
  }
  readSync(): number {
    this.refuse();
  }
  async write(): Promise<number> {
    this.refuse();
  }
  writeSync(): number {
    this.refuse();
  }
  // Syncing a directory goes through FileSystem.fsyncDir, which names its sync point.
  async datasync(): Promise<void> {
    this.refuse();
  }
  datasyncSync(): void {
    this.refuse();
  }
  async sync(): Promise<void> {
    this.refuse();
  }
  async truncate(): Promise<void> {
    this.refuse();
  }
  async stat(): Promise<FileStat> {
    return { size: 4096, isFile: false, isDirectory: true };
  }
  async close(): Promise<void> {}
  closeSync(): void {}
}
