// Jepsen-style: the broker as a real process (dist/main.js, testkit's harness), producers
// appending with acks=all (the idempotent producer: kafkajs retries a batch with the same
// sequence numbers, and the broker must recognise it even across a restart) and a consumer
// group reading and committing, while a seeded nemesis (testkit's randomSchedule: kill -9 and
// restart, SIGSTOP and SIGCONT) hits the broker. Then the faults heal, a fresh consumer reads
// everything from offset 0, and the pure checker (src/core/log-checker.ts) judges the history:
// no acknowledged value lost, none duplicated, each producer's values in order per partition,
// dense offsets, nothing invented, and the live consumer never skipped an offset.
//
// A send whose outcome is unknown (it failed) is never re-sent under the same value, and the
// producer that failed is replaced by a new one (a new producer id): kafkajs keeps a failed
// batch's sequence numbers for the next batch, so after a failure whose batch was in fact
// written, the next batch would be taken for a duplicate and dropped (Kafka's Java client
// bumps the epoch there). The seed is printed; DDIA_SEED=n replays one schedule.
// (One broker; the replicated cluster's kill -9 failover is test/cluster.it.test.ts.)
import { fileURLToPath } from 'node:url';
import { SeededRandom } from '@ddia/common/core';
import { type Cluster, freePort, randomSchedule, runNemesis, startCluster } from '@ddia/testkit';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppendAttempt, checkLogHistory, type ReadRecord } from '../src/core/log-checker.js';
import { kafkaClient, waitFor } from './support/broker.js';

const MAIN_JS = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const PRODUCERS = 3;
const PARTITIONS = 3;
const SEED = Number(process.env.DDIA_SEED ?? 1807);
const FAULT_WINDOW_MS = 4500;

let cluster: Cluster;
let bootstrap: string;

beforeAll(async () => {
  const kafkaPort = await freePort();
  bootstrap = `127.0.0.1:${kafkaPort}`;
  cluster = await startCluster({
    nodes: 1,
    command: (spec) => ({
      args: [MAIN_JS, ...spec.flags, '--kafka-port', String(kafkaPort), '--log-level', 'warn'],
      env: { NODE_ENV: 'test' },
    }),
  });
});

afterAll(async () => {
  await cluster?.close();
});

describe('Jepsen-style: acks=all producers and a consumer group under kill -9 and SIGSTOP', () => {
  it(`every acknowledged value read exactly once, in order per partition (seed ${SEED})`, async () => {
    const topic = 'jepsen';
    const admin = kafkaClient(bootstrap).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
    await admin.disconnect();

    const schedule = randomSchedule({
      seed: SEED,
      nodes: ['n1'],
      durationMs: FAULT_WINDOW_MS,
      faults: ['kill', 'pause'],
      faultMs: [300, 1200],
      gapMs: [400, 900],
    });
    const attempts: AppendAttempt[] = [];
    const live: ReadRecord[] = [];
    let stop = false;

    // The live consumer: commits as it goes; after a broker restart it resumes from its commit.
    const consumer = kafkaClient(bootstrap, 'jepsen-live').consumer({
      groupId: 'jepsen-live',
      maxWaitTimeInMs: 200,
      retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        live.push({ partition, offset: Number(message.offset), value: message.value!.toString() });
      },
    });

    const writers = Array.from({ length: PRODUCERS }, async (_, w) => {
      const random = new SeededRandom(SEED * 31 + w);
      const fresh = async (): Promise<Producer> => {
        const p = kafkaClient(bootstrap, `jepsen-writer-${w}`).producer({
          idempotent: true,
          maxInFlightRequests: 1,
          retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
        });
        await p.connect();
        return p;
      };
      let producer: Producer | null = null;
      for (let seq = 0; !stop; seq++) {
        const partition = random.int(0, PARTITIONS - 1);
        const value = `p${w}-${seq}`;
        const attempt: AppendAttempt = { value, producer: `p${w}`, seq, partition, outcome: 'unknown' };
        attempts.push(attempt);
        try {
          producer ??= await fresh();
          await producer.send({ topic, acks: -1, messages: [{ value, partition }] });
          attempt.outcome = 'ok';
        } catch {
          // Outcome unknown; never re-sent. A new producer (new id) for the next value.
          await producer?.disconnect().catch(() => {});
          producer = null;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
      await producer?.disconnect().catch(() => {});
    });

    const nemesis = runNemesis({ cluster, schedule });
    const applied = await nemesis.done;
    // A quiet period after the heal: producers and the consumer reconnect and go on.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    stop = true;
    await Promise.all(writers);
    const describeRun = () =>
      `seed ${SEED} (DDIA_SEED=${SEED} replays it); schedule ${JSON.stringify(schedule.steps)}; applied ${JSON.stringify(applied)}`;

    // The final read: a fresh group from offset 0 up to the end each partition has now.
    const reader = kafkaClient(bootstrap, 'jepsen-final');
    const ends = await (async () => {
      const a = reader.admin();
      await a.connect();
      const offsets = await a.fetchTopicOffsets(topic);
      await a.disconnect();
      return new Map(offsets.map((p) => [p.partition, Number(p.high)]));
    })();
    const finalRead: ReadRecord[] = [];
    const final = reader.consumer({ groupId: `jepsen-final-${SEED}`, maxWaitTimeInMs: 200 });
    await final.connect();
    await final.subscribe({ topic, fromBeginning: true });
    await final.run({
      eachMessage: async ({ partition, message }) => {
        finalRead.push({ partition, offset: Number(message.offset), value: message.value!.toString() });
      },
    });
    const readTo = () => {
      const top = new Map<number, number>();
      for (const r of finalRead) top.set(r.partition, Math.max(top.get(r.partition) ?? -1, r.offset));
      return [...ends].every(([p, end]) => (top.get(p) ?? -1) >= end - 1);
    };
    await waitFor('the final read to reach every partition end', readTo, 60_000);
    await final.disconnect();
    await consumer.disconnect();

    const result = checkLogHistory(attempts, finalRead, new Map([['jepsen-live', live]]));
    const kills = applied.filter((a) => a.action.op === 'kill').length;
    const pauses = applied.filter((a) => a.action.op === 'pause').length;
    console.log(
      `jepsen seed ${SEED}: ${kills} kills, ${pauses} pauses; ${result.acknowledged} acknowledged, ` +
        `${result.unknownRead + result.unknownMissing} unknown (${result.unknownRead} present), ` +
        `${finalRead.length} in the log, live consumer read ${live.length}`,
    );
    expect(result, describeRun()).toMatchObject({
      lost: [],
      duplicated: [],
      reordered: [],
      unexpected: [],
      offsetErrors: [],
      skipped: [],
    });
    expect(result.valid).toBe(true);
    expect(kills + pauses).toBeGreaterThan(0);
    // How many get acknowledged depends on the load (3 at load 30): only that some were.
    expect(result.acknowledged).toBeGreaterThan(0);
  }, 120_000);
});
