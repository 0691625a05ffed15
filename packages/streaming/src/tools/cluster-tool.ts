// A small client for trying the replicated broker by hand without kcat or curl (the README's
// replication session): create a topic, produce with an idempotent acks=all kafkajs producer,
// read everything back and check it, and print the partition roles a broker's /cluster shows.
//
//   node dist/tools/cluster-tool.js create  --brokers h:p,h:p,h:p --topic T [--partitions 1]
//   node dist/tools/cluster-tool.js produce --brokers ... --topic T --count N [--from 0]
//   node dist/tools/cluster-tool.js read    --brokers ... --topic T
//   node dist/tools/cluster-tool.js status  --http http://h:p
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    brokers: { type: 'string' },
    topic: { type: 'string' },
    partitions: { type: 'string', default: '1' },
    count: { type: 'string', default: '1000' },
    from: { type: 'string', default: '0' },
    http: { type: 'string' },
  },
});

function kafka(): Kafka {
  if (!values.brokers) throw new Error('--brokers host:port,... is required');
  return new Kafka({
    brokers: values.brokers.split(','),
    clientId: 'cluster-tool',
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 2000 },
  });
}

function topic(): string {
  if (!values.topic) throw new Error('--topic is required');
  return values.topic;
}

async function create(): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic: topic(), numPartitions: Number(values.partitions) }],
    waitForLeaders: true,
  });
  const meta = await admin.fetchTopicMetadata({ topics: [topic()] });
  for (const p of meta.topics[0]!.partitions)
    console.log(`${topic()}/${p.partitionId}: leader ${p.leader}, replicas [${p.replicas}], isr [${p.isr}]`);
  await admin.disconnect();
}

async function produce(): Promise<void> {
  const producer = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const from = Number(values.from);
  const count = Number(values.count);
  const started = performance.now();
  let last = '';
  for (let i = from; i < from + count; i += 100) {
    const messages = [];
    for (let j = i; j < Math.min(i + 100, from + count); j++) messages.push({ value: `v${j}` });
    const [r] = await producer.send({ topic: topic(), acks: -1, messages });
    last = `${r!.baseOffset}`;
  }
  await producer.disconnect();
  const ms = Math.round(performance.now() - started);
  console.log(
    `acknowledged v${from}..v${from + count - 1} (acks=all) in ${ms} ms; last batch at offset ${last}`,
  );
}

async function read(): Promise<void> {
  const k = kafka();
  const admin = k.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic());
  await admin.disconnect();
  const total = ends.reduce((sum, p) => sum + Number(p.high), 0);
  const values_: string[] = [];
  const consumer = k.consumer({ groupId: `cluster-tool-${process.pid}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic: topic(), fromBeginning: true });
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        values_.push(message.value!.toString());
        if (values_.length >= total) resolve();
      },
    });
    if (total === 0) resolve();
  });
  await done;
  await consumer.disconnect();
  const distinct = new Set(values_).size;
  const inOrder = values_.every((v, i) => i === 0 || Number(v.slice(1)) > Number(values_[i - 1]!.slice(1)));
  console.log(
    `read ${values_.length} records (high watermark ${total}): ${distinct} distinct, ` +
      `${values_.length - distinct} duplicates, ${inOrder ? 'in order' : 'OUT OF ORDER'}, ` +
      `first ${values_[0] ?? '-'}, last ${values_[values_.length - 1] ?? '-'}`,
  );
}

async function status(): Promise<void> {
  if (!values.http) throw new Error('--http http://host:port is required');
  const res = await fetch(`${values.http}/cluster`);
  const view = (await res.json()) as {
    self: number;
    raft: { leaderId: string | null; term: number };
    topics: {
      name: string;
      partitions: {
        index: number;
        leader: number;
        leaderEpoch: number;
        isr: number[];
        highWatermark: number;
        logEndOffset: number;
      }[];
    }[];
  };
  console.log(`broker ${view.self}: controller (Raft leader) ${view.raft.leaderId}, term ${view.raft.term}`);
  for (const t of view.topics)
    for (const p of t.partitions)
      console.log(
        `  ${t.name}/${p.index}: leader ${p.leader} epoch ${p.leaderEpoch} isr [${p.isr}] ` +
          `high watermark ${p.highWatermark} log end ${p.logEndOffset}`,
      );
}

const commands: Record<string, () => Promise<void>> = { create, produce, read, status };
const command = commands[positionals[0] ?? ''];
if (!command) {
  console.error('usage: cluster-tool.js create|produce|read|status --brokers h:p,... --topic T | --http URL');
  process.exit(2);
}
try {
  await command();
} catch (err) {
  console.error(`cluster-tool: ${(err as Error).message}`);
  process.exit(1);
}
