// ListGroups (key 16), version 2: every group this broker coordinates.
//
//   ListGroups Request (v2) => (empty)
//   ListGroups Response (v2) => throttle_time_ms:INT32 error_code:INT16 [groups]
//     groups => group_id:STRING protocol_type:STRING
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export function decodeListGroupsRequest(_r: Reader): Record<string, never> {
  return {};
}

export function encodeListGroupsResponse(
  w: Writer,
  res: { errorCode: number; groups: { groupId: string; protocolType: string }[] },
): void {
  w.int32(0).int16(res.errorCode);
  w.array(res.groups, (w, g) => w.string(g.groupId).string(g.protocolType));
}
