// RecordBatch v2: encode, split, checksum, decode; the broker's view of what producers send.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decompress } from '../src/broker/compression.js';
import {
  BATCH_HEADER_BYTES,
  BatchError,
  compactBatches,
  decodeRecords,
  encodeBatch,
  readBatchHeader,
  splitBatches,
  withBaseOffset,
} from '../src/core/index.js';

const te = new TextEncoder();
const td = new TextDecoder();

function records(pairs: [string | null, string | null][], firstOffset = 0, timestamp = 1_700_000_000_000) {
  return pairs.map(([k, v], i) => ({
    offset: firstOffset + i,
    timestamp: timestamp + i,
    key: k === null ? null : te.encode(k),
    value: v === null ? null : te.encode(v),
    headers: i === 0 ? [{ key: 'h', value: te.encode('x') }] : [],
  }));
}

describe('RecordBatch v2', () => {
  it('round-trips records, headers, null keys and values', () => {
    const bytes = encodeBatch({
      baseOffset: 0,
      records: records([
        ['a', '1'],
        [null, '2'],
        ['c', null],
      ]),
    });
    const [batch] = splitBatches(bytes);
    expect(batch!.header.recordCount).toBe(3);
    expect(batch!.header.lastOffsetDelta).toBe(2);
    const decoded = decodeRecords(batch!, decompress);
    expect(decoded.map((r) => [r.key && td.decode(r.key), r.value && td.decode(r.value)])).toEqual([
      ['a', '1'],
      [null, '2'],
      ['c', null],
    ]);
    expect(decoded[0]!.headers[0]!.key).toBe('h');
    expect(decoded[2]!.timestamp).toBe(1_700_000_000_002);
  });

  it('rewriting the base offset keeps the CRC valid (the CRC does not cover it)', () => {
    const bytes = encodeBatch({ baseOffset: 0, records: records([['a', '1']]) });
    const moved = withBaseOffset(bytes, 1234);
    const [batch] = splitBatches(moved);
    expect(batch!.header.baseOffset).toBe(1234);
    expect(decodeRecords(batch!, decompress)[0]!.offset).toBe(1234);
  });

  it('refuses a flipped bit in the records as corrupt', () => {
    const bytes = encodeBatch({ baseOffset: 0, records: records([['a', 'hello']]) });
    bytes[bytes.length - 3]! ^= 0x01;
    expect(() => splitBatches(bytes)).toThrow(BatchError);
    try {
      splitBatches(bytes);
    } catch (err) {
      expect((err as BatchError).kind).toBe('corrupt');
    }
  });

  it('refuses truncated batches and other magic values as invalid', () => {
    const bytes = encodeBatch({ baseOffset: 0, records: records([['a', 'hello']]) });
    expect(() => splitBatches(bytes.subarray(0, bytes.length - 1))).toThrow(/does not fit/);
    expect(() => splitBatches(bytes.subarray(0, 30))).toThrow(/header/);
    const v1 = bytes.slice();
    v1[16] = 1;
    expect(() => splitBatches(v1)).toThrow(/only v2/);
  });

  it('splits several concatenated batches', () => {
    const a = encodeBatch({ baseOffset: 0, records: records([['a', '1']]) });
    const b = encodeBatch({
      baseOffset: 1,
      records: records(
        [
          ['b', '2'],
          ['c', '3'],
        ],
        1,
      ),
    });
    const joined = new Uint8Array(a.length + b.length);
    joined.set(a);
    joined.set(b, a.length);
    expect(splitBatches(joined).map((x) => x.header.recordCount)).toEqual([1, 2]);
  });

  it('decodes a gzip-compressed batch', () => {
    const plain = encodeBatch({
      baseOffset: 0,
      records: records([
        ['k', 'v'],
        ['k2', 'v2'],
      ]),
    });
    const body = gzipSync(plain.subarray(BATCH_HEADER_BYTES));
    const header = readBatchHeader(plain);
    const batch = {
      header: { ...header, attributes: 1 },
      bytes: concat(plain.subarray(0, BATCH_HEADER_BYTES), body),
    };
    expect(decodeRecords(batch, decompress).map((r) => td.decode(r.value!))).toEqual(['v', 'v2']);
  });
});

describe('log compaction (DDIA ch. 11)', () => {
  it('keeps the newest value per key at its offset and drops old tombstones', () => {
    const b1 = encodeBatch({
      baseOffset: 0,
      records: records(
        [
          ['a', '1'],
          ['b', '1'],
          ['c', '1'],
        ],
        0,
        1000,
      ),
    });
    const b2 = encodeBatch({
      baseOffset: 3,
      records: records(
        [
          ['a', '2'],
          ['b', null],
          [null, 'x'],
        ],
        3,
        2000,
      ),
    });
    const input = [b1, b2].map((bytes) => ({ header: readBatchHeader(bytes), bytes }));
    const kept = compactBatches({ batches: input, decompress, tombstoneCutoffMs: 5000 });
    const survivors = kept.batches.flatMap((bytes) =>
      decodeRecords({ header: readBatchHeader(bytes), bytes }, decompress),
    );
    expect(
      survivors.map((r) => [r.offset, r.key && td.decode(r.key), r.value && td.decode(r.value)]),
    ).toEqual([
      [2, 'c', '1'],
      [3, 'a', '2'],
      [5, null, 'x'],
    ]);
    expect(kept.tombstonesRemoved).toBe(1);
    // A tombstone newer than the cutoff stays, so consumers can still see the delete.
    const recent = compactBatches({ batches: input, decompress, tombstoneCutoffMs: 0 });
    expect(recent.recordsAfter).toBe(4);
  });
});

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
