// FindCoordinator (key 10), version 2: which broker runs a consumer group (or a transaction).
//
//   FindCoordinator Request (v2) => key:STRING key_type:INT8 (0 group, 1 transaction)
//   FindCoordinator Response (v2) => throttle_time_ms:INT32 error_code:INT16
//                                    error_message:NULLABLE_STRING node_id:INT32 host:STRING port:INT32
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

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

export function decodeFindCoordinatorRequest(r: Reader): FindCoordinatorRequest {
  return { key: r.string(), keyType: r.int8() };
}

export function encodeFindCoordinatorResponse(w: Writer, res: FindCoordinatorResponse): void {
  w.int32(0).int16(res.errorCode).nullableString(res.errorMessage);
  w.int32(res.nodeId).string(res.host).int32(res.port);
}
