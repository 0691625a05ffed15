// DeleteTopics (key 20), version 1.
//
//   DeleteTopics Request (v1) => [topic_names:STRING] timeout_ms:INT32
//   DeleteTopics Response (v1) => throttle_time_ms:INT32 [responses]
//     responses => name:STRING error_code:INT16
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export interface DeleteTopicsRequest {
  topicNames: string[];
  timeoutMs: number;
}

export function decodeDeleteTopicsRequest(r: Reader): DeleteTopicsRequest {
  return { topicNames: r.array((r) => r.string()), timeoutMs: r.int32() };
}

export function encodeDeleteTopicsResponse(
  w: Writer,
  res: { topics: { name: string; errorCode: number }[] },
): void {
  w.int32(0);
  w.array(res.topics, (w, t) => w.string(t.name).int16(t.errorCode));
}
