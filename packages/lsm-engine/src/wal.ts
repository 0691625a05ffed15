// The write-ahead log (book ch. 3 "Making B-trees reliable" and "Constructing and
// maintaining SSTables": every write is appended to a log on disk before it enters the
// memtable, so a crash loses nothing acknowledged). One record per write batch, in common's
// segmented Log (length + CRC32C framing, torn-tail recovery; FORMAT.md "WAL record"): the
// repo has one log writer, and this file adds only the batch encoding and the engine's names.
//
// Appends go through the Log's appendSync: one write(2) on the caller's thread, as LevelDB's
// log::Writer does inside DBImpl::Write, so a non-sync write reaches the page cache (and so
// survives a process crash) before it is acknowledged, without a trip to libuv's thread pool
// per write. Only the fdatasync for `sync: true` writes runs on the thread pool, and writers
// that arrive while one runs share the next (group commit). Every file call goes through
// common's FileSystem layer (`fs`), so the power-loss test runs this very code on testkit's
// FaultFileSystem; the sync points are the Log's (log.sync, log.roll.seal, log.segment.dir).
import { type FileSystem, nodeFileSystem } from '@ddia/common/fs';
import { CorruptLogError, Log } from '@ddia/common/storage';
import { CorruptWalError } from './errors.js';
import { KIND_DELETE, KIND_PUT } from './internal-key.js';
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

export class Wal {
  private constructor(private readonly log: Log) {}

  static async open(
    dir: string,
    segmentBytesMax = WAL_SEGMENT_BYTES_DEFAULT,
    fs: FileSystem = nodeFileSystem,
  ): Promise<Wal> {
    try {
      return new Wal(await Log.open({ dir, fsync: 'never', segmentBytesMax, fs }));
    } catch (err) {
      if (err instanceof CorruptLogError)
        throw new CorruptWalError(`wal/${err.file}`, err.offset, err.message);
      throw err;
    }
  }

  get nextIndex(): number {
    return this.log.nextIndex;
  }

  get firstIndex(): number {
    return this.log.firstIndex;
  }

  /** Bytes cut from a torn last record when the log was opened. */
  get tornTailBytes(): number {
    return this.log.recovery.tornTailBytes;
  }

  /** Recovery: drops every record; the next append gets `nextIndex`. */
  reset(nextIndex: number): Promise<void> {
    return this.log.reset(nextIndex);
  }

  async *replay(fromIndex: number): AsyncGenerator<{ index: number; record: Uint8Array }> {
    yield* this.log.entries(Math.max(fromIndex, this.log.firstIndex));
  }

  /** The active segment is full: the next append must wait for `roll()`. */
  get rollDue(): boolean {
    return this.log.rollDue;
  }

  /**
   * Seals the full active segment (fdatasynced first: common's Log refuses damage anywhere
   * but in the last segment) and starts the next one. Appends wait meanwhile.
   */
  roll(): Promise<void> {
    return this.log.roll();
  }

  /**
   * Appends records with one write(2) on this thread; returns once they are in the page
   * cache. Throws on a failed write (the log then takes no more). Not while `rollDue`.
   */
  appendSync(records: readonly Uint8Array[]): void {
    this.log.appendSync(records);
  }

  /** fdatasync of everything appended so far; callers arriving while one runs share the next. */
  sync(): Promise<void> {
    return this.log.sync();
  }

  /**
   * Drops whole segments whose records all lie below `index` (already in tables). A dropped
   * segment that came back after a crash would hold records below the manifest's walIndex,
   * which replay skips and the next flush drops again.
   */
  dropBefore(index: number): Promise<void> {
    return this.log.dropPrefix(index);
  }

  close(): Promise<void> {
    return this.log.close();
  }
}
