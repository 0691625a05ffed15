// Kafka's RecordBatch, message format v2 (KIP-98), the unit a producer sends, the broker
// stores and a consumer fetches: the same bytes all three ways. Layout: ../../FORMAT.md.
//
// The broker rewrites only baseOffset (and the leader epoch), which the CRC deliberately does
// not cover, so an appended batch needs no re-checksum: the broker copies bytes, it does not
// re-encode records. That is why Kafka can hand a log to the network with sendfile(2).
import { crc32c, readVarint, VarintError, varintLength, writeVarint } from '@ddia/common/core';

/** Bytes of the fixed batch header, baseOffset through the record count. */
export const BATCH_HEADER_BYTES = 61;
/** baseOffset (8) + batchLength (4): the part not counted by batchLength. */
export const BATCH_LOG_OVERHEAD_BYTES = 12;
export const MAGIC_V2 = 2;
/** The CRC covers everything from the attributes field to the end of the batch. */
const CRC_FROM = 21;

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
const COMPRESSION_MASK = 0x07;
const TRANSACTIONAL_BIT = 0x10;
const CONTROL_BIT = 0x20;
export const NO_PRODUCER_ID = -1;
export const NO_SEQUENCE = -1;

export class BatchError extends Error {
  override name = 'BatchError';
  constructor(
    /** Which Kafka error this is for the producer: a bad checksum or a malformed batch. */
    readonly kind: 'corrupt' | 'invalid' | 'compression',
    message: string,
  ) {
    super(message);
  }
}

