// Reads a topic from its start up to the end it had when the call began (its high watermark
// per partition), then stops: how a service rebuilds in-memory state from a log on start.
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';

export interface ReadTopicOptions {
  /** Where to start per partition (default: the log start): skips what a local copy holds. */
  fromOffset?: (partition: number) => number;
  /** Only these partitions (default: all). */
  partitions?: readonly number[];
}

export async function readTopicToEnd(
  kafka: Kafka,
  topic: string,
  onMessage: (message: KafkaMessage, partition: number) => void | Promise<void>,
  options: ReadTopicOptions = {},
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  // Partitions still to read, with the last offset to reach.
  const pending = new Map<number, number>();
  const from = (p: { partition: number; low: string }) =>
    Math.max(Number(p.low), options.fromOffset?.(p.partition) ?? 0);
  for (const p of offsets)
    if (Number(p.high) > from(p) && (options.partitions?.includes(p.partition) ?? true))
      pending.set(p.partition, Number(p.high) - 1);
  if (pending.size === 0) return 0;
  let read = 0;
  const sought = new Set<number>();
  // A throwaway group: its offsets are never used again.
  const reader = kafka.consumer({ groupId: `read-${topic}-${randomUUID()}`, maxWaitTimeInMs: 100 });
  await reader.connect();
  try {
    await reader.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      reader
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const last = pending.get(batch.partition);
            if (last === undefined) return;
            const first = from(offsets.find((p) => p.partition === batch.partition)!);
            // The group starts at the log start; what a local copy holds is skipped by a seek
            // (once per partition), and by the offset check below until the seek takes effect.
            if (Number(batch.firstOffset() ?? first) < first && !sought.has(batch.partition)) {
              sought.add(batch.partition);
              reader.seek({ topic, partition: batch.partition, offset: String(first) });
              return;
            }
            for (const m of batch.messages) {
              if (Number(m.offset) < first) continue;
              if (Number(m.offset) > last) break;
              await onMessage(m, batch.partition);
              read++;
            }
            if (Number(batch.lastOffset()) >= last) {
              pending.delete(batch.partition);
              if (pending.size === 0) resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await reader.disconnect();
  }
  return read;
}
