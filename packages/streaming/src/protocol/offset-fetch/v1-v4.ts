// OffsetFetch (key 9), versions 1 to 4: where a group left off in each partition.
// kafkajs and librdkafka (kcat) ask for v4; librdkafka needs v1 advertised for its group consumer.
//
//   OffsetFetch Request => group_id:STRING [topics] (null = every partition the group committed, v2+)
//     topics => name:STRING [partition_indexes:INT32]
//   OffsetFetch Response => throttle_time_ms:INT32 (v3+) [topics] error_code:INT16 (v2+)
//     topics => name:STRING [partitions]
//       partitions => partition_index:INT32 committed_offset:INT64 metadata:NULLABLE_STRING error_code:INT16
//
// A partition the group never committed answers offset -1: the consumer then applies its
// auto.offset.reset policy (earliest or latest).
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export interface OffsetFetchRequest {
  groupId: string;
  topics: { name: string; partitionIndexes: number[] }[] | null;
}

export interface OffsetFetchResponse {
  errorCode: number;
  topics: {
    name: string;
    partitions: {
      partitionIndex: number;
      committedOffset: number;
      metadata: string | null;
      errorCode: number;
    }[];
  }[];
}

export function decodeOffsetFetchRequest(r: Reader): OffsetFetchRequest {
  return {
    groupId: r.string(),
    topics: r.nullableArray((r) => ({ name: r.string(), partitionIndexes: r.array((r) => r.int32()) })),
  };
}

export function encodeOffsetFetchResponse(w: Writer, res: OffsetFetchResponse, version: number): void {
  if (version >= 3) w.int32(0);
  w.array(res.topics, (w, t) => {
    w.string(t.name);
    w.array(t.partitions, (w, p) =>
      w.int32(p.partitionIndex).int64(p.committedOffset).nullableString(p.metadata).int16(p.errorCode),
    );
  });
  if (version >= 2) w.int16(res.errorCode);
}
