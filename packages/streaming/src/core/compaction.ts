// Log compaction by key (DDIA ch. 11, "Log compaction"; Kafka's cleaner): keep only the newest
// record for each key, drop a key altogether once its newest record is a tombstone (null value)
// older than the delete retention, and keep every surviving record at its original offset.
// Offsets become sparse; a consumer fetching from an offset that was compacted away gets the
// next record that survived. Records without a key cannot be compacted and are kept.
import { type Batch, type Decompress, decodeRecords, encodeBatch, type Record } from './record-batch.js';

export interface CompactionInput {
  /** Every batch of the part of the log being cleaned, oldest first. */
  batches: readonly Batch[];
  decompress: Decompress;
  /** Tombstones with a timestamp before this are removed; newer ones stay for consumers to see. */
  tombstoneCutoffMs: number;
}

export interface CompactionResult {
  /** The surviving records as new uncompressed batches, one per input batch that kept any. */
  batches: Uint8Array[];
  recordsBefore: number;
  recordsAfter: number;
  tombstonesRemoved: number;
}

function keyOf(record: Record): string | null {
  if (record.key === null) return null;
  let text = '';
  for (const byte of record.key) text += String.fromCharCode(byte);
  return text;
}

export function compactBatches(input: CompactionInput): CompactionResult {
  const decoded = input.batches.map((b) => ({ batch: b, records: decodeRecords(b, input.decompress) }));
  const newest = new Map<string, number>();
  let recordsBefore = 0;
  for (const { records } of decoded) {
    for (const r of records) {
      recordsBefore++;
      const key = keyOf(r);
      if (key !== null) newest.set(key, r.offset);
    }
  }
  const out: Uint8Array[] = [];
  let recordsAfter = 0;
  let tombstonesRemoved = 0;
  for (const { batch, records } of decoded) {
    const kept = records.filter((r) => {
      const key = keyOf(r);
      if (key === null) return true;
      if (newest.get(key) !== r.offset) return false;
      if (r.value === null && r.timestamp < input.tombstoneCutoffMs) {
        tombstonesRemoved++;
        return false;
      }
      return true;
    });
    if (kept.length === 0) continue;
    recordsAfter += kept.length;
    out.push(
      encodeBatch({
        baseOffset: kept[0]!.offset,
        records: kept,
        partitionLeaderEpoch: batch.header.partitionLeaderEpoch,
      }),
    );
  }
  return { batches: out, recordsBefore, recordsAfter, tombstonesRemoved };
}
