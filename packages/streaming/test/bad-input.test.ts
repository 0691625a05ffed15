// Bad input on the Kafka port: each gets the Kafka error a real broker gives (or the connection
// closed, where Kafka closes it), and the broker keeps serving everyone else.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, ErrorCode, encodeBatch, OFFSETS_TOPIC, Writer } from '../src/core/index.js';
import type { BrokerNode } from '../src/node.js';
import { kafkaClient, removeTempDir, startBroker, tempDir } from './support/broker.js';
import { produceBody, RawConnection, readProduceResponse } from './support/raw-client.js';

const te = new TextEncoder();
let dir: string;
let node: BrokerNode;

function batch(value: string | Uint8Array, baseOffset = 0) {
  return encodeBatch({
    baseOffset,
    records: [
      {
        offset: 0,
        timestamp: Date.now(),
        key: te.encode('k'),
        value: typeof value === 'string' ? te.encode(value) : value,
        headers: [],
      },
    ],
  });
}

/** The broker still serves a normal client after the abuse. */
async function stillServes(): Promise<void> {
  const producer = kafkaClient(node.bootstrap).producer();
  await producer.connect();
  const [meta] = await producer.send({ topic: 'good', messages: [{ value: 'ok' }] });
  expect(meta!.errorCode).toBe(0);
  await producer.disconnect();
}

beforeAll(async () => {
  dir = await tempDir();
  node = await startBroker(dir, [
    '--auto-create-topics',
    'false',
    '--message-max-bytes',
    '2048',
    '--request-max-bytes',
    '65536',
  ]);
  const admin = kafkaClient(node.bootstrap).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'good', numPartitions: 1 }] });
  await admin.disconnect();
});

afterAll(async () => {
  await node?.close();
  await removeTempDir(dir);
});

describe('frames that do not decode close only their own connection', () => {
  it('garbage after a valid size prefix', async () => {
    const conn = await RawConnection.connect(node.bootstrap);
    const junk = randomBytes(64);
    const w = new Writer();
    // ApiVersions header then a Metadata body that lies about its array length.
    w.int32(0).int16(ApiKey.Metadata).int16(6).int32(1).nullableString('x').int32(1_000_000).raw(junk);
    const bytes = w.bytes();
    new DataView(bytes.buffer, bytes.byteOffset).setInt32(0, bytes.length - 4);
    conn.write(bytes);
    expect(await conn.waitClosed()).toBe(true);
    await stillServes();
  });

  it('a frame too short for a request header', async () => {
    const conn = await RawConnection.connect(node.bootstrap);
    conn.write(new Uint8Array([0, 0, 0, 3, 1, 2, 3]));
    expect(await conn.waitClosed()).toBe(true);
  });

  it('a size prefix over socket.request.max.bytes or negative', async () => {
    for (const size of [10 * 1024 * 1024, -5]) {
      const conn = await RawConnection.connect(node.bootstrap);
      const w = new Writer().int32(size).int32(0);
      conn.write(w.bytes());
      expect(await conn.waitClosed()).toBe(true);
    }
    await stillServes();
  });

  it('an unknown API key, and a version of a known API we do not speak', async () => {
    for (const [key, version] of [
      [999, 0],
      [ApiKey.Produce, 3],
    ] as const) {
      const conn = await RawConnection.connect(node.bootstrap);
      conn.write(new Writer().int32(10).int16(key).int16(version).int32(1).int16(-1).bytes());
      expect(await conn.waitClosed()).toBe(true);
    }
  });
});

