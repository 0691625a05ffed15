// Reads a topic from its start up to the end it had when the call began (its high watermark
// per partition), then stops: how a service rebuilds in-memory state from a log on start.
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';

export async function readTopicToEnd(
  kafka: Kafka,
  topic: string,
  onMessage: (message: KafkaMessage, partition: number) => void | Promise<void>,
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  // Partitions still to read, with the last offset to reach.
  const pending = new Map<number, number>();
  for (const p of offsets) if (Number(p.high) > Number(p.low)) pending.set(p.partition, Number(p.high) - 1);
  if (pending.size === 0) return 0;
  let read = 0;
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
            for (const m of batch.messages) {
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
