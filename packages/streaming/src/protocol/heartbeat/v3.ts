// Heartbeat (key 12), version 3: a member says it is alive; the answer says whether to rejoin.
//
//   Heartbeat Request (v3) => group_id:STRING generation_id:INT32 member_id:STRING
//                             group_instance_id:NULLABLE_STRING
//   Heartbeat Response (v3) => throttle_time_ms:INT32 error_code:INT16
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export function decodeHeartbeatRequest(r: Reader): HeartbeatRequest {
  return {
    groupId: r.string(),
    generationId: r.int32(),
    memberId: r.string(),
    groupInstanceId: r.nullableString(),
  };
}

export function encodeHeartbeatResponse(w: Writer, res: { errorCode: number }): void {
  w.int32(0).int16(res.errorCode);
}
