// DescribeGroups (key 15), version 2: a group's state, protocol and members.
//
//   DescribeGroups Request (v2) => [groups:STRING]
//   DescribeGroups Response (v2) => throttle_time_ms:INT32 [groups]
//     groups => error_code:INT16 group_id:STRING group_state:STRING protocol_type:STRING
//               protocol_data:STRING [members]
//       members => member_id:STRING client_id:STRING client_host:STRING
//                  member_metadata:BYTES member_assignment:BYTES
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export interface DescribedGroup {
  errorCode: number;
  groupId: string;
  groupState: string;
  protocolType: string;
  protocolData: string;
  members: {
    memberId: string;
    clientId: string;
    clientHost: string;
    memberMetadata: Uint8Array;
    memberAssignment: Uint8Array;
  }[];
}

export function decodeDescribeGroupsRequest(r: Reader): { groups: string[] } {
  return { groups: r.array((r) => r.string()) };
}

export function encodeDescribeGroupsResponse(w: Writer, res: { groups: DescribedGroup[] }): void {
  w.int32(0);
  w.array(res.groups, (w, g) => {
    w.int16(g.errorCode).string(g.groupId).string(g.groupState).string(g.protocolType).string(g.protocolData);
    w.array(g.members, (w, m) => {
      w.string(m.memberId).string(m.clientId).string(m.clientHost);
      w.nullableBytes(m.memberMetadata).nullableBytes(m.memberAssignment);
    });
  });
}
