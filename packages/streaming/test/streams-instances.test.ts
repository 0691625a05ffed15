// Several instances of one StreamApp in one consumer group, each its own process (the built
// dist/, test/support/stream-instance-child.mjs): a word count that re-keys by word through a
// repartition topic, so it runs as 4 tasks (input partition numbers), each with its own state
// and changelog partition. Three instances share the tasks; one is killed with SIGKILL mid-stream
// while input keeps arriving; after its session timeout the survivors get its tasks, restore
// them from their changelog partitions and go on. Then one survivor is paused (SIGSTOP) past its
// session timeout and woken: a zombie that must not commit stale state. At the end, under the library's guarantee
// (exactly-once state, effectively-once outputs through the dedup view):
//   - the state read back from the changelog (every task's partition) equals a recount of the
//     input, each word in exactly one task;
//   - the output topic, read through the IdempotentSink view, equals the recount too.
// Also the pure task assignment: balanced, whole tasks, sticky.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SeededRandom } from '@ddia/common/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChangelogKey } from '../src/core/index.js';
import type { BrokerNode } from '../src/node.js';
import { readTopicToEnd } from '../src/streams/read-topic.js';
import { assignTasks } from '../src/streams/task-assigner.js';
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

const VOCABULARY = ['log', 'stream', 'table', 'event', 'offset', 'window', 'join', 'state', 'task'];

interface Status {
  tasks: number[];
  batches: number;
  restoredTasks: number;
  restoredChanges: number;
  failure: string | null;
}

interface Instance {
  child: ChildProcessWithoutNullStreams;
  status: Status | null;
  history: Status[];
  stderr: string;
  exited: Promise<unknown>;
}

function startInstance(bootstrap: string, applicationId: string, prefix: string): Instance {
  const child = spawn(process.execPath, [
    fileURLToPath(new URL('./support/stream-instance-child.mjs', import.meta.url)),
    bootstrap,
    applicationId,
    prefix,
  ]);
  const instance: Instance = {
    child,
    status: null,
    history: [],
    stderr: '',
    exited: new Promise((resolve) => child.on('exit', resolve)),
  };
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (!line.trim()) continue;
      instance.status = JSON.parse(line) as Status;
      instance.history.push(instance.status);
    }
  });
  child.stderr.on('data', (d: Buffer) => {
    instance.stderr += d.toString();
  });
  return instance;
}

describe('task assignment', () => {
  it('deals whole tasks evenly, keeps owners where it can', () => {
    const first = assignTasks(['b', 'a', 'c'], [0, 1, 2, 3]);
    expect([...first]).toEqual([
      ['a', [0, 1]],
      ['b', [2]],
      ['c', [3]],
    ]);
    // 'a' left: its tasks go to the others, theirs stay put.
    const after = assignTasks(['b', 'c'], [0, 1, 2, 3], first);
    expect(after.get('b')).toContain(2);
    expect(after.get('c')).toContain(3);
    expect([...after.values()].flat().sort()).toEqual([0, 1, 2, 3]);
    expect([...after.values()].map((t) => t.length)).toEqual([2, 2]);
    // More members than tasks: the extra ones stand by.
    const wide = assignTasks(['a', 'b', 'c'], [0]);
    expect([...wide.values()].flat()).toEqual([0]);
  });
});

