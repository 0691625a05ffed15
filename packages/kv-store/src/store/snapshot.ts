// The snapshot of the whole state machine that Raft stores, compacts its log behind, and ships
// to a follower too far behind (Raft §7; DDIA ch. 5 "Setting up new followers"). Byte layout:
// FORMAT.md §3. A checksum over the whole image refuses a damaged snapshot rather than
// installing half a state.

import { crc32c, readVarint, varintLength, writeVarint } from '@ddia/common';
import type { StoreMeta } from './layout.js';

export const SNAPSHOT_MAGIC = Uint8Array.of(0x4b, 0x56, 0x53, 0x31); // "KVS1"
const RECORD_END = 0;
export const RECORD_DATA = 1;
export const RECORD_SESSION = 2;
const CRC_BYTES = 4;

export type SnapshotRecordKind = typeof RECORD_DATA | typeof RECORD_SESSION;

export interface SnapshotRecord {
  kind: SnapshotRecordKind;
  /** The store key without its prefix. */
  key: Uint8Array;
  value: Uint8Array;
}

export class SnapshotFormatError extends Error {
  override name = 'SnapshotFormatError';
}

/** Accumulates records and produces the image; sizes are known only at the end. */
export class SnapshotWriter {
  private readonly chunks: Uint8Array[] = [];
  private bytes = 0;

  constructor(meta: StoreMeta) {
    this.push(SNAPSHOT_MAGIC);
    const header = new Uint8Array(
      varintLength(meta.appliedIndex) + varintLength(meta.appliedTerm) + varintLength(meta.revision),
    );
    let offset = writeVarint(header, 0, meta.appliedIndex);
    offset = writeVarint(header, offset, meta.appliedTerm);
    writeVarint(header, offset, meta.revision);
    this.push(header);
  }

  add(record: SnapshotRecord): void {
    const head = new Uint8Array(1 + varintLength(record.key.length) + varintLength(record.value.length));
    head[0] = record.kind;
    const offset = writeVarint(head, 1, record.key.length);
    writeVarint(head, offset, record.value.length);
    this.push(head);
    this.push(record.key);
    this.push(record.value);
  }

  finish(): Uint8Array {
    this.push(Uint8Array.of(RECORD_END));
    const out = new Uint8Array(this.bytes + CRC_BYTES);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    new DataView(out.buffer).setUint32(offset, crc32c(out.subarray(0, offset)) >>> 0, false);
    return out;
  }

  private push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }
}

export interface DecodedSnapshot {
  meta: StoreMeta;
  records: SnapshotRecord[];
}

export function decodeSnapshot(image: Uint8Array): DecodedSnapshot {
  if (image.length < SNAPSHOT_MAGIC.length + CRC_BYTES + 1)
    throw new SnapshotFormatError(`snapshot of ${image.length} bytes is too short`);
  for (let i = 0; i < SNAPSHOT_MAGIC.length; i++) {
    if (image[i] !== SNAPSHOT_MAGIC[i]) throw new SnapshotFormatError('not a kv-store snapshot (bad magic)');
  }
  const bodyEnd = image.length - CRC_BYTES;
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const stored = view.getUint32(bodyEnd, false);
  const actual = crc32c(image.subarray(0, bodyEnd)) >>> 0;
  if (stored !== actual) throw new SnapshotFormatError('snapshot checksum mismatch');
  try {
    let offset = SNAPSHOT_MAGIC.length;
    const index = readVarint(image, offset);
    const term = readVarint(image, index.next);
    const revision = readVarint(image, term.next);
    offset = revision.next;
    const records: SnapshotRecord[] = [];
    for (;;) {
      if (offset >= bodyEnd) throw new SnapshotFormatError('snapshot has no end record');
      const kind = image[offset++];
      if (kind === RECORD_END) break;
      if (kind !== RECORD_DATA && kind !== RECORD_SESSION)
        throw new SnapshotFormatError(`unknown record kind ${kind}`);
      const keyLength = readVarint(image, offset);
      const valueLength = readVarint(image, keyLength.next);
      offset = valueLength.next;
      if (offset + keyLength.value + valueLength.value > bodyEnd)
        throw new SnapshotFormatError('record runs past the end');
      const key = image.subarray(offset, offset + keyLength.value);
      offset += keyLength.value;
      const value = image.subarray(offset, offset + valueLength.value);
      offset += valueLength.value;
      records.push({ kind, key, value });
    }
    if (offset !== bodyEnd) throw new SnapshotFormatError('bytes after the end record');
    return {
      meta: { appliedIndex: index.value, appliedTerm: term.value, revision: revision.value },
      records,
    };
  } catch (err) {
    if (err instanceof SnapshotFormatError) throw err;
    throw new SnapshotFormatError(`malformed snapshot: ${(err as Error).message}`);
  }
}
