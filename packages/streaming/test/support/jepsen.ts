// The Jepsen-style run shared by the one-broker test (test/jepsen.it.test.ts) and the 3-broker
// cluster (test/cluster.it.test.ts): producers appending with acks=all through the idempotent
// producer, a consumer group reading and committing, while a seeded nemesis (testkit's
// randomSchedule and runNemesis) hits the brokers. Then the faults heal, a fresh consumer reads
// everything from offset 0, and the pure checker (src/core/log-checker.ts) judges the history.
//
// A send whose outcome is unknown (it failed) is never re-sent under the same value, and the
// producer that failed is replaced by a new one (a new producer id): kafkajs keeps a failed
// batch's sequence numbers for the next batch, so after a failure whose batch was in fact
// written, the next batch would be taken for a duplicate and dropped (Kafka's Java client
// bumps the epoch there).
import { SeededRandom } from '@ddia/common/core';
import {
  type AppliedAction,
  type Cluster,
  type FaultKind,
  type NemesisSchedule,
  randomSchedule,
  runNemesis,
} from '@ddia/testkit';
import type { Producer } from 'kafkajs';
import {
  type AppendAttempt,
  checkLogHistory,
  type LogCheckResult,
  type ReadRecord,
} from '../../src/core/log-checker.js';
import { kafkaClient, waitFor } from './broker.js';

export interface JepsenOptions {
  cluster: Cluster;
  /** Every broker's Kafka address. */
  bootstrap: string[];
  seed: number;
  topic: string;
  partitions: number;
  producers: number;
  /** Faults start and end within this window. */
  faultWindowMs: number;
  faults: readonly FaultKind[];
  faultMs: readonly [number, number];
  gapMs: readonly [number, number];
  /** After the final heal: producers and the consumer reconnect and go on this long. */
  quietMs: number;
  /** The final read's deadline (a restarted broker may take long to catch up under load). */
  finalReadMs?: number;
}

export interface JepsenOutcome {
  result: LogCheckResult;
  schedule: NemesisSchedule;
  applied: AppliedAction[];
  kills: number;
  pauses: number;
  finalRead: number;
  live: number;
  /** The seed, how to replay it, the schedule and what was applied: for an assertion message. */
  replay: string;
}

export async function runJepsen(options: JepsenOptions): Promise<JepsenOutcome> {
  const { cluster, bootstrap, seed, topic, partitions } = options;
  const admin = kafkaClient(bootstrap).admin();
  await admin.connect();
  // In a cluster the creation is a Raft proposal, answered REQUEST_TIMED_OUT when it takes over
  // 5 s (a loaded machine, a leader just elected); kafkajs does not retry that itself.
  await waitFor(
    `topic ${topic} created`,
    async () => {
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
        return true;
      } catch (err) {
        console.log(
          `creating ${topic}: ${(err as Error).message} ${JSON.stringify((err as { errors?: unknown }).errors ?? '')}`,
        );
        return false;
      }
    },
    60_000,
  );
  await admin.disconnect();

  const schedule = randomSchedule({
    seed,
    nodes: cluster.ids(),
    durationMs: options.faultWindowMs,
    faults: options.faults,
    faultMs: options.faultMs,
    gapMs: options.gapMs,
  });
  const attempts: AppendAttempt[] = [];
  const live: ReadRecord[] = [];
  let stop = false;

  // The live consumer: commits as it goes; after a broker restart it resumes from its commit.
  const consumer = kafkaClient(bootstrap, `${topic}-live`).consumer({
    groupId: `${topic}-live`,
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

  const writers = Array.from({ length: options.producers }, async (_, w) => {
    const random = new SeededRandom(seed * 31 + w);
    const fresh = async (): Promise<Producer> => {
      const p = kafkaClient(bootstrap, `${topic}-writer-${w}`).producer({
        idempotent: true,
        maxInFlightRequests: 1,
        retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
      });
      await p.connect();
      return p;
    };
    let producer: Producer | null = null;
    for (let seq = 0; !stop; seq++) {
      const partition = random.int(0, partitions - 1);
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

  const applied = await runNemesis({ cluster, schedule }).done;
  await new Promise((resolve) => setTimeout(resolve, options.quietMs));
  stop = true;
  await Promise.all(writers);

  // The final read: a fresh group from offset 0 up to the end each partition has now.
  const reader = kafkaClient(bootstrap, `${topic}-final`);
  const a = reader.admin();
  await a.connect();
  const ends = new Map((await a.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  await a.disconnect();
  const finalRead: ReadRecord[] = [];
  const final = reader.consumer({ groupId: `${topic}-final-${seed}`, maxWaitTimeInMs: 200 });
  await final.connect();
  await final.subscribe({ topic, fromBeginning: true });
  await final.run({
    eachMessage: async ({ partition, message }) => {
      addFinalRead(finalRead, {
        partition,
        offset: Number(message.offset),
        value: message.value!.toString(),
      });
    },
  });
  const readTo = () => {
    const top = new Map<number, number>();
    for (const r of finalRead) top.set(r.partition, Math.max(top.get(r.partition) ?? -1, r.offset));
    return [...ends].every(([p, end]) => (top.get(p) ?? -1) >= end - 1);
  };
  await waitFor('the final read to reach every partition end', readTo, options.finalReadMs ?? 60_000);
  await final.disconnect();
  await consumer.disconnect();

  const result = checkLogHistory(attempts, finalRead, new Map([[`${topic}-live`, live]]));
  const kills = applied.filter((x) => x.action.op === 'kill').length;
  const pauses = applied.filter((x) => x.action.op === 'pause').length;
  const partitionFaults = applied.filter((x) => x.action.op === 'partition').length;
  console.log(
    `${topic} seed ${seed} on ${cluster.ids().length} broker(s): ${kills} kills, ${pauses} pauses, ` +
      `${partitionFaults} network partitions; ` +
      `${result.acknowledged} acknowledged, ${result.unknownRead + result.unknownMissing} unknown ` +
      `(${result.unknownRead} present), ${finalRead.length} in the log, live consumer read ${live.length}`,
  );
  return {
    result,
    schedule,
    applied,
    kills,
    pauses,
    finalRead: finalRead.length,
    live: live.length,
    replay:
      `seed ${seed} (DDIA_SEED=${seed} replays it); schedule ${JSON.stringify(schedule.steps)}; ` +
      `applied ${JSON.stringify(applied)}`,
  };
}

/**
 * Adds one record of a final read unless it is a re-read: a rebalance of the reading group
 * (a session timeout at high load) delivers again from its last commit, the same value at the
 * same offset, which says nothing about the log. A different value at a read offset is kept,
 * for the checker to see.
 */
export function addFinalRead(finalRead: ReadRecord[], record: ReadRecord): void {
  const again = finalRead.some(
    (r) => r.partition === record.partition && r.offset === record.offset && r.value === record.value,
  );
  if (!again) finalRead.push(record);
}

/** What every run must show: nothing lost, duplicated, reordered, invented, no offset holes or skips. */
export const CLEAN_HISTORY = {
  lost: [],
  duplicated: [],
  reordered: [],
  unexpected: [],
  offsetErrors: [],
  skipped: [],
} as const;
