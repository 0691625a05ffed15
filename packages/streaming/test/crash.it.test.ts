// The broker as a real process (dist/main.js), killed with SIGKILL while producers write with
// acks=all: after a restart on the same data dir, every acknowledged message is there, at
// dense increasing offsets. (acks=all is answered only after the batch is fsync'd.)
import { fileURLToPath } from 'node:url';
import { type Cluster, freePort, startCluster } from '@ddia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaClient, waitFor } from './support/broker.js';

const MAIN_JS = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const PRODUCERS = 4;
const PARTITIONS = 3;
const RUN_BEFORE_KILL_MS = 2000;

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

describe('kill -9 with acks=all', () => {
  it('loses no acknowledged message', async () => {
    const admin = kafkaClient(bootstrap).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'durable', numPartitions: PARTITIONS }] });
    await admin.disconnect();

    const acked = new Set<string>();
    let stop = false;
    const writers = Array.from({ length: PRODUCERS }, async (_, w) => {
      const producer = kafkaClient(bootstrap, `writer-${w}`).producer({ retry: { retries: 0 } });
      await producer.connect();
      for (let i = 0; !stop; i++) {
        const values = Array.from({ length: 5 }, (_, j) => `w${w}-${i}-${j}`);
        try {
          await producer.send({
            topic: 'durable',
            acks: -1,
            messages: values.map((value) => ({ key: `${w}-${j(value)}`, value })),
          });
          for (const v of values) acked.add(v);
        } catch {
          break; // the broker is gone: anything unacknowledged may or may not have been written
        }
      }
      await producer.disconnect().catch(() => {});
    });
    await new Promise((resolve) => setTimeout(resolve, RUN_BEFORE_KILL_MS));
    await cluster.node('n1').kill();
    stop = true;
    await Promise.all(writers);
    expect(acked.size).toBeGreaterThan(50);

    await cluster.node('n1').start();
    const seen = new Map<string, number>();
    const offsetsByPartition = new Map<number, number[]>();
    const consumer = kafkaClient(bootstrap).consumer({ groupId: 'auditor', maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'durable', fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen.set(message.value!.toString(), Number(message.offset));
        offsetsByPartition.set(partition, [
          ...(offsetsByPartition.get(partition) ?? []),
          Number(message.offset),
        ]);
      },
    });
    await waitFor('every acknowledged message', () => [...acked].every((v) => seen.has(v)), 60_000).catch(
      () => {},
    );
    await consumer.disconnect();
    const lost = [...acked].filter((v) => !seen.has(v));
    expect(lost).toEqual([]);
    for (const offsets of offsetsByPartition.values()) {
      expect(offsets).toEqual(Array.from({ length: offsets.length }, (_, i) => i));
    }
  });
});

function j(value: string): string {
  return value.split('-')[2]!;
}
