// State stores on abstract-level (common's openStore: the lab's LSM engine here) with the
// changelog topic behind them. A word count runs in a child process with its state in an LSM
// directory and is killed with SIGKILL mid-stream while input keeps arriving; the restarted
// app loads the LSM store and reads only the changelog's tail (from the store's checkpoint):
// its counts equal those of an uninterrupted run over the same input and a recount. A clean
// restart then reads no changelog at all; an instance with an empty store (a new machine)
// reads the whole changelog and agrees too.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openStore } from '@ddia/common';
import { SeededRandom } from '@ddia/common/core';
import { lsmEngine } from '@ddia/lsm-engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamBuilder } from '../src/core/index.js';
import type { BrokerNode } from '../src/node.js';
import { StreamApp } from '../src/streams/runner.js';
import { kafkaClient, removeTempDir, startBroker, tempDir, waitFor } from './support/broker.js';

let dir: string;
let stateDir: string;
let node: BrokerNode;

beforeAll(async () => {
  dir = await tempDir();
  stateDir = await tempDir('ddia-streaming-state-');
  node = await startBroker(dir);
});

afterAll(async () => {
  await node?.close();
  await removeTempDir(dir);
  await removeTempDir(stateDir);
});

const VOCABULARY = ['log', 'stream', 'table', 'event', 'offset', 'window', 'join', 'state', 'lsm'];
const textSerde = { encode: (v: unknown) => Buffer.from(String(v)), decode: (b: Buffer) => b.toString() };
const CONSUMER = { sessionTimeout: 6000, heartbeatInterval: 500 };

function wordCount(prefix: string) {
  const b = new StreamBuilder();
  const words = b
    .stream<string>('lines')
    .flatMap((line) => line.split(' ').map((w): [string, number] => [w, 1]));
  words.to(`${prefix}-events`);
  words.groupByKey().count('counts').toStream().to(`${prefix}-counts`);
  return b.build();
}

describe('StreamApp state stores on abstract-level, restored from a checkpoint plus the changelog tail', () => {
  it('kill -9 mid-stream, restart on the same LSM store: equal to an uninterrupted run', async () => {
    const kafka = kafkaClient(node.bootstrap, 'local-state');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'lines', numPartitions: 2 }], waitForLeaders: true });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const random = new SeededRandom(11);
    const lines = Array.from({ length: 160 }, () =>
      Array.from({ length: random.int(1, 6) }, () => random.pick(VOCABULARY)).join(' '),
    );
    const produce = async (from: number, to: number) => {
      for (let i = from; i < to; i++)
        await producer.send({ topic: 'lines', acks: -1, messages: [{ key: `l${i}`, value: lines[i]! }] });
    };
    await produce(0, 120);

    const child = spawn(process.execPath, [
      fileURLToPath(new URL('./support/wordcount-child.mjs', import.meta.url)),
      node.bootstrap,
      'wc-local',
      'lines',
      'wc-local',
      stateDir,
    ]);
    let committedBatches = 0;
    let childErrors = '';
    child.stderr.on('data', (d: Buffer) => {
      childErrors += d.toString();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      committedBatches = Math.max(committedBatches, ...chunk.toString().trim().split('\n').map(Number));
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    try {
      await waitFor('the child to process a few batches', () => committedBatches >= 4, 45_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}; child stderr: ${childErrors}`);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    await produce(120, 160);
    const changelogEnd = async () => Number((await admin.fetchTopicOffsets('wc-local-changelog'))[0]!.high);
    const writtenBeforeRestart = await changelogEnd();

    const open = () =>
      openStore({ engine: 'lsm', lsm: lsmEngine, dataDir: stateDir, name: 'wc-local-state' });
    const restarted = new StreamApp({
      kafka,
      applicationId: 'wc-local',
      processor: wordCount('wc-local'),
      serdes: { lines: textSerde },
      consumer: CONSUMER,
      localState: await open(),
    });
    await restarted.start();
    console.log(
      `restart after kill -9: ${restarted.stats.restoredLocal} entries from the LSM store, ` +
        `${restarted.stats.restoredChanges} of ${writtenBeforeRestart} changelog records read`,
    );
    // The LSM store held the state; only the changelog after its checkpoint was read.
    expect(restarted.stats.restoredLocal).toBeGreaterThan(0);
    expect(restarted.stats.restoredChanges).toBeLessThan(writtenBeforeRestart);
    await waitFor('the restarted app to catch up', async () => (await restarted.lag()) === 0, 60_000);

    // The same input, never interrupted (its own application id, a memory store).
    const straight = new StreamApp({
      kafka,
      applicationId: 'wc-straight',
      processor: wordCount('wc-straight'),
      serdes: { lines: textSerde },
      consumer: CONSUMER,
      localState: await openStore({ engine: 'memory' }),
    });
    await straight.start();
    await waitFor('the uninterrupted app to catch up', async () => (await straight.lag()) === 0, 60_000);
    const recount = new Map<string, number>();
    for (const line of lines) for (const w of line.split(' ')) recount.set(w, (recount.get(w) ?? 0) + 1);
    const counts = new Map(restarted.entries<number>('counts'));
    expect(counts).toEqual(new Map(straight.entries<number>('counts')));
    expect(counts).toEqual(recount);
    await Promise.all([restarted.stop(), straight.stop()]);
    await restarted.options.localState!.close();

    // A clean restart: the LSM store is up to date, no changelog record is read.
    const again = new StreamApp({
      kafka,
      applicationId: 'wc-local',
      processor: wordCount('wc-local'),
      serdes: { lines: textSerde },
      consumer: CONSUMER,
      localState: await open(),
    });
    await again.start();
    expect(again.stats.restoredChanges).toBe(0);
    expect(new Map(again.entries<number>('counts'))).toEqual(recount);
    await again.stop();
    await again.options.localState!.close();

    // A new machine: an empty store, the whole changelog is read, same state.
    const elsewhere = new StreamApp({
      kafka,
      applicationId: 'wc-local',
      processor: wordCount('wc-local'),
      serdes: { lines: textSerde },
      consumer: CONSUMER,
      localState: await openStore({ engine: 'memory' }),
    });
    await elsewhere.start();
    expect(elsewhere.stats.restoredLocal).toBe(0);
    expect(elsewhere.stats.restoredChanges).toBeGreaterThan(0);
    expect(new Map(elsewhere.entries<number>('counts'))).toEqual(recount);
    await elsewhere.stop();

    await producer.disconnect();
    await admin.disconnect();
  }, 180_000);
});
