// LeaveGroup (key 13), versions 0 to 3: members leave at once instead of waiting for their
// session to expire. kafkajs asks for v3, librdkafka (kcat) for v1.
//
//   LeaveGroup Request (v0-v2) => group_id:STRING member_id:STRING
//   LeaveGroup Request (v3) => group_id:STRING [members]
//     members => member_id:STRING group_instance_id:NULLABLE_STRING
//   LeaveGroup Response => throttle_time_ms:INT32 (v1+) error_code:INT16 [members] (v3+)
//     members => member_id:STRING group_instance_id:NULLABLE_STRING error_code:INT16
//
// Up to v2 one member leaves per request; its error is the response's.
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export interface LeaveGroupRequest {
  groupId: string;
  members: { memberId: string; groupInstanceId: string | null }[];
}

export interface LeaveGroupResponse {
  errorCode: number;
  members: { memberId: string; groupInstanceId: string | null; errorCode: number }[];
}

const BATCH_VERSION = 3;

export function decodeLeaveGroupRequest(r: Reader, version: number): LeaveGroupRequest {
  const groupId = r.string();
  if (version < BATCH_VERSION) return { groupId, members: [{ memberId: r.string(), groupInstanceId: null }] };
  return {
    groupId,
    members: r.array((r) => ({ memberId: r.string(), groupInstanceId: r.nullableString() })),
  };
}

export function encodeLeaveGroupResponse(w: Writer, res: LeaveGroupResponse, version: number): void {
  if (version >= 1) w.int32(0);
  if (version < BATCH_VERSION) {
    w.int16(res.members[0]?.errorCode ?? res.errorCode);
    return;
  }
  w.int16(res.errorCode);
  w.array(res.members, (w, m) => w.string(m.memberId).nullableString(m.groupInstanceId).int16(m.errorCode));
}
