// The ETL's streaming source (DDIA ch. 11 meets ch. 10): orders that arrive on a topic of the
// streaming package's broker (spoken to with kafkajs, as to any Kafka) are cut into
// micro-batches, each written as a raw order file that the batch pipeline then applies like any
// other. The file's name carries the offsets it holds,
//   orders-stream-<topic>-p<partition>-<from>-<to>.csv   (messages from ≤ offset < to)
// so the raw directory itself records how far each partition has been read: the next pull
// starts at the largest `to` on disk. A file is written whole (write-then-rename) before the
// pipeline sees it; the pipeline's own watermark says which files it has applied. A crash
// between the two steps loses nothing and applies nothing twice: the next run finds the file,
// does not fetch its offsets again, and applies it. (The offsets live with the output, not in
// the broker's consumer group: the "exactly once by idempotence" of ch. 11.)
//
// A message's value is one or more order lines in the raw CSV format (without the header);
// bytes are copied as they are, so dirty rows reach the pipeline's dead letters as from files.
import { join } from 'node:path';
import { type Consumer, Kafka, logLevel } from 'kafkajs';
import { commitFile, listNames, writeBytes } from '../disk.js';

export const ORDERS_HEADER = 'order_id,customer_id,amount,quantity,order_date,note\n';
const FILE = /^orders-stream-(.+)-p(\d+)-(\d+)-(\d+)\.csv$/;
const PULL_TIMEOUT_MS = 60_000;

export interface PulledFile {
  partition: number;
  from: number;
  to: number;
  messages: number;
  file: string;
}

/** The next offset to read of each partition of `topic`, from the files already in rawDir. */
export async function streamPositions(rawDir: string, topic: string): Promise<Map<number, number>> {
  const next = new Map<number, number>();
  for (const name of await listNames(rawDir)) {
    const m = FILE.exec(name);
    if (!m || m[1] !== topic) continue;
    const partition = Number(m[2]);
    next.set(partition, Math.max(next.get(partition) ?? 0, Number(m[4])));
  }
  return next;
}

export function streamFileName(topic: string, partition: number, from: number, to: number): string {
  if (!/^[A-Za-z0-9._]+$/.test(topic)) throw new Error(`topic '${topic}': letters, digits, '.' and '_' only`);
  return `orders-stream-${topic}-p${partition}-${String(from).padStart(12, '0')}-${String(to).padStart(12, '0')}.csv`;
}

/**
 * Reads every message of `topic` not yet in rawDir, up to each partition's high watermark at
 * the time of the call, and writes one raw file per partition that had new messages.
 */
export async function pullTopic(brokers: string[], topic: string, rawDir: string): Promise<PulledFile[]> {
  streamFileName(topic, 0, 0, 0); // validates the topic name before any I/O
  const kafka = new Kafka({ brokers, clientId: 'ddia-batch-etl', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  let ends: { partition: number; low: number; high: number }[];
  try {
    ends = (await admin.fetchTopicOffsets(topic)).map((o) => ({
      partition: o.partition,
      low: Number(o.low),
      high: Number(o.high),
    }));
  } finally {
    await admin.disconnect();
  }
  const positions = await streamPositions(rawDir, topic);
  const wanted = new Map<number, { from: number; to: number; lines: Buffer[]; next: number }>();
  for (const { partition, low, high } of ends) {
    const from = Math.max(positions.get(partition) ?? 0, low);
    if (from < high) wanted.set(partition, { from, to: high, lines: [], next: from });
  }
  if (wanted.size === 0) return [];

  const consumer = kafka.consumer({ groupId: `ddia-batch-etl-${topic}`, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumeRanges(consumer, topic, wanted);
  } finally {
    await consumer.disconnect();
  }
  const out: PulledFile[] = [];
  for (const [partition, range] of [...wanted].sort((a, b) => a[0] - b[0])) {
    const file = streamFileName(topic, partition, range.from, range.to);
    const temp = join(rawDir, `.${file}.tmp`);
    await writeBytes(temp, Buffer.concat([Buffer.from(ORDERS_HEADER), ...range.lines]));
    await commitFile(temp, join(rawDir, file));
    out.push({ partition, from: range.from, to: range.to, messages: range.to - range.from, file });
  }
  return out;
}

async function consumeRanges(
  consumer: Consumer,
  topic: string,
  wanted: Map<number, { from: number; to: number; lines: Buffer[]; next: number }>,
): Promise<void> {
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let done!: () => void;
  let failed!: (err: Error) => void;
  const finished = new Promise<void>((resolve, reject) => {
    done = resolve;
    failed = reject;
  });
  const complete = () => [...wanted.values()].every((r) => r.next >= r.to);
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const range = wanted.get(batch.partition);
      if (!range) return;
      for (const message of batch.messages) {
        const offset = Number(message.offset);
        if (offset < range.next || offset >= range.to) continue;
        const value = message.value ?? Buffer.alloc(0);
        range.lines.push(value);
        if (value.length === 0 || value[value.length - 1] !== 10) range.lines.push(Buffer.from('\n'));
        range.next = offset + 1;
      }
      if (complete()) done();
    },
  });
  for (const [partition, range] of wanted) consumer.seek({ topic, partition, offset: String(range.from) });
  const timer = setTimeout(
    () =>
      failed(
        new Error(
          `topic ${topic}: not every message up to the high watermark arrived in ${PULL_TIMEOUT_MS} ms`,
        ),
      ),
    PULL_TIMEOUT_MS,
  );
  try {
    if (!complete()) await finished;
  } finally {
    clearTimeout(timer);
  }
}
