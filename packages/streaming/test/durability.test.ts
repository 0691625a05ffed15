// What survives a restart of the broker on the same data dir: messages, committed offsets,
// idempotent producer state; plus retention and compaction measured, and the HTTP views.
import { afterEach, describe, expect, it } from 'vitest';
import { ApiKey, ErrorCode, encodeBatch, Writer } from '../src/core/index.js';
import type { BrokerNode } from '../src/node.js';
import { kafkaClient, removeTempDir, startBroker, tempDir, waitFor } from './support/broker.js';
import { produceBody, RawConnection, readProduceResponse } from './support/raw-client.js';

const te = new TextEncoder();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fresh(flags: string[] = []): Promise<{ dir: string; node: BrokerNode }> {
  const dir = await tempDir();
  const node = await startBroker(dir, flags);
  cleanups.push(() => removeTempDir(dir));
  return { dir, node };
}

async function restart(node: BrokerNode, dir: string, flags: string[] = []): Promise<BrokerNode> {
  await node.close();
  const again = await startBroker(dir, flags);
  cleanups.push(() => again.close());
  return again;
}

async function createTopic(
  node: BrokerNode,
  topic: string,
  partitions: number,
  configs: Record<string, string> = {},
) {
  const admin = kafkaClient(node.bootstrap).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      {
        topic,
        numPartitions: partitions,
        configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })),
      },
    ],
  });
  await admin.disconnect();
}

async function readAll(
  node: BrokerNode,
  topic: string,
  expected: number,
  groupId = `reader-${Math.random()}`,
) {
  const out: { key: string | null; value: string | null; offset: number }[] = [];
  const consumer = kafkaClient(node.bootstrap).consumer({ groupId, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      out.push({
        key: message.key?.toString() ?? null,
        value: message.value?.toString() ?? null,
        offset: Number(message.offset),
      });
    },
  });
  await waitFor(`${expected} messages from ${topic}`, () => out.length >= expected);
  await consumer.disconnect();
  return out;
}

describe('restart', () => {
  it('messages and committed offsets survive; the group resumes where it committed', async () => {
    let { dir, node } = await fresh();
    await createTopic(node, 'ledger', 2);
    const producer = kafkaClient(node.bootstrap).producer();
    await producer.connect();
    await producer.send({
      topic: 'ledger',
      acks: -1,
      messages: Array.from({ length: 40 }, (_, i) => ({ key: `k${i % 4}`, value: `${i}` })),
    });
    await producer.disconnect();
    const firstPass = await readAll(node, 'ledger', 40, 'accountants');
    expect(firstPass).toHaveLength(40);
    const admin = kafkaClient(node.bootstrap).admin();
    await admin.connect();
    const before = await admin.fetchOffsets({ groupId: 'accountants', topics: ['ledger'] });
    await admin.disconnect();
    expect(before[0]!.partitions.map((p) => Number(p.offset)).reduce((a, b) => a + b, 0)).toBe(40);

    node = await restart(node, dir);
    const admin2 = kafkaClient(node.bootstrap).admin();
    await admin2.connect();
    expect(await admin2.fetchOffsets({ groupId: 'accountants', topics: ['ledger'] })).toEqual(before);
    await admin2.disconnect();
    const p2 = kafkaClient(node.bootstrap).producer();
    await p2.connect();
    await p2.send({ topic: 'ledger', messages: [{ key: 'k0', value: 'after-restart' }] });
    await p2.disconnect();
    // The group reads only what came after its commit: nothing is delivered twice.
    const secondPass = await readAll(node, 'ledger', 1, 'accountants');
    expect(secondPass.map((m) => m.value)).toEqual(['after-restart']);
    expect((await readAll(node, 'ledger', 41)).length).toBe(41);
  });

  it('idempotent producer: a retried batch is not appended twice, before or after a restart', async () => {
    let { dir, node } = await fresh();
    await createTopic(node, 'payments', 1);
    let conn = await RawConnection.connect(node.bootstrap);
    const init = await conn.request(
      ApiKey.InitProducerId,
      1,
      new Writer().nullableString(null).int32(60_000).bytes(),
    );
    init.int32();
    expect(init.int16()).toBe(ErrorCode.NONE);
    const producerId = init.int64();
    const epoch = init.int16();
    const batch = (baseSequence: number, value: string) =>
      encodeBatch({
        baseOffset: 0,
        producerId,
        producerEpoch: epoch,
        baseSequence,
        records: [{ offset: 0, timestamp: Date.now(), key: null, value: te.encode(value), headers: [] }],
      });
    const send = async (bytes: Uint8Array) =>
      readProduceResponse(await conn.request(ApiKey.Produce, 7, produceBody('payments', 0, bytes)));
    const first = batch(0, 'pay 10');
    expect(await send(first)).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 0 });
    // The acknowledgement was "lost": the producer sends the same batch again.
    expect(await send(first)).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 0 });
    expect(await send(batch(1, 'pay 20'))).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 1 });
    // A gap in the sequence means a lost batch: refused rather than reordered.
    expect((await send(batch(5, 'pay 99'))).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect(node.broker.partition('payments', 0)!.highWatermark).toBe(2);
    conn.close();

    node = await restart(node, dir);
    conn = await RawConnection.connect(node.bootstrap);
    // The producer state is rebuilt from the batch headers in the log.
    expect(await send(batch(1, 'pay 20'))).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 1 });
    expect(await send(batch(2, 'pay 30'))).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 2 });
    conn.close();
    expect((await readAll(node, 'payments', 3)).map((m) => m.value)).toEqual(['pay 10', 'pay 20', 'pay 30']);
  });
});

