// InitProducerId (key 22), version 1: an idempotent producer gets its id and epoch (KIP-98).
//
//   InitProducerId Request (v1) => transactional_id:NULLABLE_STRING transaction_timeout_ms:INT32
//   InitProducerId Response (v1) => throttle_time_ms:INT32 error_code:INT16 producer_id:INT64 producer_epoch:INT16
//
// With the id, every batch carries (producer_id, epoch, base_sequence) and the broker can
// recognise a retried batch it already appended.
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export interface InitProducerIdRequest {
  transactionalId: string | null;
  transactionTimeoutMs: number;
}

export interface InitProducerIdResponse {
  errorCode: number;
  producerId: number;
  producerEpoch: number;
}

export function decodeInitProducerIdRequest(r: Reader): InitProducerIdRequest {
  return { transactionalId: r.nullableString(), transactionTimeoutMs: r.int32() };
}

export function encodeInitProducerIdResponse(w: Writer, res: InitProducerIdResponse): void {
  w.int32(0).int16(res.errorCode).int64(res.producerId).int16(res.producerEpoch);
}
