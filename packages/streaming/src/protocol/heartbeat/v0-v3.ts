// Heartbeat (key 12), versions 0 to 3: a member says it is alive; the answer says whether to rejoin.
// kafkajs and librdkafka (kcat) ask for v3; v0 is advertised for librdkafka's group consumer.
//
//   Heartbeat Request => group_id:STRING generation_id:INT32 member_id:STRING
//                        group_instance_id:NULLABLE_STRING (v3+)
//   Heartbeat Response => throttle_time_ms:INT32 (v1+) error_code:INT16
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export function decodeHeartbeatRequest(r: Reader, version: number): HeartbeatRequest {
  return {
    groupId: r.string(),
    generationId: r.int32(),
    memberId: r.string(),
    groupInstanceId: version >= 3 ? r.nullableString() : null,
  };
}

export function encodeHeartbeatResponse(w: Writer, res: { errorCode: number }, version: number): void {
  if (version >= 1) w.int32(0);
  w.int16(res.errorCode);
}
