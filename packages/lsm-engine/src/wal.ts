// The write-ahead log (book ch. 3 "Making B-trees reliable" and "Constructing and
// maintaining SSTables": every write is appended to a log on disk before it enters the
// memtable, so a crash loses nothing acknowledged). One record per write batch, on common's
// segmented Log (length + CRC32C framing, torn-tail recovery). The Log runs with fsync
// 'never': the engine's writer loop calls sync() once per group of writers that asked for
// sync: true (group commit, LevelDB DBImpl::Write). Byte layout: FORMAT.md "WAL record".
import { CorruptLogError, Log } from '@ddia/common';
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
  const bytes = Buffer.from(record.buffer, record.byteOffset, record.byteLength);
  if (bytes.length < BATCH_HEADER_BYTES) throw new RangeError('batch record shorter than its header');
  const firstSeq = bytes.readUIntLE(0, 6);
  const count = bytes.readUInt32LE(8);
  let at = BATCH_HEADER_BYTES;
  const readLength = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (at >= bytes.length || shift > 28) throw new RangeError('length runs past the record');
      const b = bytes[at++]!;
      result |= (b & 0x7f) << shift;
      if (b < 0x80) return result >>> 0;
      shift += 7;
    }
  };
  for (let i = 0; i < count; i++) {
    if (at >= bytes.length) throw new RangeError(`operation ${i} of ${count} missing`);
    const kind = bytes[at++]!;
    if (kind !== KIND_PUT && kind !== KIND_DELETE) throw new RangeError(`unknown operation kind ${kind}`);
    const keyLength = readLength();
    if (at + keyLength > bytes.length) throw new RangeError('key runs past the record');
    // copy: false hands out views into the record (the memtable keeps the record alive).
    const key = copy ? Buffer.from(bytes.subarray(at, at + keyLength)) : bytes.subarray(at, at + keyLength);
    at += keyLength;
    let value: Buffer = EMPTY;
    if (kind === KIND_PUT) {
      const valueLength = readLength();
      if (at + valueLength > bytes.length) throw new RangeError('value runs past the record');
      value = copy ? Buffer.from(bytes.subarray(at, at + valueLength)) : bytes.subarray(at, at + valueLength);
      at += valueLength;
    }
    visit(firstSeq + i, kind, key, value);
  }
  if (at !== bytes.length)
    throw new RangeError(`${bytes.length - at} trailing bytes after ${count} operations`);
  return { firstSeq, count };
}

const EMPTY: Buffer = Buffer.alloc(0);

export class Wal {
  private constructor(readonly log: Log) {}

  static async open(dir: string, segmentBytesMax = WAL_SEGMENT_BYTES_DEFAULT): Promise<Wal> {
    try {
      return new Wal(await Log.open({ dir, fsync: 'never', segmentBytesMax }));
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

  get tornTailBytes(): number {
    return this.log.recovery.tornTailBytes;
  }

  /** Appends records; resolves once written (not yet fsynced). */
  append(records: Uint8Array[]): Promise<number> {
    return this.log.appendBatch(records);
  }

  /** fdatasync of everything appended so far. */
  sync(): Promise<void> {
    return this.log.sync();
  }

  /** Drops whole segments whose records all lie below `index` (already in tables). */
  dropBefore(index: number): Promise<void> {
    return this.log.dropPrefix(index);
  }

  async *replay(fromIndex: number): AsyncGenerator<{ index: number; record: Uint8Array }> {
    yield* this.log.entries(Math.max(fromIndex, this.log.firstIndex));
  }

  close(): Promise<void> {
    return this.log.close();
  }
}
