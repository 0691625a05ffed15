// Replication with real processes: three brokers (dist/main.js --id nN --peers ...) hold a
// partition, an idempotent kafkajs producer appends with acks=all, and the partition's leader
// is killed with SIGKILL mid-stream. The controller (the Raft leader of the metadata log)
// elects a member of the ISR; kafkajs learns the new leader from Metadata and goes on. Then
// the killed broker comes back, cuts its log back by leader epochs and rejoins the ISR. The
// pure checker (src/core/log-checker.ts) judges the history read from the new leader: every
// acknowledged value exactly once, in the order it was acknowledged, offsets dense.
import { fileURLToPath } from 'node:url';
import { type Cluster, freePorts, startCluster } from '@ddia/testkit';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppendAttempt, checkLogHistory, type ReadRecord } from '../src/core/log-checker.js';
import { waitFor } from './support/broker.js';

const MAIN_JS = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const BEFORE_KILL = 40;
const AFTER_KILL = 40;

let cluster: Cluster;
const kafkaPorts = new Map<string, number>();

interface ClusterView {
  caughtUp: boolean;
  topics: { name: string; partitions: { leader: number; leaderEpoch: number; isr: number[] }[] }[];
}

async function view(url: string): Promise<ClusterView | null> {
  try {
    const res = await fetch(`${url}/cluster`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? ((await res.json()) as ClusterView) : null;
  } catch {
    return null;
  }
}

beforeAll(async () => {
  const ports = await freePorts(3);
  for (const [i, id] of ['n1', 'n2', 'n3'].entries()) kafkaPorts.set(id, ports[i]!);
  cluster = await startCluster({
    nodes: 3,
    readyTimeoutMs: 120_000,
    command: (spec) => ({
      args: [
        MAIN_JS,
        ...spec.flags,
        '--kafka-port',
        String(kafkaPorts.get(spec.id)),
        '--min-insync-replicas',
        '2',
        '--broker-session-timeout-ms',
        '1500',
        '--replica-lag-time-max-ms',
        '5000',
        '--log-level',
        'warn',
      ],
      env: { NODE_ENV: 'test' },
    }),
  });
}, 150_000);

afterAll(async () => {
  await cluster?.close();
});

describe('three replicated brokers: kill -9 the partition leader mid-stream', () => {
  it('a new leader from the ISR takes over; every acknowledged record is read exactly once, in order', async () => {
    const topic = 'replicated';
    const bootstrap = [...kafkaPorts.values()].map((p) => `127.0.0.1:${p}`);
    const client = (clientId = 'cluster-test') =>
      new Kafka({
        brokers: bootstrap,
        clientId,
        logLevel: logLevel.NOTHING,
        retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 2000 },
      });
    const admin = client().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const leaderOf = async () => {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      return meta.topics[0]!.partitions[0]!;
    };
    const first = await leaderOf();
    expect(first.replicas.sort()).toEqual([1, 2, 3]);
    const victim = `n${first.leader}`;

    const attempts: AppendAttempt[] = [];
    let acknowledged = 0;
    let producer: Producer | null = null;
    const fresh = async (): Promise<Producer> => {
      const p = client('cluster-writer').producer({
        idempotent: true,
        maxInFlightRequests: 1,
        retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 2000 },
      });
      await p.connect();
      return p;
    };
    let killing: Promise<void> | null = null;
    const write = async (until: number) => {
      for (let seq = attempts.length; acknowledged < until; seq++) {
        const value = `v${seq}`;
        const attempt: AppendAttempt = { value, producer: 'p0', seq, partition: 0, outcome: 'unknown' };
        attempts.push(attempt);
        try {
          producer ??= await fresh();
          await producer.send({ topic, acks: -1, timeout: 10_000, messages: [{ value, partition: 0 }] });
          attempt.outcome = 'ok';
          acknowledged++;
          // kill -9 the leader while the next send goes out (not awaited here).
          if (acknowledged === BEFORE_KILL) killing = cluster.node(victim).kill();
        } catch {
          // Outcome unknown: never re-sent under this value; a new producer id for the next.
          await producer?.disconnect().catch(() => {});
          producer = null;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    };

    await write(BEFORE_KILL + AFTER_KILL);
    await killing;
    await (producer as Producer | null)?.disconnect();

    const after = await leaderOf();
    expect(after.leader).not.toBe(first.leader);
    expect(after.isr).not.toContain(first.leader);

    // The killed broker comes back: it truncates to the new leader and rejoins the ISR.
    await cluster.node(victim).restart();
    await waitFor(
      `${victim} back in the ISR`,
      async () => ((await view(cluster.node(victim).url))?.topics[0]?.partitions[0]?.isr.length ?? 0) === 3,
      60_000,
    );

    const ends = await admin.fetchTopicOffsets(topic);
    const end = Number(ends[0]!.high);
    await admin.disconnect();
    const finalRead: ReadRecord[] = [];
    const consumer = client().consumer({ groupId: 'cluster-final', maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        finalRead.push({ partition, offset: Number(message.offset), value: message.value!.toString() });
      },
    });
    await waitFor('the final read to reach the end', () => finalRead.length >= end, 60_000);
    await consumer.disconnect();

    const result = checkLogHistory(attempts, finalRead);
    console.log(
      `replication: leader n${first.leader} killed, n${after.leader} took over; ${result.acknowledged} acknowledged, ` +
        `${result.unknownRead + result.unknownMissing} unknown (${result.unknownRead} present), ${finalRead.length} in the log`,
    );
    expect(result).toMatchObject({
      lost: [],
      duplicated: [],
      reordered: [],
      unexpected: [],
      offsetErrors: [],
    });
    expect(result.valid).toBe(true);
    expect(result.acknowledged).toBe(BEFORE_KILL + AFTER_KILL);
  }, 180_000);
});
