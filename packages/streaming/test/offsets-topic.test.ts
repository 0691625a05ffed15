// The records of the replicated __consumer_offsets topic and which partition holds a group.
import { describe, expect, it } from 'vitest';
import {
  decodeOffsetEntry,
  decodeRecords,
  encodeBatch,
  encodeOffsetEntry,
  OFFSETS_TOPIC_PARTITIONS,
  offsetsPartitionFor,
  readBatchHeader,
} from '../src/core/index.js';

describe('the offsets topic', () => {
  it('places a group as Kafka does: abs(Java String.hashCode) mod the partition count', () => {
    // "abc".hashCode() is 96354 in Java; "polygenelubricants" is Integer.MIN_VALUE (abs -> 0).
    expect(offsetsPartitionFor('abc', 50)).toBe(96354 % 50);
    expect(offsetsPartitionFor('polygenelubricants', 50)).toBe(0);
    // A negative hash (32-bit wrap-around): its absolute value is taken before the modulo.
    let h = 0;
    for (const c of 'zzzzzzzz') h = (Math.imul(31, h) + c.charCodeAt(0)) | 0;
    expect(h).toBeLessThan(0);
    expect(offsetsPartitionFor('zzzzzzzz', 7)).toBe(Math.abs(h) % 7);
    const spread = new Set(Array.from({ length: 30 }, (_, i) => offsetsPartitionFor(`group-${i}`, 3)));
    expect(spread.size).toBe(OFFSETS_TOPIC_PARTITIONS);
  });

  it('commits and tombstones survive a record batch round trip', () => {
    const commit = {
      group: 'g',
      topic: 't',
      partition: 2,
      value: { offset: 41, metadata: 'm', commitTimestampMs: 1700 },
    };
    const tombstone = { group: 'g', topic: 't', partition: 2, value: null };
    const bytes = encodeBatch({
      baseOffset: 10,
      records: [encodeOffsetEntry(commit, 10, 5), encodeOffsetEntry(tombstone, 11, 5)],
    });
    const records = decodeRecords({ header: readBatchHeader(bytes), bytes }, () => {
      throw new Error('uncompressed');
    });
    expect(records.map(decodeOffsetEntry)).toEqual([commit, tombstone]);
    expect(records[1]!.value).toBeNull();
    expect(decodeOffsetEntry({ ...records[0]!, key: null })).toBeNull();
  });
});
