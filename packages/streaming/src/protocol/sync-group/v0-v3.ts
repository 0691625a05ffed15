// SyncGroup (key 14), versions 0 to 3: the leader hands in the assignment; every member gets its part.
// kafkajs and librdkafka (kcat) ask for v3; v0 is advertised for librdkafka's group consumer.
//
//   SyncGroup Request => group_id:STRING generation_id:INT32 member_id:STRING
//                        group_instance_id:NULLABLE_STRING (v3+) [assignments]
//     assignments => member_id:STRING assignment:BYTES
//   SyncGroup Response => throttle_time_ms:INT32 (v1+) error_code:INT16 assignment:BYTES
//
// The broker never reads the assignment bytes: the assignors (range, round-robin) run in the
// leader client, which is why Kafka can add assignors without upgrading brokers.
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export interface SyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  assignments: { memberId: string; assignment: Uint8Array }[];
}

export interface SyncGroupResponse {
  errorCode: number;
  assignment: Uint8Array;
}

export function decodeSyncGroupRequest(r: Reader, version: number): SyncGroupRequest {
  return {
    groupId: r.string(),
    generationId: r.int32(),
    memberId: r.string(),
    groupInstanceId: version >= 3 ? r.nullableString() : null,
    assignments: r.array((r) => ({ memberId: r.string(), assignment: r.bytesField().slice() })),
  };
}

export function encodeSyncGroupResponse(w: Writer, res: SyncGroupResponse, version: number): void {
  if (version >= 1) w.int32(0);
  w.int16(res.errorCode).nullableBytes(res.assignment);
}
