// The real kafkajs 2.2.4 client, unchanged, against the broker started in this process.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Consumer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrokerNode } from '../src/node.js';
import { rangeAssigner } from '../src/streams/range-assigner.js';
import { kafkaClient, removeTempDir, startBroker, tempDir, waitFor } from './support/broker.js';

let dir: string;
let node: BrokerNode;

beforeAll(async () => {
  dir = await tempDir();
  node = await startBroker(dir);
});

afterAll(async () => {
  await node?.close();
  await removeTempDir(dir);
});

async function createTopic(topic: string, numPartitions: number): Promise<void> {
  const admin = kafkaClient(node.bootstrap).admin();
  await admin.connect();
  expect(await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true })).toBe(true);
  await admin.disconnect();
}

describe('admin', () => {
  it('creates, lists, describes and deletes topics; refuses duplicates and bad settings', async () => {
    const admin = kafkaClient(node.bootstrap).admin({ retry: { retries: 0 } });
    await admin.connect();
    expect(
      await admin.createTopics({
        topics: [
          { topic: 'adm', numPartitions: 4, configEntries: [{ name: 'retention.ms', value: '1000' }] },
        ],
      }),
    ).toBe(true);
    expect(await admin.createTopics({ topics: [{ topic: 'adm' }] })).toBe(false);
    await expect(admin.createTopics({ topics: [{ topic: 'rf', replicationFactor: 3 }] })).rejects.toThrow();
    await expect(admin.createTopics({ topics: [{ topic: 'bad name!' }] })).rejects.toThrow();
    expect(await admin.listTopics()).toContain('adm');
    const meta = await admin.fetchTopicMetadata({ topics: ['adm'] });
    expect(meta.topics[0]!.partitions).toHaveLength(4);
    const configs = await admin.describeConfigs({
      resources: [{ type: 2, name: 'adm' }],
      includeSynonyms: false,
    });
    const retention = configs.resources[0]!.configEntries.find((c) => c.configName === 'retention.ms');
    expect(retention).toMatchObject({ configValue: '1000', isDefault: false });
    await admin.deleteTopics({ topics: ['adm'] });
    expect(await admin.listTopics()).not.toContain('adm');
    expect(node.broker.topic('adm')).toBeUndefined();
    await admin.disconnect();
  });
});

