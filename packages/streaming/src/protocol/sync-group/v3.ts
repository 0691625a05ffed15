// SyncGroup (key 14), version 3: the leader hands in the assignment; every member gets its part.
//
//   SyncGroup Request (v3) => group_id:STRING generation_id:INT32 member_id:STRING
//                             group_instance_id:NULLABLE_STRING [assignments]
//     assignments => member_id:STRING assignment:BYTES
//   SyncGroup Response (v3) => throttle_time_ms:INT32 error_code:INT16 assignment:BYTES
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

export function decodeSyncGroupRequest(r: Reader): SyncGroupRequest {
  return {
    groupId: r.string(),
    generationId: r.int32(),
    memberId: r.string(),
    groupInstanceId: r.nullableString(),
    assignments: r.array((r) => ({ memberId: r.string(), assignment: r.bytesField().slice() })),
  };
}

export function encodeSyncGroupResponse(w: Writer, res: SyncGroupResponse): void {
  w.int32(0).int16(res.errorCode).nullableBytes(res.assignment);
}