describe('errors with Kafka codes', () => {
  it('ApiVersions of a newer version: UNSUPPORTED_VERSION and our list, in the v0 layout', async () => {
    const conn = await RawConnection.connect(node.bootstrap);
    const r = await conn.request(ApiKey.ApiVersions, 9, new Uint8Array(0));
    expect(r.int16()).toBe(ErrorCode.UNSUPPORTED_VERSION);
    const keys = r.array((r) => ({ key: r.int16(), min: r.int16(), max: r.int16() }));
    expect(keys).toContainEqual({ key: ApiKey.Produce, min: 3, max: 7 });
    conn.close();
  });

  it('a batch with a wrong CRC: CORRUPT_MESSAGE, nothing appended', async () => {
    const conn = await RawConnection.connect(node.bootstrap);
    const bytes = batch('hello');
    bytes[bytes.length - 2]! ^= 0xff;
    const res = readProduceResponse(await conn.request(ApiKey.Produce, 7, produceBody('good', 0, bytes)));
    expect(res.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    const before = node.broker.partition('good', 0)!.highWatermark;
    const ok = readProduceResponse(
      await conn.request(ApiKey.Produce, 7, produceBody('good', 0, batch('fine'))),
    );
    expect(ok).toEqual({ errorCode: ErrorCode.NONE, baseOffset: before });
    conn.close();
  });

  it('a batch over message.max.bytes: MESSAGE_TOO_LARGE, from kafkajs too', async () => {
    const conn = await RawConnection.connect(node.bootstrap);
    const res = readProduceResponse(
      await conn.request(ApiKey.Produce, 7, produceBody('good', 0, batch(new Uint8Array(4096)))),
    );
    expect(res.errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    conn.close();
    const producer = kafkaClient(node.bootstrap).producer({ retry: { retries: 0 } });
    await producer.connect();
    await expect(producer.send({ topic: 'good', messages: [{ value: Buffer.alloc(4096) }] })).rejects.toThrow(
      /larger than the max message size/,
    );
    await producer.disconnect();
  });

  it('an unknown topic: UNKNOWN_TOPIC_OR_PARTITION on produce, and in Metadata when auto-create is off', async () => {
    const conn = await RawConnection.connect(node.bootstrap);
    const res = readProduceResponse(
      await conn.request(ApiKey.Produce, 7, produceBody('nope', 0, batch('x'))),
    );
    expect(res.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const bad = readProduceResponse(
      await conn.request(ApiKey.Produce, 7, produceBody('good', 9, batch('x'))),
    );
    expect(bad.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    conn.close();
    const admin = kafkaClient(node.bootstrap).admin({ retry: { retries: 0 } });
    await admin.connect();
    await expect(admin.fetchTopicMetadata({ topics: ['nope'] })).rejects.toThrow(
      /does not host this topic-partition/,
    );
    await admin.disconnect();
  });

  it('the internal offsets topic: produce and delete refused with INVALID_TOPIC_EXCEPTION', async () => {
    const conn = await RawConnection.connect(node.bootstrap);
    const res = readProduceResponse(
      await conn.request(ApiKey.Produce, 7, produceBody(OFFSETS_TOPIC, 0, batch('x'))),
    );
    expect(res.errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    conn.close();
    const admin = kafkaClient(node.bootstrap).admin({ retry: { retries: 0 } });
    await admin.connect();
    await expect(admin.deleteTopics({ topics: [OFFSETS_TOPIC] })).rejects.toThrow();
    await admin.disconnect();
    await stillServes();
  });

  it('invalid acks: INVALID_REQUIRED_ACKS', async () => {
    const conn = await RawConnection.connect(node.bootstrap);
    const res = readProduceResponse(
      await conn.request(ApiKey.Produce, 7, produceBody('good', 0, batch('x'), 5)),
    );
    expect(res.errorCode).toBe(ErrorCode.INVALID_REQUIRED_ACKS);
    conn.close();
  });

  it('many bad connections at once leave the broker serving', async () => {
    const conns = await Promise.all(Array.from({ length: 20 }, () => RawConnection.connect(node.bootstrap)));
    for (const c of conns) c.write(randomBytes(200));
    await stillServes();
    for (const c of conns) c.close();
    expect(node.kafka.stats.closedForBadInput).toBeGreaterThan(5);
  });
});
