// ListOffsets (key 2), versions 1 to 3: the offset for a timestamp, or the log's start or end.
// librdkafka (kcat) asks for v1 or v2, kafkajs for v3:
//
//   ListOffsets Request => replica_id:INT32 isolation_level:INT8 (v2+) [topics]
//     topics => name:STRING [partitions]
//       partitions => partition_index:INT32 timestamp:INT64 (-1 latest, -2 earliest)
//   ListOffsets Response => throttle_time_ms:INT32 (v2+) [topics]
//     topics => name:STRING [partitions]
//       partitions => partition_index:INT32 error_code:INT16 timestamp:INT64 offset:INT64
// (v0, which answers with an array of offsets, is not served.)
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export const LATEST_TIMESTAMP = -1;
export const EARLIEST_TIMESTAMP = -2;

export interface ListOffsetsRequest {
  replicaId: number;
  isolationLevel: number;
  topics: { name: string; partitions: { partitionIndex: number; timestamp: number }[] }[];
}

export interface ListOffsetsResponse {
  topics: {
    name: string;
    partitions: { partitionIndex: number; errorCode: number; timestamp: number; offset: number }[];
  }[];
}

export function decodeListOffsetsRequest(r: Reader, version: number): ListOffsetsRequest {
  return {
    replicaId: r.int32(),
    // v1 has no isolation level: read uncommitted.
    isolationLevel: version >= 2 ? r.int8() : 0,
    topics: r.array((r) => ({
      name: r.string(),
      partitions: r.array((r) => ({ partitionIndex: r.int32(), timestamp: r.int64() })),
    })),
  };
}

export function encodeListOffsetsResponse(w: Writer, res: ListOffsetsResponse, version: number): void {
  if (version >= 2) w.int32(0);
  w.array(res.topics, (w, t) => {
    w.string(t.name);
    w.array(t.partitions, (w, p) =>
      w.int32(p.partitionIndex).int16(p.errorCode).int64(p.timestamp).int64(p.offset),
    );
  });
}