describe('retention and compaction (DDIA ch. 11, "log compaction")', () => {
  it('retention by size drops whole old segments; consumers start at the new log start', async () => {
    const { node } = await fresh();
    cleanups.push(() => node.close());
    await createTopic(node, 'metrics', 1, { 'segment.bytes': '2048', 'retention.bytes': '4096' });
    const producer = kafkaClient(node.bootstrap).producer();
    await producer.connect();
    for (let i = 0; i < 60; i++)
      await producer.send({ topic: 'metrics', messages: [{ value: `sample-${i}-${'x'.repeat(200)}` }] });
    await producer.disconnect();
    const res = await fetch(`${node.url}/topics/metrics/retention`, { method: 'POST' });
    const body = (await res.json()) as { batchesDropped: number; bytesBefore: number; bytesAfter: number };
    expect(body.batchesDropped).toBeGreaterThan(0);
    expect(body.bytesAfter).toBeLessThanOrEqual(4096 + 2048);
    expect(body.bytesBefore).toBeGreaterThan(body.bytesAfter);
    const partition = node.broker.partition('metrics', 0)!;
    expect(partition.logStartOffset).toBeGreaterThan(0);
    const kept = await readAll(node, 'metrics', 60 - partition.logStartOffset);
    expect(kept[0]!.offset).toBe(partition.logStartOffset);
    expect(kept.at(-1)!.value).toMatch(/^sample-59-/);
  });

  it('retention by time drops segments whose newest record is older than retention.ms', async () => {
    const { node } = await fresh();
    cleanups.push(() => node.close());
    await createTopic(node, 'clicks', 1, { 'segment.bytes': '1024', 'retention.ms': '60000' });
    const producer = kafkaClient(node.bootstrap).producer();
    await producer.connect();
    const hourAgo = Date.now() - 3600_000;
    for (let i = 0; i < 20; i++) {
      await producer.send({
        topic: 'clicks',
        messages: [{ value: `old-${i}-${'y'.repeat(300)}`, timestamp: String(hourAgo + i) }],
      });
    }
    await producer.send({ topic: 'clicks', messages: [{ value: 'new' }] });
    await producer.disconnect();
    await node.broker.applyRetention(node.broker.topic('clicks')!);
    const partition = node.broker.partition('clicks', 0)!;
    expect(partition.logStartOffset).toBeGreaterThanOrEqual(15);
    expect((await readAll(node, 'clicks', 21 - partition.logStartOffset)).at(-1)!.value).toBe('new');
  });

  it('compaction keeps the newest value per key, removes deleted keys, shrinks the log, survives a restart', async () => {
    let { dir, node } = await fresh();
    await createTopic(node, 'profiles', 1, { 'cleanup.policy': 'compact', 'delete.retention.ms': '0' });
    const producer = kafkaClient(node.bootstrap).producer();
    await producer.connect();
    for (let version = 0; version < 20; version++) {
      await producer.send({
        topic: 'profiles',
        messages: Array.from({ length: 10 }, (_, k) => ({
          key: `user${k}`,
          value: `user${k} v${version} ${'z'.repeat(50)}`,
        })),
      });
    }
    // Tombstones: users 7, 8 and 9 are deleted.
    await producer.send({
      topic: 'profiles',
      messages: [7, 8, 9].map((k) => ({ key: `user${k}`, value: null })),
    });
    await producer.send({ topic: 'profiles', messages: [{ key: 'user0', value: 'user0 final' }] });
    await producer.disconnect();
    const res = await fetch(`${node.url}/topics/profiles/compact`, { method: 'POST' });
    const stats = (await res.json()) as { bytesBefore: number; bytesAfter: number };
    expect(stats.bytesAfter).toBeLessThan(stats.bytesBefore / 5);
    const expected = new Map([
      ...Array.from({ length: 7 }, (_, k) => [`user${k}`, `user${k} v19 ${'z'.repeat(50)}`] as const),
      ['user0', 'user0 final'],
    ]);
    const check = async (n: BrokerNode) => {
      const messages = await readAll(n, 'profiles', 7);
      const view = new Map<string, string | null>();
      for (const m of messages) view.set(m.key!, m.value);
      expect(view).toEqual(expected);
      // Offsets are kept: the newest record of user0 is still at offset 203.
      expect(messages.at(-1)!.offset).toBe(203);
    };
    await check(node);
    node = await restart(node, dir);
    await check(node);
    expect(node.broker.partition('profiles', 0)!.bytes).toBe(stats.bytesAfter);
  });
});