describe('several instances of one StreamApp, one killed mid-stream', () => {
  it('3 processes share 4 tasks; kill -9 one: survivors restore its tasks, views equal a recount', async () => {
    const kafka = kafkaClient(node.bootstrap, 'instances');
    const admin = kafka.admin();
    await admin.connect();
    const prefix = 'mi';
    const appId = 'mi-app';
    // All topics up front: three instances starting at once would race to create them.
    await admin.createTopics({
      topics: [
        { topic: `${prefix}-lines`, numPartitions: 4 },
        { topic: `${prefix}-words`, numPartitions: 4 },
        { topic: `${prefix}-counts`, numPartitions: 2 },
        {
          topic: `${appId}-changelog`,
          numPartitions: 4,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
      waitForLeaders: true,
    });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const random = new SeededRandom(18);
    const lines = Array.from({ length: 240 }, () =>
      Array.from({ length: random.int(1, 5) }, () => random.pick(VOCABULARY)).join(' '),
    );
    const produce = async (from: number, to: number) => {
      for (let i = from; i < to; i += 10)
        await producer.send({
          topic: `${prefix}-lines`,
          acks: -1,
          messages: lines.slice(i, Math.min(to, i + 10)).map((value, j) => ({ key: `l${i + j}`, value })),
        });
    };
    await produce(0, 120);

    const instances = [0, 1, 2].map(() => startInstance(node.bootstrap, appId, prefix));
    const describeAll = () =>
      instances.map((x, i) => `#${i} ${JSON.stringify(x.status)} ${x.stderr.slice(-400)}`).join('\n');
    try {
      // All three hold whole tasks, each task once, and some batches went through: mid-stream.
      await waitFor(
        'three instances sharing the tasks',
        () =>
          instances.every((x) => (x.status?.tasks.length ?? 0) > 0) &&
          instances
            .flatMap((x) => x.status!.tasks)
            .sort()
            .join() === '0,1,2,3' &&
          instances.reduce((n, x) => n + (x.status?.batches ?? 0), 0) >= 6 &&
          // The victim has written state: its tasks' changelog partitions hold something.
          instances.some((x) => (x.status?.batches ?? 0) >= 2),
        60_000,
      ).catch((error: Error) => {
        throw new Error(`${error.message}\n${describeAll()}`);
      });
      // The victim: one that has processed batches (the last to join may have found the input
      // consumed already).
      const victim = instances.reduce((a, b) => (b.status!.batches > a.status!.batches ? b : a));
      const moved = victim.status!.tasks;
      victim.child.kill('SIGKILL');
      await victim.exited;
      const survivors = instances.filter((x) => x !== victim);
      const restoredBefore = survivors.map((x) => x.status!.restoredTasks);
      await produce(120, 200); // input keeps arriving while the group notices the death

      // The survivors own every task again, having restored the moved ones.
      await waitFor(
        'the survivors to take over the killed instance tasks',
        () =>
          survivors
            .flatMap((x) => x.status?.tasks ?? [])
            .sort()
            .join() === '0,1,2,3',
        60_000,
      ).catch((error: Error) => {
        throw new Error(`${error.message}\n${describeAll()}`);
      });
      const restoredAfter = survivors.map((x) => x.status!.restoredTasks);
      // At least the moved tasks (more if a slow survivor also missed a session under load).
      expect(
        restoredAfter.reduce((a, b) => a + b, 0) - restoredBefore.reduce((a, b) => a + b, 0),
      ).toBeGreaterThanOrEqual(moved.length);
      expect(survivors.some((x) => x.status!.restoredChanges > 0)).toBe(true);

      // A zombie: SIGSTOP one survivor past its session timeout while input arrives. The other
      // takes all its tasks; woken with SIGCONT, the paused one learns from its heartbeat that
      // its generation is over (a batch it was in is dropped before its commit point, the
      // runner's fencing) or, idle, from its background heartbeat; it rejoins and gets a share
      // back, restored from the changelog (its in-memory copy missed the other's updates).
      const [sleeper, other] = survivors as [Instance, Instance];
      sleeper.child.kill('SIGSTOP');
      try {
        await produce(200, 220);
        await waitFor(
          'the other survivor to own every task',
          () => other.status?.tasks.join() === '0,1,2,3',
          60_000,
        ).catch((error: Error) => {
          throw new Error(`${error.message}\n${describeAll()}`);
        });
      } finally {
        sleeper.child.kill('SIGCONT');
      }
      await waitFor(
        'the woken instance to hold tasks again',
        () => (sleeper.status?.tasks.length ?? 0) > 0 && other.status!.tasks.length < 4,
        60_000,
      ).catch((error: Error) => {
        throw new Error(`${error.message}\n${describeAll()}`);
      });
      // More input for the tasks it got back: counted on top of a state that missed what the
      // other survivor did while it slept, these would come out short. It must notice the
      // changelog moved on and restore.
      await produce(220, 240);

      // Done: the group's committed offsets reach the end of the input and the internal topic.
      let behind = '';
      const caughtUp = async () => {
        behind = '';
        for (const topic of [`${prefix}-lines`, `${prefix}-words`]) {
          const ends = await admin.fetchTopicOffsets(topic);
          const [committed] = await admin.fetchOffsets({ groupId: appId, topics: [topic] });
          for (const p of ends) {
            const c = committed!.partitions.find((x) => x.partition === p.partition);
            if (Math.max(0, Number(c?.offset ?? 0)) < Number(p.high)) {
              behind = `${topic}/${p.partition}: committed ${c?.offset}, end ${p.high}`;
              return false;
            }
          }
        }
        return true;
      };
      await waitFor('the survivors to catch up', caughtUp, 90_000).catch((error: Error) => {
        throw new Error(`${error.message} (${behind})\n${describeAll()}`);
      });
      expect(survivors.every((x) => x.status!.failure === null)).toBe(true);
    } finally {
      for (const x of instances) x.child.kill('SIGKILL');
      await Promise.all(instances.map((x) => x.exited));
    }

    const recount = new Map<string, number>();
    for (const line of lines) for (const w of line.split(' ')) recount.set(w, (recount.get(w) ?? 0) + 1);

    // The state, as the changelog holds it: per task partition, later records win.
    const perTask = new Map<number, Map<string, number>>();
    await readTopicToEnd(kafka, `${appId}-changelog`, (m, partition) => {
      const parsed = parseChangelogKey(m.key?.toString('utf8') ?? '');
      if (parsed?.store !== 'counts') return;
      const store = perTask.get(partition) ?? new Map<string, number>();
      perTask.set(partition, store);
      if (m.value === null) store.delete(parsed.key);
      else store.set(parsed.key, JSON.parse(m.value.toString('utf8')) as number);
    });
    const state = new Map<string, number>();
    for (const store of perTask.values())
      for (const [word, n] of store) {
        expect(state.has(word), `word '${word}' counted in two tasks`).toBe(false);
        state.set(word, n);
      }
    expect(state).toEqual(recount);

    // The output topic through the dedup view: latest count per word.
    const view = new TopicView<Map<string, number>>({
      kafka,
      topic: `${prefix}-counts`,
      groupId: 'mi-view',
      initial: new Map(),
      apply: (m, key, value) => m.set(key!, value as number),
    });
    const outputs = (await admin.fetchTopicOffsets(`${prefix}-counts`)).reduce(
      (n, p) => n + Number(p.high),
      0,
    );
    await view.start();
    await waitFor('the view to read every output', () => view.applied + view.skipped === outputs);
    expect(view.state).toEqual(recount);
    await view.stop();
    await producer.disconnect();
    await admin.disconnect();
  }, 180_000);
});