describe('produce and consume', () => {
  it('delivers every message once, in order per key, across partitions', async () => {
    await createTopic('orders', 3);
    const producer = kafkaClient(node.bootstrap).producer();
    await producer.connect();
    const keys = 10;
    const perKey = 30;
    for (let round = 0; round < perKey; round++) {
      await producer.send({
        topic: 'orders',
        acks: round % 2 === 0 ? -1 : 1,
        messages: Array.from({ length: keys }, (_, k) => ({ key: `k${k}`, value: `${round}` })),
      });
    }
    await producer.disconnect();
    const seen = new Map<string, number[]>();
    const consumer = kafkaClient(node.bootstrap).consumer({
      groupId: 'order-readers',
      heartbeatInterval: 500,
      // Short long-polls: disconnect() waits for the fetch in flight (5 s by default).
      maxWaitTimeInMs: 200,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    let count = 0;
    await consumer.run({
      eachMessage: async ({ message }) => {
        const key = message.key!.toString();
        seen.set(key, [...(seen.get(key) ?? []), Number(message.value!.toString())]);
        count++;
      },
    });
    await waitFor('all messages', () => count >= keys * perKey);
    await consumer.disconnect();
    expect(count).toBe(keys * perKey);
    for (const values of seen.values()) expect(values).toEqual(Array.from({ length: perKey }, (_, i) => i));
  });

  it('a consumer waiting on an empty partition gets a message as soon as it is produced (long polling)', async () => {
    await createTopic('live', 1);
    const consumer = kafkaClient(node.bootstrap).consumer({ groupId: 'live-readers', maxWaitTimeInMs: 5000 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'live', fromBeginning: true });
    let receivedAt = 0;
    await consumer.run({
      eachMessage: async () => {
        receivedAt = Date.now();
      },
    });
    await waitFor('group joined', () => node.broker.coordinator.find('live-readers')?.state === 'Stable');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const producer = kafkaClient(node.bootstrap).producer();
    await producer.connect();
    const sentAt = Date.now();
    await producer.send({ topic: 'live', messages: [{ value: 'now' }] });
    await waitFor('delivery', () => receivedAt > 0);
    // Far less than the 5 s max wait: the parked fetch was woken by the append.
    expect(receivedAt - sentAt).toBeLessThan(2500);
    // disconnect() waits for the consumer's fetch in flight, parked for up to 5 s: another
    // record wakes it (the same mechanism again), so the test does not sit out the wait.
    const leaving = consumer.disconnect();
    await producer.send({ topic: 'live', messages: [{ value: 'wake' }] });
    await leaving;
    await producer.disconnect();
  });

  it('seek moves a consumer to an offset', async () => {
    await createTopic('seekable', 1);
    const producer = kafkaClient(node.bootstrap).producer();
    await producer.connect();
    await producer.send({
      topic: 'seekable',
      messages: Array.from({ length: 20 }, (_, i) => ({ value: `${i}` })),
    });
    await producer.disconnect();
    const consumer = kafkaClient(node.bootstrap).consumer({ groupId: 'seekers', maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'seekable', fromBeginning: true });
    const offsets: number[] = [];
    let sought = false;
    await consumer.run({
      eachMessage: async ({ message }) => {
        offsets.push(Number(message.offset));
      },
    });
    await waitFor('first pass', () => offsets.length >= 20);
    consumer.seek({ topic: 'seekable', partition: 0, offset: '15' });
    sought = true;
    await waitFor('replay from 15', () => offsets.length >= 25);
    expect(sought).toBe(true);
    expect(offsets.slice(20)).toEqual([15, 16, 17, 18, 19]);
    await consumer.disconnect();
  });

  it('pause holds a topic back and resume delivers the rest in order; the group is listed and described', async () => {
    await createTopic('pausable', 1);
    const producer = kafkaClient(node.bootstrap).producer();
    await producer.connect();
    const send = (from: number, count: number) =>
      producer.send({
        topic: 'pausable',
        messages: Array.from({ length: count }, (_, i) => ({ value: `${from + i}` })),
      });
    await send(0, 5);
    const consumer = kafkaClient(node.bootstrap).consumer({ groupId: 'pausers', maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'pausable', fromBeginning: true });
    const values: string[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        values.push(message.value!.toString());
      },
    });
    await waitFor('the first five', () => values.length >= 5);
    consumer.pause([{ topic: 'pausable' }]);
    await send(5, 5);
    // Several of the consumer's 200 ms fetch rounds pass; nothing is delivered while paused.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(values).toHaveLength(5);
    consumer.resume([{ topic: 'pausable' }]);
    await waitFor('the rest after resume', () => values.length >= 10);
    expect(values).toEqual(Array.from({ length: 10 }, (_, i) => `${i}`));
    const admin = kafkaClient(node.bootstrap).admin();
    await admin.connect();
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).toContain('pausers');
    const described = (await admin.describeGroups(['pausers'])).groups[0]!;
    expect(described).toMatchObject({ groupId: 'pausers', state: 'Stable', protocolType: 'consumer' });
    expect(described.members).toHaveLength(1);
    await admin.disconnect();
    await consumer.disconnect();
    await producer.disconnect();
  });

  it('an idempotent producer gets a producer id and its batches carry sequences', async () => {
    await createTopic('idem', 1);
    const producer = kafkaClient(node.bootstrap).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let i = 0; i < 5; i++)
      await producer.send({ topic: 'idem', acks: -1, messages: [{ value: `${i}` }] });
    await producer.disconnect();
    const partition = node.broker.partition('idem', 0)!;
    expect(partition.highWatermark).toBe(5);
    expect(partition.producers.size).toBe(1);
  });
});

