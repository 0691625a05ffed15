// OffsetCommit (key 8), versions 2 to 5: a group records how far it has consumed each partition.
// kafkajs asks for v5; librdkafka (kcat) needs a version in 1..2 advertised for its group consumer.
//
//   OffsetCommit Request => group_id:STRING generation_id:INT32 member_id:STRING
//                           retention_time_ms:INT64 (v2-v4; -1 = the broker's default) [topics]
//     topics => name:STRING [partitions]
//       partitions => partition_index:INT32 committed_offset:INT64 committed_metadata:NULLABLE_STRING
//   OffsetCommit Response => throttle_time_ms:INT32 (v3+) [topics]
//     topics => name:STRING [partitions]
//       partitions => partition_index:INT32 error_code:INT16
//
// generation_id -1 commits outside any group generation (a consumer that assigns itself).
// Committed offsets here never expire, so a retention time is read and ignored.
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export interface OffsetCommitRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  topics: {
    name: string;
    partitions: { partitionIndex: number; committedOffset: number; metadata: string | null }[];
  }[];
}

export interface OffsetCommitResponse {
  topics: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[];
}

const RETENTION_LAST_VERSION = 4;

export function decodeOffsetCommitRequest(r: Reader, version: number): OffsetCommitRequest {
  const groupId = r.string();
  const generationId = r.int32();
  const memberId = r.string();
  if (version <= RETENTION_LAST_VERSION) r.int64();
  return {
    groupId,
    generationId,
    memberId,
    topics: r.array((r) => ({
      name: r.string(),
      partitions: r.array((r) => ({
        partitionIndex: r.int32(),
        committedOffset: r.int64(),
        metadata: r.nullableString(),
      })),
    })),
  };
}

export function encodeOffsetCommitResponse(w: Writer, res: OffsetCommitResponse, version: number): void {
  if (version >= 3) w.int32(0);
  w.array(res.topics, (w, t) => {
    w.string(t.name);
    w.array(t.partitions, (w, p) => w.int32(p.partitionIndex).int16(p.errorCode));
  });
}
