// Produce (key 0), versions 3 to 7: append record batches to partitions. v3 is the first that
// carries record batches (magic 2); kafkajs asks for v7, and librdkafka (kcat) turns on record
// batches only where a broker serves v3. The requests of v3 to v7 are alike:
//
//   Produce Request => transactional_id:NULLABLE_STRING acks:INT16 timeout_ms:INT32 [topic_data]
//     topic_data => name:STRING [partition_data]
//       partition_data => index:INT32 records:RECORDS (NULLABLE_BYTES of v2 record batches)
//   Produce Response => [responses] throttle_time_ms:INT32
//     responses => name:STRING [partition_responses]
//       partition_responses => index:INT32 error_code:INT16 base_offset:INT64
//                              log_append_time_ms:INT64 log_start_offset:INT64 (v5+)
//
// acks 0 gets no response at all; 1 is answered once the leader has the batch; -1 (all) once
// every in-sync replica has it, here: once it is fsync'd (one broker: the ISR is itself).
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export interface ProduceRequest {
  transactionalId: string | null;
  acks: number;
  timeoutMs: number;
  topics: { name: string; partitions: { index: number; records: Uint8Array | null }[] }[];
}

export interface ProducePartitionResponse {
  index: number;
  errorCode: number;
  baseOffset: number;
  logAppendTimeMs: number;
  logStartOffset: number;
}

export interface ProduceResponse {
  topics: { name: string; partitions: ProducePartitionResponse[] }[];
}

export function decodeProduceRequest(r: Reader, _version: number): ProduceRequest {
  const transactionalId = r.nullableString();
  const acks = r.int16();
  const timeoutMs = r.int32();
  const topics = r.array((r) => ({
    name: r.string(),
    partitions: r.array((r) => ({ index: r.int32(), records: r.nullableBytes() })),
  }));
  return { transactionalId, acks, timeoutMs, topics };
}

export function encodeProduceResponse(w: Writer, res: ProduceResponse, version: number): void {
  w.array(res.topics, (w, t) => {
    w.string(t.name);
    w.array(t.partitions, (w, p) => {
      w.int32(p.index).int16(p.errorCode).int64(p.baseOffset).int64(p.logAppendTimeMs);
      if (version >= 5) w.int64(p.logStartOffset);
    });
  });
  w.int32(0);
}
