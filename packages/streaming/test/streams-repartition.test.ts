// Repartitioning by a new key through an internal topic. A word count whose input is keyed by
// line: the words are re-keyed, written to an internal topic partitioned by word, read back and
// counted there. Crashes redo batches whose outputs already reached the internal topic: the
// copies come back carrying the upstream position they were made from and are skipped, so the
// counts stay exact. First a seeded simulation (the broker replaced by arrays, many crashes),
// then the same over kafkajs against the broker.
import { SeededRandom } from '@ddia/common/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Processor, type SourcePosition, type StateChange, StreamBuilder } from '../src/core/index.js';
import type { BrokerNode } from '../src/node.js';
import { type BatchStage, StreamApp } from '../src/streams/runner.js';
import { kafkaClient, removeTempDir, startBroker, tempDir, waitFor } from './support/broker.js';

const WORDS = ['log', 'stream', 'table', 'event', 'offset', 'window', 'join', 'state'];

function wordCount(internal: string): Processor {
  const b = new StreamBuilder();
  b.stream<string>('lines')
    .flatMap((line) => line.split(' ').map((w): [string, number] => [w, 1]))
    .repartition(internal)
    .groupByKey()
    .count('counts');
  return b.build();
}

function recount(lines: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of lines) for (const w of line.split(' ')) out.set(w, (out.get(w) ?? 0) + 1);
  return out;
}

function hash(key: string): number {
  let h = 0;
  for (const c of key) h = (h * 31 + c.charCodeAt(0)) | 0;
  return Math.abs(h);
}

interface SimRecord {
  key: string | null;
  value: unknown;
  timestamp: number;
  source?: SourcePosition;
}

describe('repartition through an internal topic (simulated broker, seeded crashes)', () => {
  it('exact counts over 100 seeds with crashes that redo batches already written to the internal topic', () => {
    let duplicatesSeen = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const random = new SeededRandom(seed);
      const lines = Array.from({ length: random.int(20, 60) }, () =>
        Array.from({ length: random.int(1, 5) }, () => random.pick(WORDS)).join(' '),
      );
      const topics: Record<string, SimRecord[][]> = {
        lines: [[], []],
        'by-word': [[], [], []],
      };
      lines.forEach((line, i) => {
        topics.lines![i % 2]!.push({ key: `l${i}`, value: line, timestamp: i });
      });
      const changelog: StateChange[] = [];
      let p = wordCount('by-word');
      const position = new Map<string, number>();
      const restart = () => {
        p = wordCount('by-word');
        for (const change of changelog) p.stores.restore(change);
        position.clear(); // consumers resume from the state's offsets: uncommitted work is redone
      };
      let sinceCommit = 0;
      for (let steps = 0; steps < 100_000; steps++) {
        const ready = Object.entries(topics).flatMap(([topic, parts]) =>
          parts
            .map((records, partition) => ({ topic, partition, records }))
            .filter(({ topic: t, partition, records }) => {
              const at = position.get(`${t}:${partition}`) ?? p.processedOffset(t, partition) + 1;
              return at < records.length;
            }),
        );
        if (ready.length === 0) break;
        const { topic, partition, records } = random.pick(ready);
        const slot = `${topic}:${partition}`;
        const offset = position.get(slot) ?? p.processedOffset(topic, partition) + 1;
        position.set(slot, offset + 1);
        const rec = records[offset]!;
        const result = p.process({ topic, partition, offset, ...rec });
        for (const o of result.outputs) {
          // The "producer": outputs reach the internal topic at once, partitioned by key.
          topics[o.topic]![hash(o.key ?? '') % 3]!.push({
            key: o.key,
            value: o.value,
            timestamp: o.timestamp,
            source: o.source,
          });
        }
        if (result.duplicate && topic === 'by-word') duplicatesSeen++;
        if (++sinceCommit >= random.int(1, 6)) {
          changelog.push(...p.stores.drainChanges()); // the commit point
          sinceCommit = 0;
        }
        if (random.chance(0.05)) {
          restart(); // a crash: changes since the commit are lost, their outputs are not
          sinceCommit = 0;
        }
      }
      expect({ seed, counts: new Map(p.stores.entries<number>('counts')) }).toEqual({
        seed,
        counts: recount(lines),
      });
    }
    // The crashes did produce copies in the internal topic, and they were recognised.
    expect(duplicatesSeen).toBeGreaterThan(0);
  });
});

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

describe('repartition over kafkajs', () => {
  it('re-keyed by word through a 3-partition internal topic; a crash after a batch went out: exact counts', async () => {
    const kafka = kafkaClient(node.bootstrap, 'repartition');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'lines', numPartitions: 2 }], waitForLeaders: true });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const random = new SeededRandom(5);
    const lines = Array.from({ length: 80 }, () =>
      Array.from({ length: random.int(1, 5) }, () => random.pick(WORDS)).join(' '),
    );
    for (const [i, line] of lines.entries())
      await producer.send({ topic: 'lines', acks: -1, messages: [{ key: `l${i}`, value: line }] });
    const options = {
      kafka,
      applicationId: 'wc-rekey',
      serdes: {
        lines: { encode: (v: unknown) => Buffer.from(String(v)), decode: (b: Buffer) => b.toString() },
      },
      repartitionPartitions: 3,
      consumer: { maxBytesPerPartition: 400, sessionTimeout: 6000, heartbeatInterval: 500 },
    };
    // Crash after the outputs of batch 4 went out (some of them to the internal topic).
    const first = new StreamApp({
      ...options,
      processor: wordCount('wc-rekey-by-word'),
      onStage: (stage: BatchStage, n: number) => {
        if (stage === 'outputs-sent' && n === 4) throw new Error('injected crash');
      },
    });
    await first.start();
    await waitFor('the crash', () => first.failure !== null);
    await first.stop();
    const internal = await admin.fetchTopicOffsets('wc-rekey-by-word');
    expect(internal).toHaveLength(3);

    const second = new StreamApp({ ...options, processor: wordCount('wc-rekey-by-word') });
    await second.start();
    await waitFor('the app to catch up', async () => (await second.lag()) === 0, 60_000);
    expect(new Map(second.entries<number>('counts'))).toEqual(recount(lines));
    // The internal topic's three partitions all carried words (the producer hashed the keys).
    const carried = (await admin.fetchTopicOffsets('wc-rekey-by-word')).filter((p) => Number(p.high) > 0);
    expect(carried).toHaveLength(3);
    await second.stop();
    await producer.disconnect();
    await admin.disconnect();
  }, 120_000);
});