describe("Kafka's range assignor (src/streams/range-assigner.ts)", () => {
  it('two kafkajs members agree on protocol "range" and each gets a contiguous run of both topics, the first one more', async () => {
    await createTopic('ranged-a', 5);
    await createTopic('ranged-b', 5);
    // The latest assignment each member was given (GROUP_JOIN fires once per generation).
    const assigned = new Map<string, Record<string, number[]>>();
    const consumers: Consumer[] = [];
    for (let i = 0; i < 2; i++) {
      const consumer = kafkaClient(node.bootstrap).consumer({
        groupId: 'rangers',
        partitionAssigners: [rangeAssigner],
        heartbeatInterval: 300,
        maxWaitTimeInMs: 200,
      });
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        assigned.set(event.payload.memberId, event.payload.memberAssignment);
      });
      await consumer.connect();
      await consumer.subscribe({ topics: ['ranged-a', 'ranged-b'] });
      await consumer.run({ eachMessage: async () => {} });
      consumers.push(consumer);
    }
    const total = () =>
      [...assigned.values()].reduce((n, a) => n + Object.values(a).reduce((m, ps) => m + ps.length, 0), 0);
    await waitFor('both members in one generation', () => assigned.size === 2 && total() === 10);
    const [first, second] = [...assigned.keys()].sort();
    const sorted = (a: Record<string, number[]>) =>
      Object.fromEntries(Object.entries(a).map(([t, ps]) => [t, [...ps].sort((x, y) => x - y)]));
    expect(sorted(assigned.get(first!)!)).toEqual({ 'ranged-a': [0, 1, 2], 'ranged-b': [0, 1, 2] });
    expect(sorted(assigned.get(second!)!)).toEqual({ 'ranged-a': [3, 4], 'ranged-b': [3, 4] });
    const admin = kafkaClient(node.bootstrap).admin();
    await admin.connect();
    expect((await admin.describeGroups(['rangers'])).groups[0]).toMatchObject({ protocol: 'range' });
    await admin.disconnect();
    for (const consumer of consumers) await consumer.disconnect();
  });
});

describe('consumer group of three (DDIA ch. 11, "consumer groups")', () => {
  const children: ReturnType<typeof spawn>[] = [];
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
  });

  function assignedPartitions(consumerAssignments: Map<string, number[]>): number[] {
    return [...consumerAssignments.values()].flat().sort((a, b) => a - b);
  }

  it('rebalances when a member joins, leaves and crashes', async () => {
    await createTopic('work', 6);
    const latest = new Map<string, number[]>();
    const consumers: Consumer[] = [];
    const startMember = async (name: string) => {
      const consumer = kafkaClient(node.bootstrap, name).consumer({
        groupId: 'workers',
        sessionTimeout: 6000,
        heartbeatInterval: 300,
        rebalanceTimeout: 10000,
        // kafkajs heartbeats between fetches: a short long-poll notices a rebalance sooner.
        maxWaitTimeInMs: 200,
      });
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        latest.set(name, (e.payload.memberAssignment.work ?? []) as number[]);
      });
      await consumer.connect();
      await consumer.subscribe({ topic: 'work', fromBeginning: true });
      await consumer.run({ eachMessage: async () => {} });
      consumers.push(consumer);
      return consumer;
    };
    const group = () => node.broker.coordinator.find('workers')!;
    const settled = (members: number) => () =>
      group()?.state === 'Stable' && group().members.size === members;

    // A crashable member in its own process.
    const child = spawn(process.execPath, [
      fileURLToPath(new URL('./support/consumer-child.mjs', import.meta.url)),
      node.bootstrap,
      'workers',
      'work',
    ]);
    children.push(child);
    let childAssignment: number[] = [];
    child.stdout.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().trim().split('\n'))
        childAssignment = JSON.parse(line).assignment.work ?? [];
    });
    await waitFor('first member', settled(1));
    const a = await startMember('a');
    await startMember('b');
    await waitFor('three members, each with two partitions', () => {
      if (!settled(3)()) return false;
      const all = new Map(latest);
      all.set('child', childAssignment);
      return (
        [...all.values()].every((p) => p.length === 2) && assignedPartitions(all).join() === '0,1,2,3,4,5'
      );
    });
    const generationOfThree = group().generationId;

    // A clean leave (LeaveGroup): the two left split the six partitions.
    await a.disconnect();
    latest.delete('a');
    await waitFor('two members after a leave', () => {
      if (!settled(2)()) return false;
      const all = new Map(latest);
      all.set('child', childAssignment);
      return assignedPartitions(all).join() === '0,1,2,3,4,5';
    });
    expect(group().generationId).toBeGreaterThan(generationOfThree);

    // A crash (kill -9): no LeaveGroup, the broker notices the missing heartbeats after the
    // session timeout and gives its partitions to the survivor.
    child.kill('SIGKILL');
    await waitFor(
      'one member after the crash',
      () => settled(1)() && (latest.get('b') ?? []).length === 6,
      40_000,
    );
    for (const c of consumers) await c.disconnect().catch(() => {});
  });
});
