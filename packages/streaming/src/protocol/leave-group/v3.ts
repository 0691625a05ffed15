// LeaveGroup (key 13), version 3: members leave at once instead of waiting for their session to expire.
//
//   LeaveGroup Request (v3) => group_id:STRING [members]
//     members => member_id:STRING group_instance_id:NULLABLE_STRING
//   LeaveGroup Response (v3) => throttle_time_ms:INT32 error_code:INT16 [members]
//     members => member_id:STRING group_instance_id:NULLABLE_STRING error_code:INT16
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

export function decodeLeaveGroupRequest(r: Reader): LeaveGroupRequest {
  return {
    groupId: r.string(),
    members: r.array((r) => ({ memberId: r.string(), groupInstanceId: r.nullableString() })),
  };
}

export function encodeLeaveGroupResponse(w: Writer, res: LeaveGroupResponse): void {
  w.int32(0).int16(res.errorCode);
  w.array(res.members, (w, m) => w.string(m.memberId).nullableString(m.groupInstanceId).int16(m.errorCode));
}
