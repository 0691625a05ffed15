// CreateTopics (key 19), version 3.
//
//   CreateTopics Request (v3) => [topics] timeout_ms:INT32 validate_only:BOOLEAN
//     topics => name:STRING num_partitions:INT32 replication_factor:INT16 [assignments] [configs]
//       assignments => partition_index:INT32 [broker_ids:INT32]
//       configs => name:STRING value:NULLABLE_STRING
//   CreateTopics Response (v3) => throttle_time_ms:INT32 [topics]
//     topics => name:STRING error_code:INT16 error_message:NULLABLE_STRING
//
// num_partitions and replication_factor -1 mean "the broker's default".
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export interface CreateTopicsRequest {
  topics: {
    name: string;
    numPartitions: number;
    replicationFactor: number;
    assignments: { partitionIndex: number; brokerIds: number[] }[];
    configs: { name: string; value: string | null }[];
  }[];
  timeoutMs: number;
  validateOnly: boolean;
}

export interface CreateTopicsResponse {
  topics: { name: string; errorCode: number; errorMessage: string | null }[];
}

export function decodeCreateTopicsRequest(r: Reader): CreateTopicsRequest {
  return {
    topics: r.array((r) => ({
      name: r.string(),
      numPartitions: r.int32(),
      replicationFactor: r.int16(),
      assignments: r.array((r) => ({ partitionIndex: r.int32(), brokerIds: r.array((r) => r.int32()) })),
      configs: r.array((r) => ({ name: r.string(), value: r.nullableString() })),
    })),
    timeoutMs: r.int32(),
    validateOnly: r.boolean(),
  };
}

export function encodeCreateTopicsResponse(w: Writer, res: CreateTopicsResponse): void {
  w.int32(0);
  w.array(res.topics, (w, t) => w.string(t.name).int16(t.errorCode).nullableString(t.errorMessage));
}
