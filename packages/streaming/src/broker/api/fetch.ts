// Fetch with long polling: answer at once when min_bytes are there (or an error is), otherwise
// park the request until a partition's high watermark moves or max_wait_ms runs out. This is
// how a Kafka consumer waits for messages without polling the broker in a loop.
import { ErrorCode } from '../../core/index.js';
import type { PartitionLog } from '../../log/partition-log.js';
import type { FetchPartitionResponse, FetchRequest, FetchResponse } from '../../protocol/fetch/v4-v11.js';
import type { Broker } from '../broker.js';

/** The longest a fetch may be parked, whatever the client asks (Kafka caps it by its request timeout). */
export const FETCH_WAIT_MAX_MS = 30_000;

type Outcome = { kind: 'ready' } | { kind: 'wait'; bytes: number };

/** How many bytes the request could read now, or 'ready' when some partition has an error to report. */
function available(broker: Broker, req: FetchRequest): Outcome {
  let bytes = 0;
  for (const t of req.topics) {
    for (const p of t.partitions) {
      const partition = broker.partition(t.topic, p.partition);
      if (!partition) return { kind: 'ready' };
      if (broker.replication && broker.replication.leaderError(t.topic, p.partition) !== ErrorCode.NONE)
        return { kind: 'ready' };
      if (p.fetchOffset < partition.logStartOffset || p.fetchOffset > readLimit(broker, partition))
        return { kind: 'ready' };
      bytes += partition.bytesAvailable(p.fetchOffset);
    }
  }
  return { kind: 'wait', bytes };
}

/**
 * The largest offset a consumer may fetch from without OFFSET_OUT_OF_RANGE: the high watermark
 * on one broker; in cluster mode the log end, since a new leader's high watermark can be below
 * what consumers already read until its followers fetch again (Kafka answers empty there).
 */
function readLimit(broker: Broker, partition: PartitionLog): number {
  return broker.replication
    ? Math.max(partition.logEndOffset, partition.highWatermark)
    : partition.highWatermark;
}

export async function handleFetch(broker: Broker, req: FetchRequest): Promise<FetchResponse> {
  const waitMs = Math.min(Math.max(req.maxWaitMs, 0), FETCH_WAIT_MAX_MS);
  const first = available(broker, req);
  if (first.kind === 'wait' && first.bytes < Math.max(req.minBytes, 1) && waitMs > 0) {
    await broker.waitUntil(() => {
      const now = available(broker, req);
      return now.kind === 'ready' || now.bytes >= Math.max(req.minBytes, 1) ? true : null;
    }, waitMs);
  }
  return collect(broker, req);
}

async function collect(broker: Broker, req: FetchRequest): Promise<FetchResponse> {
  // KIP-74: the first batch is returned even when larger than max_bytes, so a consumer never
  // gets stuck behind one big batch; after it the response stops at max_bytes.
  let budget = req.maxBytes > 0 ? req.maxBytes : Number.POSITIVE_INFINITY;
  const topics: FetchResponse['topics'] = [];
  for (const t of req.topics) {
    const partitions: FetchPartitionResponse[] = [];
    for (const p of t.partitions) {
      const partition = broker.partition(t.topic, p.partition);
      const empty = (errorCode: number): FetchPartitionResponse => ({
        partitionIndex: p.partition,
        errorCode,
        highWatermark: partition?.highWatermark ?? -1,
        lastStableOffset: partition?.highWatermark ?? -1,
        logStartOffset: partition?.logStartOffset ?? -1,
        records: [],
      });
      if (!partition) {
        partitions.push(empty(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
        continue;
      }
      const leaderError = broker.replication?.leaderError(t.topic, p.partition) ?? ErrorCode.NONE;
      if (leaderError !== ErrorCode.NONE) {
        partitions.push(empty(leaderError));
        continue;
      }
      if (p.fetchOffset < partition.logStartOffset || p.fetchOffset > readLimit(broker, partition)) {
        partitions.push(empty(ErrorCode.OFFSET_OUT_OF_RANGE));
        continue;
      }
      const limit = Math.min(Math.max(p.partitionMaxBytes, 1), budget);
      const records = budget > 0 ? await partition.read(p.fetchOffset, limit) : [];
      for (const r of records) budget -= r.length;
      partitions.push({ ...empty(ErrorCode.NONE), records });
    }
    topics.push({ topic: t.topic, partitions });
  }
  return { errorCode: ErrorCode.NONE, sessionId: 0, topics };
}