describe('HTTP views', () => {
  it('topics, partitions, groups with lag, metrics, and problem+json for unknown names', async () => {
    const { node } = await fresh();
    cleanups.push(() => node.close());
    await createTopic(node, 'views', 2);
    const producer = kafkaClient(node.bootstrap).producer();
    await producer.connect();
    await producer.send({
      topic: 'views',
      messages: Array.from({ length: 10 }, (_, i) => ({ key: `${i}`, value: 'v' })),
    });
    const admin = kafkaClient(node.bootstrap).admin();
    await admin.connect();
    await admin.setOffsets({
      groupId: 'lagging',
      topic: 'views',
      partitions: [
        { partition: 0, offset: '0' },
        { partition: 1, offset: '0' },
      ],
    });
    await admin.disconnect();
    await producer.disconnect();
    const topics = (await (await fetch(`${node.url}/topics`)).json()) as {
      topics: { name: string; messages: number }[];
    };
    expect(topics.topics).toContainEqual(expect.objectContaining({ name: 'views', messages: 10 }));
    const detail = (await (await fetch(`${node.url}/topics/views`)).json()) as {
      partitions: { highWatermark: number }[];
    };
    expect(detail.partitions.reduce((s, p) => s + p.highWatermark, 0)).toBe(10);
    const group = (await (await fetch(`${node.url}/groups/lagging`)).json()) as { totalLag: number };
    expect(group.totalLag).toBe(10);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toMatch(/streaming_consumer_group_lag\{[^}]*group="lagging"[^}]*\} \d+/);
    expect(metrics).toMatch(/streaming_partition_bytes\{[^}]*topic="views"/);
    const missing = await fetch(`${node.url}/topics/nope`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
    expect(((await missing.json()) as { code: string }).code).toBe('DDIA_ERR_STREAMING_UNKNOWN_TOPIC');
  });
});
