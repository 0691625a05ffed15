// StreamApp end to end over kafkajs against our broker: a word count whose processor crashes
// twice mid-stream — once after producing a batch's outputs but before writing its state (the
// batch is redone: outputs repeat), once after writing the state but before committing the
// consumer offsets (the batch is redelivered: the offsets stored with the state recognise
// it). The counts still equal a batch recomputation of the same input, and a downstream view
// that dedupes by source position counts every word once, while a naive one double counts.
// (The kill -9 of a processor process mid-stream is in streams-instances.test.ts: three
// instances, one killed, its tasks restored by the survivors.)
import { SeededRandom } from '@ddia/common/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamBuilder } from '../src/core/index.js';
import type { BrokerNode } from '../src/node.js';
import { type BatchStage, StreamApp } from '../src/streams/runner.js';
import { TopicView } from '../src/streams/view.js';
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

const VOCABULARY = ['log', 'stream', 'table', 'event', 'offset', 'window', 'join', 'state'];

function sentences(seed: number, n: number): string[] {
  const random = new SeededRandom(seed);
  return Array.from({ length: n }, () =>
    Array.from({ length: random.int(1, 6) }, () => random.pick(VOCABULARY)).join(' '),
  );
}

function wordCount(source = 'sentences', prefix = 'word'): StreamBuilder {
  const b = new StreamBuilder();
  const words = b
    .stream<string>(source)
    .flatMap((line) => line.split(' ').map((w): [string, number] => [w, 1]));
  words.to(`${prefix}-events`);
  words.groupByKey().count('counts').toStream().to(`${prefix}-counts`);
  return b;
}

/** The batch answer: the same input counted in one pass. */
function recount(lines: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) for (const w of line.split(' ')) counts.set(w, (counts.get(w) ?? 0) + 1);
  return counts;
}

function crashAt(stage: BatchStage, batch: number) {
  return (s: BatchStage, n: number) => {
    if (s === stage && n === batch) throw new Error(`injected crash at ${stage} of batch ${n}`);
  };
}

describe('StreamApp over kafkajs', () => {
  it('word count survives crashes at both stages of a batch: exact counts, duplicates dropped by offset and by source position', async () => {
    const kafka = kafkaClient(node.bootstrap, 'wordcount');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'sentences', numPartitions: 2 }], waitForLeaders: true });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const produce = async (lines: string[], from: number) => {
      // One send per line: one record batch each, so the app's small fetches make many batches.
      for (const [i, line] of lines.entries())
        await producer.send({
          topic: 'sentences',
          acks: -1,
          messages: [{ key: `s${from + i}`, value: line }],
        });
    };
    const lines = sentences(42, 120);
    await produce(lines.slice(0, 80), 0);

    const options = {
      kafka,
      applicationId: 'wordcount',
      serdes: {
        sentences: { encode: (v: unknown) => Buffer.from(String(v)), decode: (b: Buffer) => b.toString() },
      },
      consumer: { maxBytesPerPartition: 400 },
    };
    const deduped = new TopicView<Map<string, number>>({
      kafka,
      topic: 'word-events',
      groupId: 'view-deduped',
      initial: new Map(),
      apply: (m, key, value) => m.set(key!, (m.get(key!) ?? 0) + (value as number)),
    });
    const naive = new TopicView<Map<string, number>>({
      kafka,
      topic: 'word-events',
      groupId: 'view-naive',
      initial: new Map(),
      apply: (m, key, value) => m.set(key!, (m.get(key!) ?? 0) + (value as number)),
      dedupe: false,
    });

    // 1. Crash after the outputs of batch 3 went out, before its state was written.
    const first = new StreamApp({
      ...options,
      processor: wordCount().build(),
      onStage: crashAt('outputs-sent', 3),
    });
    await first.start();
    await waitFor('the first crash', () => first.failure !== null);
    await first.stop();
    expect(first.stats.batches).toBe(3);

    // 2. A new instance restores from the changelog, redoes batch 3, and crashes after writing
    //    the state of its own batch 2, before committing the consumer offsets.
    const second = new StreamApp({
      ...options,
      processor: wordCount().build(),
      onStage: crashAt('state-written', 2),
    });
    await second.start();
    expect(second.stats.restoredChanges).toBeGreaterThan(0);
    await produce(lines.slice(80), 80); // more input arrives while the processor restarts
    await waitFor('the second crash', () => second.failure !== null);
    await second.stop();

    // 3. A third instance finishes the input.
    const third = new StreamApp({ ...options, processor: wordCount().build() });
    await third.start();
    await waitFor('the processor to catch up', async () => (await third.lag()) === 0, 60_000);
    // The records of the batch whose offsets were not committed came back and were skipped.
    expect(third.stats.duplicates).toBeGreaterThan(0);

    const expected = recount(lines);
    expect(new Map(third.entries<number>('counts'))).toEqual(expected);

    await deduped.start();
    await naive.start();
    const total = [...expected.values()].reduce((a, b) => a + b, 0);
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    const outputs = Number((await admin.fetchTopicOffsets('word-events'))[0]!.high);
    await waitFor(
      'the views to read every output',
      () => deduped.applied + deduped.skipped === outputs && naive.applied === outputs,
    );
    expect(deduped.state).toEqual(expected);
    expect(deduped.skipped).toBeGreaterThan(0); // batch 3's outputs, produced twice
    expect(sum(naive.state)).toBe(total + deduped.skipped); // what a sink without dedup gets

    // The counts topic, read as a table (latest per key), is the same view.
    const table = new TopicView<Map<string, number>>({
      kafka,
      topic: 'word-counts',
      groupId: 'view-counts',
      initial: new Map(),
      apply: (m, key, value) => m.set(key!, value as number),
    });
    await table.start();
    await waitFor('the counts table', () => table.applied >= expected.size && sum(table.state) === total);
    expect(table.state).toEqual(expected);

    await Promise.all([deduped.stop(), naive.stop(), table.stop(), third.stop()]);
    await producer.disconnect();
    await admin.disconnect();
  });
});