export interface BatchHeader {
  baseOffset: number;
  /** Bytes after the batchLength field. */
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  firstTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export interface Batch {
  header: BatchHeader;
  /** The whole batch, header included, exactly as on the wire. */
  bytes: Uint8Array;
}

export interface Header {
  key: string;
  value: Uint8Array | null;
}

export interface Record {
  offset: number;
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Header[];
}

/** Undoes a batch's compression; the core has no zlib, so the shell passes this in. */
export type Decompress = (codec: number, bytes: Uint8Array) => Uint8Array;

export function compressionOf(header: BatchHeader): number {
  return header.attributes & COMPRESSION_MASK;
}

export function isTransactional(header: BatchHeader): boolean {
  return (header.attributes & TRANSACTIONAL_BIT) !== 0;
}

export function isControl(header: BatchHeader): boolean {
  return (header.attributes & CONTROL_BIT) !== 0;
}

export function lastOffset(header: BatchHeader): number {
  return header.baseOffset + header.lastOffsetDelta;
}

function int64(view: DataView, at: number): number {
  return Number(view.getBigInt64(at));
}

/** Reads the fixed header of the batch at the start of `bytes` (no checksum check). */
export function readBatchHeader(bytes: Uint8Array): BatchHeader {
  if (bytes.length < BATCH_HEADER_BYTES) {
    throw new BatchError(
      'invalid',
      `batch of ${bytes.length} bytes is shorter than its ${BATCH_HEADER_BYTES}-byte header`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    baseOffset: int64(view, 0),
    batchLength: view.getInt32(8),
    partitionLeaderEpoch: view.getInt32(12),
    magic: view.getInt8(16),
    crc: view.getUint32(17),
    attributes: view.getInt16(21),
    lastOffsetDelta: view.getInt32(23),
    firstTimestamp: int64(view, 27),
    maxTimestamp: int64(view, 35),
    producerId: int64(view, 43),
    producerEpoch: view.getInt16(51),
    baseSequence: view.getInt32(53),
    recordCount: view.getInt32(57),
  };
}

/**
 * Splits a produce request's records field into batches and checks each: magic 2, lengths
 * that add up, a CRC32C that matches, offsets deltas that agree with the record count.
 */
export function splitBatches(records: Uint8Array): Batch[] {
  const batches: Batch[] = [];
  let at = 0;
  while (at < records.length) {
    if (records.length - at < BATCH_HEADER_BYTES) {
      throw new BatchError('invalid', `${records.length - at} trailing bytes do not hold a batch header`);
    }
    const view = new DataView(records.buffer, records.byteOffset + at, records.length - at);
    const batchLength = view.getInt32(8);
    const total = BATCH_LOG_OVERHEAD_BYTES + batchLength;
    if (batchLength < BATCH_HEADER_BYTES - BATCH_LOG_OVERHEAD_BYTES || at + total > records.length) {
      throw new BatchError(
        'invalid',
        `batch length ${batchLength} does not fit the ${records.length - at} bytes left`,
      );
    }
    const bytes = records.subarray(at, at + total);
    const header = readBatchHeader(bytes);
    if (header.magic !== MAGIC_V2) {
      throw new BatchError(
        'invalid',
        `message format v${header.magic}: this broker stores only v2 record batches`,
      );
    }
    if (crc32c(bytes.subarray(CRC_FROM)) !== header.crc) {
      throw new BatchError('corrupt', `batch CRC32C mismatch (stored ${header.crc.toString(16)})`);
    }
    if (header.recordCount <= 0 || header.lastOffsetDelta !== header.recordCount - 1) {
      throw new BatchError(
        'invalid',
        `batch claims ${header.recordCount} records but a last offset delta of ${header.lastOffsetDelta}`,
      );
    }
    if (compressionOf(header) > Compression.zstd) {
      throw new BatchError('compression', `unknown compression codec ${compressionOf(header)}`);
    }
    batches.push({ header, bytes });
    at += total;
  }
  return batches;
}

/** A copy of the batch with its baseOffset set: what the leader stores (CRC unchanged). */
export function withBaseOffset(bytes: Uint8Array, baseOffset: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer, copy.byteOffset, copy.byteLength).setBigInt64(0, BigInt(baseOffset));
  return copy;
}

// Kafka's record fields use zigzag varints (Protocol Buffers' sint64): small negatives stay short.
function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

function unzigzag(value: number): number {
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

function readSigned(bytes: Uint8Array, at: number): { value: number; next: number } {
  const { value, next } = readVarint(bytes, at);
  return { value: unzigzag(value), next };
}

function readLengthPrefixed(bytes: Uint8Array, at: number): { value: Uint8Array | null; next: number } {
  const length = readSigned(bytes, at);
  if (length.value === -1) return { value: null, next: length.next };
  if (length.value < 0 || length.next + length.value > bytes.length) {
    throw new BatchError('invalid', `record field length ${length.value} runs past the batch`);
  }
  return { value: bytes.subarray(length.next, length.next + length.value), next: length.next + length.value };
}

const TEXT_DECODER = new TextDecoder();
const TEXT_ENCODER = new TextEncoder();

/** Decodes the records of a batch, decompressing them with `decompress` when needed. */
export function decodeRecords(batch: Batch, decompress: Decompress): Record[] {
  const { header } = batch;
  let body = batch.bytes.subarray(BATCH_HEADER_BYTES);
  const codec = compressionOf(header);
  if (codec !== Compression.none) body = decompress(codec, body);
  const records: Record[] = [];
  let at = 0;
  try {
    for (let i = 0; i < header.recordCount; i++) {
      const length = readSigned(body, at);
      const end = length.next + length.value;
      if (length.value < 0 || end > body.length)
        throw new BatchError('invalid', `record ${i} runs past the batch`);
      at = length.next + 1; // attributes: unused by v2
      const timestampDelta = readSigned(body, at);
      const offsetDelta = readSigned(body, timestampDelta.next);
      const key = readLengthPrefixed(body, offsetDelta.next);
      const value = readLengthPrefixed(body, key.next);
      const headerCount = readSigned(body, value.next);
      at = headerCount.next;
      const headers: Header[] = [];
      for (let h = 0; h < headerCount.value; h++) {
        const hk = readLengthPrefixed(body, at);
        const hv = readLengthPrefixed(body, hk.next);
        headers.push({ key: TEXT_DECODER.decode(hk.value ?? new Uint8Array(0)), value: hv.value });
        at = hv.next;
      }
      if (at !== end) throw new BatchError('invalid', `record ${i} has ${end - at} unread bytes`);
      records.push({
        offset: header.baseOffset + offsetDelta.value,
        timestamp: header.firstTimestamp + timestampDelta.value,
        key: key.value,
        value: value.value,
        headers,
      });
    }
  } catch (err) {
    if (err instanceof VarintError) throw new BatchError('invalid', `bad varint in a record: ${err.message}`);
    throw err;
  }
  return records;
}

export interface BatchSpec {
  baseOffset: number;
  records: readonly Record[];
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  partitionLeaderEpoch?: number;
}

function signedLength(value: number): number {
  return varintLength(zigzag(value));
}

function fieldLength(bytes: Uint8Array | null): number {
  return bytes === null ? signedLength(-1) : signedLength(bytes.length) + bytes.length;
}

/**
 * Encodes records as one uncompressed v2 batch: what compaction writes and what tests send.
 * Offsets and timestamps are stored as deltas from the first record's.
 */
export function encodeBatch(spec: BatchSpec): Uint8Array {
  const { records } = spec;
  if (records.length === 0) throw new BatchError('invalid', 'a batch holds at least one record');
  const firstOffset = spec.baseOffset;
  const firstTimestamp = records[0]!.timestamp;
  let maxTimestamp = firstTimestamp;
  const bodies: { record: Record; length: number; headerKeys: Uint8Array[] }[] = [];
  let total = BATCH_HEADER_BYTES;
  for (const record of records) {
    if (record.timestamp > maxTimestamp) maxTimestamp = record.timestamp;
    const headerKeys = record.headers.map((h) => TEXT_ENCODER.encode(h.key));
    let length =
      1 +
      signedLength(record.timestamp - firstTimestamp) +
      signedLength(record.offset - firstOffset) +
      fieldLength(record.key) +
      fieldLength(record.value) +
      signedLength(record.headers.length);
    record.headers.forEach((h, i) => {
      length += fieldLength(headerKeys[i]!) + fieldLength(h.value);
    });
    bodies.push({ record, length, headerKeys });
    total += signedLength(length) + length;
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setBigInt64(0, BigInt(firstOffset));
  view.setInt32(8, total - BATCH_LOG_OVERHEAD_BYTES);
  view.setInt32(12, spec.partitionLeaderEpoch ?? 0);
  view.setInt8(16, MAGIC_V2);
  view.setInt16(21, 0);
  view.setInt32(23, records[records.length - 1]!.offset - firstOffset);
  view.setBigInt64(27, BigInt(firstTimestamp));
  view.setBigInt64(35, BigInt(maxTimestamp));
  view.setBigInt64(43, BigInt(spec.producerId ?? NO_PRODUCER_ID));
  view.setInt16(51, spec.producerEpoch ?? -1);
  view.setInt32(53, spec.baseSequence ?? NO_SEQUENCE);
  view.setInt32(57, records.length);
  let at = BATCH_HEADER_BYTES;
  const putSigned = (value: number) => {
    at = writeVarint(out, at, zigzag(value));
  };
  const putField = (bytes: Uint8Array | null) => {
    if (bytes === null) return putSigned(-1);
    putSigned(bytes.length);
    out.set(bytes, at);
    at += bytes.length;
  };
  for (const { record, length, headerKeys } of bodies) {
    putSigned(length);
    out[at++] = 0;
    putSigned(record.timestamp - firstTimestamp);
    putSigned(record.offset - firstOffset);
    putField(record.key);
    putField(record.value);
    putSigned(record.headers.length);
    record.headers.forEach((h, i) => {
      putField(headerKeys[i]!);
      putField(h.value);
    });
  }
  view.setUint32(17, crc32c(out.subarray(CRC_FROM)));
  return out;
}
