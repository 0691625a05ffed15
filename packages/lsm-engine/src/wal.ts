// The write-ahead log (book ch. 3 "Making B-trees reliable" and "Constructing and
// maintaining SSTables": every write is appended to a log on disk before it enters the
// memtable, so a crash loses nothing acknowledged). One record per write batch, in common's
// segmented Log format (length + CRC32C framing, torn-tail recovery; FORMAT.md "WAL record").
//
// Opening and replay go through common's Log (it cuts a torn tail and refuses damage in the
// middle). Appends then go through a synchronous appender that writes the same segment
// files with write(2) on the caller's thread, as LevelDB's log::Writer does inside
// DBImpl::Write: a non-sync write reaches the page cache (and so survives a process crash)
// before it is acknowledged, without a trip to libuv's thread pool per write (about 4 us
// instead of about 100 us on a loaded 2-core machine; see README "Benchmarks"). Only the
// fdatasync for `sync: true` writes runs on the thread pool, and writers that arrive while
// one runs share the next (group commit). Every file call goes through common's FileSystem
// layer (`fs`), so the power-loss test runs this very code on testkit's FaultFileSystem.
// Common's Log has no synchronous append yet; that is why this appender still exists.
import { join } from 'node:path';
import {
  assert,
  CorruptLogError,
  encodeRecords,
  type FileHandle,
  type FileSystem,
  Log,
  nodeFileSystem,
  SEGMENT_FILE_NAME,
  segmentFileName,
} from '@ddia/common';
import { CorruptWalError } from './errors.js';
import { KIND_DELETE, KIND_PUT } from './internal-key.js';
import { LSM_SYNC } from './sync-points.js';
import { putVarint32 } from './varint.js';

/** Small segments let the log drop flushed records soon after each flush. */
export const WAL_SEGMENT_BYTES_DEFAULT = 4 * 1024 * 1024;
const BATCH_HEADER_BYTES = 8 + 4;

export interface WriteOp {
  kind: number;
  key: Buffer;
  value: Buffer;
}

/** Encodes a batch: first sequence (u64 LE), count (u32 LE), then each operation. */
export function encodeBatch(firstSeq: number, ops: readonly WriteOp[]): Buffer {
  let bytes = BATCH_HEADER_BYTES;
  for (const op of ops) bytes += 1 + 5 + op.key.length + (op.kind === KIND_PUT ? 5 + op.value.length : 0);
  const out = Buffer.allocUnsafe(bytes);
  out.writeUIntLE(firstSeq, 0, 6);
  out.writeUInt16LE(0, 6);
  out.writeUInt32LE(ops.length, 8);
  let at = BATCH_HEADER_BYTES;
  for (const op of ops) {
    out[at++] = op.kind;
    at = putVarint32(out, at, op.key.length);
    op.key.copy(out, at);
    at += op.key.length;
    if (op.kind === KIND_PUT) {
      at = putVarint32(out, at, op.value.length);
      op.value.copy(out, at);
      at += op.value.length;
    }
  }
  return out.subarray(0, at);
}

/** Decodes a batch record; throws RangeError on malformed bytes. Returns the first sequence. */
export function decodeBatch(
  record: Uint8Array,
  visit: (seq: number, kind: number, key: Buffer, value: Buffer) => void,
  copy = true,
): { firstSeq: number; count: number } {
  return decodeBatchRaw(record, (seq, kind, bytes, keyStart, keyLength, valueStart, valueLength) => {
    // copy: false hands out views into the record (the caller keeps the record alive).
    const key = bytes.subarray(keyStart, keyStart + keyLength);
    const value = kind === KIND_PUT ? bytes.subarray(valueStart, valueStart + valueLength) : EMPTY;
    visit(seq, kind, copy ? Buffer.from(key) : key, copy && value !== EMPTY ? Buffer.from(value) : value);
  });
}

/**
 * decodeBatch() by position: each operation's key and value as offsets into the record's
 * bytes, so that the memtable copies them straight from the record (no view per operation).
 */
