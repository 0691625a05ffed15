// OffsetCommit (key 8), version 5: a group records how far it has consumed each partition.
//
//   OffsetCommit Request (v5) => group_id:STRING generation_id:INT32 member_id:STRING [topics]
//     topics => name:STRING [partitions]
//       partitions => partition_index:INT32 committed_offset:INT64 committed_metadata:NULLABLE_STRING
//   OffsetCommit Response (v5) => throttle_time_ms:INT32 [topics]
//     topics => name:STRING [partitions]
//       partitions => partition_index:INT32 error_code:INT16
//
// generation_id -1 commits outside any group generation (a consumer that assigns itself).
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

export function decodeOffsetCommitRequest(r: Reader): OffsetCommitRequest {
  return {
    groupId: r.string(),
    generationId: r.int32(),
    memberId: r.string(),
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

export function encodeOffsetCommitResponse(w: Writer, res: OffsetCommitResponse): void {
  w.int32(0);
  w.array(res.topics, (w, t) => {
    w.string(t.name);
    w.array(t.partitions, (w, p) => w.int32(p.partitionIndex).int16(p.errorCode));
  });
}
