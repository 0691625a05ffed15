// FindCoordinator (key 10), versions 0 to 2: which broker runs a consumer group (or a transaction).
// kafkajs asks for v2; librdkafka (kcat) needs v0 advertised to enable its group consumer.
//
//   FindCoordinator Request => key:STRING key_type:INT8 (v1+; 0 group, 1 transaction)
//   FindCoordinator Response => throttle_time_ms:INT32 (v1+) error_code:INT16
//                               error_message:NULLABLE_STRING (v1+) node_id:INT32 host:STRING port:INT32
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export const COORDINATOR_KEY_GROUP = 0;

export interface FindCoordinatorRequest {
  key: string;
  keyType: number;
}

export interface FindCoordinatorResponse {
  errorCode: number;
  errorMessage: string | null;
  nodeId: number;
  host: string;
  port: number;
}

export function decodeFindCoordinatorRequest(r: Reader, version: number): FindCoordinatorRequest {
  return { key: r.string(), keyType: version >= 1 ? r.int8() : COORDINATOR_KEY_GROUP };
}

export function encodeFindCoordinatorResponse(
  w: Writer,
  res: FindCoordinatorResponse,
  version: number,
): void {
  if (version >= 1) w.int32(0);
  w.int16(res.errorCode);
  if (version >= 1) w.nullableString(res.errorMessage);
  w.int32(res.nodeId).string(res.host).int32(res.port);
}
