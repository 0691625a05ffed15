// Fetch (key 1), versions 4 to 11: read record batches from partitions, waiting for data (long
// poll). v4 is the first that carries record batches (magic 2); kafkajs asks for v11, librdkafka
// 2.0 (kcat) for less. Fields marked (vN+) exist from version N on:
//
//   Fetch Request => replica_id:INT32 max_wait_ms:INT32 min_bytes:INT32 max_bytes:INT32
//                    isolation_level:INT8 session_id:INT32 (v7+) session_epoch:INT32 (v7+)
//                    [topics] [forgotten_topics_data] (v7+) rack_id:STRING (v11+)
//     topics => topic:STRING [partitions]
//       partitions => partition:INT32 current_leader_epoch:INT32 (v9+) fetch_offset:INT64
//                     log_start_offset:INT64 (v5+) partition_max_bytes:INT32
//     forgotten_topics_data => topic:STRING [partitions:INT32]
//   Fetch Response => throttle_time_ms:INT32 error_code:INT16 (v7+) session_id:INT32 (v7+)
//                     [responses]
//     responses => topic:STRING [partitions]
//       partitions => partition_index:INT32 error_code:INT16 high_watermark:INT64
//                     last_stable_offset:INT64 log_start_offset:INT64 (v5+)
//                     [aborted_transactions] (nullable) preferred_read_replica:INT32 (v11+)
//                     records:RECORDS
//         aborted_transactions => producer_id:INT64 first_offset:INT64
//
// The broker answers once min_bytes are available or max_wait_ms has passed, whichever is
// first: the consumer's poll is a request parked on the broker, not a busy loop.
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export interface FetchPartitionRequest {
  partition: number;
  currentLeaderEpoch: number;
  fetchOffset: number;
  logStartOffset: number;
  partitionMaxBytes: number;
}

export interface FetchRequest {
  replicaId: number;
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  isolationLevel: number;
  sessionId: number;
  sessionEpoch: number;
  topics: { topic: string; partitions: FetchPartitionRequest[] }[];
  forgottenTopics: { topic: string; partitions: number[] }[];
  rackId: string;
}

export interface FetchPartitionResponse {
  partitionIndex: number;
  errorCode: number;
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  /** Whole stored batches, concatenated. */
  records: Uint8Array[];
}

export interface FetchResponse {
  errorCode: number;
  sessionId: number;
  topics: { topic: string; partitions: FetchPartitionResponse[] }[];
}

/** What a field absent from an older version means (no session, no leader epoch, no rack). */
const NO_SESSION = 0;
const FINAL_EPOCH = -1;
const NO_LEADER_EPOCH = -1;
const NO_LOG_START_OFFSET = -1;

export function decodeFetchRequest(r: Reader, version: number): FetchRequest {
  return {
    replicaId: r.int32(),
    maxWaitMs: r.int32(),
    minBytes: r.int32(),
    maxBytes: r.int32(),
    isolationLevel: r.int8(),
    sessionId: version >= 7 ? r.int32() : NO_SESSION,
    sessionEpoch: version >= 7 ? r.int32() : FINAL_EPOCH,
    topics: r.array((r) => ({
      topic: r.string(),
      partitions: r.array((r) => ({
        partition: r.int32(),
        currentLeaderEpoch: version >= 9 ? r.int32() : NO_LEADER_EPOCH,
        fetchOffset: r.int64(),
        logStartOffset: version >= 5 ? r.int64() : NO_LOG_START_OFFSET,
        partitionMaxBytes: r.int32(),
      })),
    })),
    forgottenTopics:
      version >= 7 ? r.array((r) => ({ topic: r.string(), partitions: r.array((r) => r.int32()) })) : [],
    rackId: version >= 11 ? r.string() : '',
  };
}

/** No leader elections in a one-broker cluster: clients never read from another replica. */
const NO_PREFERRED_READ_REPLICA = -1;

export function encodeFetchResponse(w: Writer, res: FetchResponse, version: number): void {
  w.int32(0);
  if (version >= 7) w.int16(res.errorCode).int32(res.sessionId);
  w.array(res.topics, (w, t) => {
    w.string(t.topic);
    w.array(t.partitions, (w, p) => {
      w.int32(p.partitionIndex).int16(p.errorCode).int64(p.highWatermark);
      w.int64(p.lastStableOffset);
      if (version >= 5) w.int64(p.logStartOffset);
      w.nullableArray(null, () => {});
      if (version >= 11) w.int32(NO_PREFERRED_READ_REPLICA);
      w.bytesChunks(p.records);
    });
  });
}
