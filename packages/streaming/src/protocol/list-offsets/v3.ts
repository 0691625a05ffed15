// ListOffsets (key 2), version 3: the offset for a timestamp, or the log's start or end.
//
//   ListOffsets Request (v3) => replica_id:INT32 isolation_level:INT8 [topics]
//     topics => name:STRING [partitions]
//       partitions => partition_index:INT32 timestamp:INT64 (-1 latest, -2 earliest)
//   ListOffsets Response (v3) => throttle_time_ms:INT32 [topics]
//     topics => name:STRING [partitions]
//       partitions => partition_index:INT32 error_code:INT16 timestamp:INT64 offset:INT64
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

export function decodeListOffsetsRequest(r: Reader): ListOffsetsRequest {
  return {
    replicaId: r.int32(),
    isolationLevel: r.int8(),
    topics: r.array((r) => ({
      name: r.string(),
      partitions: r.array((r) => ({ partitionIndex: r.int32(), timestamp: r.int64() })),
    })),
  };
}

export function encodeListOffsetsResponse(w: Writer, res: ListOffsetsResponse): void {
  w.int32(0);
  w.array(res.topics, (w, t) => {
    w.string(t.name);
    w.array(t.partitions, (w, p) =>
      w.int32(p.partitionIndex).int16(p.errorCode).int64(p.timestamp).int64(p.offset),
    );
  });
}
