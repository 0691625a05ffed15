// JoinGroup (key 11), versions 0 to 5: a consumer asks to be a member of a group's next generation.
// kafkajs and librdkafka (kcat) ask for v5; librdkafka needs v0 advertised to enable its group
// consumer, so the older layouts are served too:
//
//   JoinGroup Request => group_id:STRING session_timeout_ms:INT32
//                        rebalance_timeout_ms:INT32 (v1+) member_id:STRING
//                        group_instance_id:NULLABLE_STRING (v5+) protocol_type:STRING [protocols]
//     protocols => name:STRING metadata:BYTES
//   JoinGroup Response => throttle_time_ms:INT32 (v2+) error_code:INT16 generation_id:INT32
//                         protocol_name:STRING leader:STRING member_id:STRING [members]
//     members => member_id:STRING group_instance_id:NULLABLE_STRING (v5+) metadata:BYTES
//
// Since v4 a first join with an empty member_id gets MEMBER_ID_REQUIRED and an id to rejoin
// with (KIP-394): the broker then knows every member it waits for by id. Older versions get
// their id in the answer to that first join.
import type { JoinResult } from '../../core/group.js';
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

/** The first version whose clients understand MEMBER_ID_REQUIRED. */
export const JOIN_MEMBER_ID_REQUIRED_VERSION = 4;

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

export function decodeJoinGroupRequest(r: Reader, version: number): JoinGroupRequest {
  const groupId = r.string();
  const sessionTimeoutMs = r.int32();
  // v0 has one timeout for both: the session timeout bounds the rebalance as well.
  const rebalanceTimeoutMs = version >= 1 ? r.int32() : sessionTimeoutMs;
  return {
    groupId,
    sessionTimeoutMs,
    rebalanceTimeoutMs,
    memberId: r.string(),
    groupInstanceId: version >= 5 ? r.nullableString() : null,
    protocolType: r.string(),
    protocols: r.array((r) => ({ name: r.string(), metadata: r.bytesField().slice() })),
  };
}

export function encodeJoinGroupResponse(w: Writer, res: JoinGroupResponse, version: number): void {
  if (version >= 2) w.int32(0);
  w.int16(res.errorCode).int32(res.generationId);
  w.string(res.protocolName).string(res.leader).string(res.memberId);
  w.array(res.members, (w, m) => {
    w.string(m.memberId);
    if (version >= 5) w.nullableString(m.groupInstanceId);
    w.nullableBytes(m.metadata);
  });
}