export function decodeBatchRaw(
  record: Uint8Array,
  visit: (
    seq: number,
    kind: number,
    bytes: Buffer,
    keyStart: number,
    keyLength: number,
    valueStart: number,
    valueLength: number,
  ) => void,
): { firstSeq: number; count: number } {
  const bytes = Buffer.isBuffer(record)
    ? record
    : Buffer.from(record.buffer, record.byteOffset, record.byteLength);
  const end = bytes.length;
  if (end < BATCH_HEADER_BYTES) throw new RangeError('batch record shorter than its header');
  const firstSeq = bytes.readUIntLE(0, 6);
  const count = bytes.readUInt32LE(8);
  let at = BATCH_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (at >= end) throw new RangeError(`operation ${i} of ${count} missing`);
    const kind = bytes[at++]!;
    if (kind !== KIND_PUT && kind !== KIND_DELETE) throw new RangeError(`unknown operation kind ${kind}`);
    // Varint lengths (at most 5 bytes, as putVarint32 writes them).
    let keyLength = 0;
    for (let shift = 0; ; shift += 7) {
      if (at >= end || shift > 28) throw new RangeError('length runs past the record');
      const b = bytes[at++]!;
      keyLength |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    keyLength >>>= 0;
    const keyStart = at;
    if (at + keyLength > end) throw new RangeError('key runs past the record');
    at += keyLength;
    let valueLength = 0;
    const valueStartAt = at;
    let valueStart = at;
    if (kind === KIND_PUT) {
      for (let shift = 0; ; shift += 7) {
        if (at >= end || shift > 28) throw new RangeError('length runs past the record');
        const b = bytes[at++]!;
        valueLength |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
      valueLength >>>= 0;
      valueStart = at;
      if (at + valueLength > end) throw new RangeError('value runs past the record');
      at += valueLength;
    } else valueStart = valueStartAt;
    visit(firstSeq + i, kind, bytes, keyStart, keyLength, valueStart, valueLength);
  }
  if (at !== end) throw new RangeError(`${end - at} trailing bytes after ${count} operations`);
  return { firstSeq, count };
}

/** An operation as abstract-level hands it to _batch (keys and values already encoded). */
export interface LevelOperation {
  type: 'put' | 'del';
  key: Buffer;
  value?: Buffer;
}

/**
 * encodeBatch() straight from abstract-level's operations, without a WriteOp per operation.
 * The first sequence is left 0: the writer sets it (setBatchSequence) when it takes the batch.
 */
export function encodeOperations(ops: readonly LevelOperation[]): { record: Buffer; userBytes: number } {
  let bytes = BATCH_HEADER_BYTES;
  let userBytes = 0;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const keyLength = op.key.length;
    if (op.type === 'put') {
      const valueLength = op.value === undefined ? 0 : op.value.length;
      bytes += 11 + keyLength + valueLength;
      userBytes += keyLength + valueLength;
    } else {
      bytes += 6 + keyLength;
      userBytes += keyLength;
    }
  }
  const out = Buffer.allocUnsafe(bytes);
  out.fill(0, 0, 8);
  out.writeUInt32LE(ops.length, 8);
  let at = BATCH_HEADER_BYTES;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const put = op.type === 'put';
    out[at++] = put ? KIND_PUT : KIND_DELETE;
    at = putBytes(out, at, op.key);
    if (put) at = putBytes(out, at, op.value ?? EMPTY);
  }
  return { record: out.subarray(0, at), userBytes };
}

/** Sets a batch record's first sequence number (bytes 0..6 of its header). */
export function setBatchSequence(record: Buffer, firstSeq: number): void {
  record.writeUIntLE(firstSeq, 0, 6);
}

/** A varint length, then the bytes; short runs copied by a loop (a native call costs more). */
function putBytes(out: Buffer, at: number, bytes: Uint8Array): number {
  const n = bytes.length;
  at = putVarint32(out, at, n);
  if (n > 32) out.set(bytes, at);
  else for (let i = 0; i < n; i++) out[at + i] = bytes[i]!;
  return at + n;
}

const EMPTY: Buffer = Buffer.alloc(0);

interface Segment {
  firstIndex: number;
  path: string;
}

/** The segment being appended to, with its open file and size. */
interface ActiveSegment extends Segment {
  handle: FileHandle;
  bytes: number;
}

export class Wal {
  /** Set while recovering (reads, reset); null once the synchronous appender took over. */
  private log: Log | null;
  private segments: Segment[] = [];
  private active: ActiveSegment | null = null;
  /** A new segment's directory entry is not yet durable; the next sync fsyncs wal/ first. */
  private dirDirty = false;
  private appended = 0;
  private synced = 0;
  private syncing: Promise<void> | null = null;
  private rolling: Promise<void> | null = null;
  private next: number;
  private first: number;
  private closed = false;
  readonly tornTailBytes: number;

  private constructor(
    private readonly dir: string,
    private readonly segmentBytesMax: number,
    private readonly fs: FileSystem,
    log: Log,
  ) {
    this.log = log;
    this.next = log.nextIndex;
    this.first = log.firstIndex;
    this.tornTailBytes = log.recovery.tornTailBytes;
  }

  static async open(
    dir: string,
    segmentBytesMax = WAL_SEGMENT_BYTES_DEFAULT,
    fs: FileSystem = nodeFileSystem,
  ): Promise<Wal> {
    try {
      return new Wal(dir, segmentBytesMax, fs, await Log.open({ dir, fsync: 'never', segmentBytesMax, fs }));
    } catch (err) {
      if (err instanceof CorruptLogError)
        throw new CorruptWalError(`wal/${err.file}`, err.offset, err.message);
      throw err;
    }
  }

  get nextIndex(): number {
    return this.log?.nextIndex ?? this.next;
  }

  get firstIndex(): number {
    return this.log?.firstIndex ?? this.first;
  }

  /** Recovery only: drops every record; the next append gets `nextIndex`. */
  async reset(nextIndex: number): Promise<void> {
    assert(this.log !== null, 'reset is a recovery step');
    await this.log.reset(nextIndex);
  }

