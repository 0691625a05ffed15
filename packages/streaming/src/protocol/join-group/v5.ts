// JoinGroup (key 11), version 5: a consumer asks to be a member of a group's next generation.
//
//   JoinGroup Request (v5) => group_id:STRING session_timeout_ms:INT32 rebalance_timeout_ms:INT32
//                             member_id:STRING group_instance_id:NULLABLE_STRING
//                             protocol_type:STRING [protocols]
//     protocols => name:STRING metadata:BYTES
//   JoinGroup Response (v5) => throttle_time_ms:INT32 error_code:INT16 generation_id:INT32
//                              protocol_name:STRING leader:STRING member_id:STRING [members]
//     members => member_id:STRING group_instance_id:NULLABLE_STRING metadata:BYTES
//
// Since v4 a first join with an empty member_id gets MEMBER_ID_REQUIRED and an id to rejoin
// with (KIP-394): the broker then knows every member it waits for by id.
import type { JoinResult } from '../../core/group.js';
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export interface JoinGroupRequest {
  groupId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string;
  protocols: { name: string; metadata: Uint8Array }[];
}

/** The response carries the coordinator's join result field for field. */
export type JoinGroupResponse = JoinResult;

export function decodeJoinGroupRequest(r: Reader): JoinGroupRequest {
  return {
    groupId: r.string(),
    sessionTimeoutMs: r.int32(),
    rebalanceTimeoutMs: r.int32(),
    memberId: r.string(),
    groupInstanceId: r.nullableString(),
    protocolType: r.string(),
    protocols: r.array((r) => ({ name: r.string(), metadata: r.bytesField().slice() })),
  };
}

export function encodeJoinGroupResponse(w: Writer, res: JoinGroupResponse): void {
  w.int32(0).int16(res.errorCode).int32(res.generationId);
  w.string(res.protocolName).string(res.leader).string(res.memberId);
  w.array(res.members, (w, m) =>
    w.string(m.memberId).nullableString(m.groupInstanceId).nullableBytes(m.metadata),
  );
}