  async *replay(fromIndex: number): AsyncGenerator<{ index: number; record: Uint8Array }> {
    assert(this.log !== null, 'replay is a recovery step');
    yield* this.log.entries(Math.max(fromIndex, this.log.firstIndex));
  }

  /** Ends recovery: closes common's Log (which syncs) and opens the last segment for appends. */
  async startAppending(): Promise<void> {
    const log = this.log;
    assert(log !== null, 'startAppending called twice');
    this.next = log.nextIndex;
    this.first = log.firstIndex;
    await log.close();
    this.log = null;
    const names = (await this.fs.readdir(this.dir)).filter((n) => SEGMENT_FILE_NAME.test(n)).sort();
    this.segments = names.map((name) => ({
      firstIndex: Number(SEGMENT_FILE_NAME.exec(name)![1]),
      path: join(this.dir, name),
    }));
    assert(this.segments.length > 0, 'a recovered log has a segment');
    const last = this.segments[this.segments.length - 1]!;
    const handle = await this.fs.open(last.path, { write: true });
    this.active = { ...last, handle, bytes: (await handle.stat()).size };
  }

  /** The active segment is full: the next append must wait for `roll()`. */
  get rollDue(): boolean {
    return this.active !== null && this.active.bytes >= this.segmentBytesMax;
  }

  /**
   * Appends records with one write(2) on this thread; returns once they are in the page
   * cache. Throws on a failed write: the caller must stop taking writes (the file may now
   * end in a torn record, which recovery cuts). Not while `rollDue`.
   */
  appendSync(records: readonly Uint8Array[]): void {
    const seg = this.activeSegment();
    assert(seg.bytes < this.segmentBytesMax || this.rolling === null, 'append while the WAL rolls');
    // common's Log framing, so that Log.open recovers what this appender wrote.
    const buffer = encodeRecords(records);
    const total = buffer.length;
    let written = 0;
    while (written < total)
      written += seg.handle.writeSync(buffer, written, total - written, seg.bytes + written);
    seg.bytes += total;
    this.next += records.length;
    this.appended++;
  }

  /**
   * fdatasync of everything appended so far (a new segment's directory entry first, then the
   * active segment; sealed segments were synced when sealed). Callers arriving while one runs
   * share the next.
   */
  async sync(): Promise<void> {
    const target = this.appended;
    while (this.synced < target) {
      if (this.syncing === null) {
        this.syncing = this.syncOnce().finally(() => {
          this.syncing = null;
        });
      }
      await this.syncing;
    }
  }

  private async syncOnce(): Promise<void> {
    const upTo = this.appended;
    const active = this.activeSegment();
    if (this.dirDirty) {
      await this.fs.fsyncDir(this.dir, LSM_SYNC.walDir);
      this.dirDirty = false;
    }
    await active.handle.datasync(LSM_SYNC.walSync);
    this.synced = Math.max(this.synced, upTo);
  }

  /**
   * Seals the full active segment and starts the next one, named by its first record's index.
   * The sealed segment is fdatasynced before the new file exists: common's Log refuses damage
   * anywhere but in the last segment, and a torn sealed segment beside a newer one would be
   * just that after a power cut. Appends wait meanwhile (the engine checks `rollDue`).
   */
  roll(): Promise<void> {
    this.rolling ??= this.rollNow().finally(() => {
      this.rolling = null;
    });
    return this.rolling;
  }

  private async rollNow(): Promise<void> {
    const old = this.activeSegment();
    if (old.bytes < this.segmentBytesMax) return;
    await old.handle.datasync(LSM_SYNC.walSeal);
    const firstIndex = this.next;
    const path = join(this.dir, segmentFileName(firstIndex));
    const handle = await this.fs.open(path, { write: true, create: true, exclusive: true });
    this.segments.push({ firstIndex, path });
    this.active = { firstIndex, path, handle, bytes: 0 };
    // The new name must be durable before a sync write in it is acknowledged (syncOnce).
    this.dirDirty = true;
    await old.handle.close();
  }

  private activeSegment(): ActiveSegment {
    assert(this.active !== null && !this.closed, 'appends start after recovery and stop at close');
    return this.active;
  }

  /**
   * Drops whole segments whose records all lie below `index` (already in tables). Not synced:
   * a dropped segment that comes back after a crash holds records below the manifest's
   * walIndex, which replay skips and the next flush drops again.
   */
  async dropBefore(index: number): Promise<void> {
    if (this.log !== null) {
      await this.log.dropPrefix(index);
      return;
    }
    let dropped = false;
    while (this.segments.length > 1 && this.segments[1]!.firstIndex <= index) {
      const gone = this.segments.shift()!;
      await this.fs.unlink(gone.path).catch(() => {});
      dropped = true;
    }
    if (dropped) this.first = this.segments[0]!.firstIndex;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.log !== null) {
      this.closed = true;
      await this.log.close();
      return;
    }
    try {
      await this.rolling;
      await this.sync();
    } finally {
      this.closed = true;
      await this.active?.handle.close();
      this.active = null;
    }
  }
}
