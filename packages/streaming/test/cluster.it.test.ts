// Replication with real processes: one cluster of three brokers (dist/main.js --id nN --peers
// ..., min.insync.replicas 2), their broker-to-broker traffic through testkit's fault proxy,
// and several phases in order, each a fault under an idempotent acks=all kafkajs producer
// writing to one partition of a 3-partition topic (each broker leads one of them):
//   1. kill -9 a partition's leader mid-send: the controller (the Raft leader of the metadata
//      log) elects a member of the ISR, kafkajs follows Metadata; the old leader comes back,
//      cuts its log back by leader epochs and rejoins the ISR. The broker killed is also the
//      coordinator of a consumer group that has committed offsets (the leader of the group's
//      __consumer_offsets partition): FindCoordinator then names another broker, and a member
//      of the group that stays up through the kill keeps consuming there, in the generation the
//      dead coordinator had written beside the offsets (never an earlier one), from the offsets
//      committed (a lost commit would re-read from 0).
//   2. (on a new 3-partition topic, so that another broker leads one of its partitions)
//      kill -9 the controller while it is a follower of the partition written to: Raft
//      leadership of the metadata moves to another broker (a higher term); acks=all waits until
//      the leader drops the dead follower from the ISR (after --replica-lag-time-max-ms), then
//      goes on with two copies; restarted, the follower catches up and rejoins the ISR. The
//      metadata's Raft state on /metrics (streaming_raft_term, ...) names the new leader.
//   3. the history of phases 1-2, read back from the start, judged by the pure checker
//      (src/core/log-checker.ts): every acknowledged record exactly once, in order, offsets dense.
//      Then phase 1's topic is deleted: DeleteTopics answers once the tombstones of its
//      committed offsets are in the ISR of __consumer_offsets (its high watermark passed them).
//   4. the Jepsen-style run of test/support/jepsen.ts over the cluster: three partitions led by
//      different brokers, a seeded nemesis killing, pausing and partitioning any broker.
//      DDIA_SEED=n replays a schedule; DDIA_LONG=1 runs more seeds, each longer.
import { fileURLToPath } from 'node:url';
import { type Cluster, freePorts, longRun, replaySeed, startCluster } from '@ddia/testkit';
import { type Consumer, Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, OFFSETS_TOPIC, offsetsPartitionFor, Writer } from '../src/core/index.js';
import { type AppendAttempt, checkLogHistory, type ReadRecord } from '../src/core/log-checker.js';
import { waitFor } from './support/broker.js';
import { addFinalRead, CLEAN_HISTORY, runJepsen } from './support/jepsen.js';
import { RawConnection } from './support/raw-client.js';

const MAIN_JS = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const TOPIC = 'replicated';
/** Phase 2's topic, created then: its leaders are spread over the brokers again (phase 1 and
 *  elections under load may have left the controller leading every partition of TOPIC). */
const TOPIC_2 = 'replicated-2';
/** Phase 1's consumer group reads this one-partition topic and commits as it goes. */
const GROUP_TOPIC = 'committed';
/** Phase 1's group is the first of these whose coordinator is the broker to be killed. */
const GROUP_CANDIDATES = Array.from({ length: 30 }, (_, i) => `resumer-${i}`);
/** Records the group consumes and commits before its coordinator is killed, and after. */
const GROUP_BEFORE = 12;
const GROUP_AFTER = 6;
const LONG = longRun();
/** Acknowledged records before each phase's kill, and after it (more under DDIA_LONG=1). */
const BEFORE_KILL = LONG ? 40 : 20;
const AFTER_KILL = LONG ? 30 : 15;
const REPLAY = replaySeed();
const JEPSEN_SEEDS = REPLAY !== null ? [REPLAY] : LONG ? [2807, 2808, 2809, 2810, 2811] : [2807];
/** How long acks=all waits on a dead follower before the ISR drops it (phase 2 waits it once). */
const REPLICA_LAG_TIME_MAX_MS = 3000;
/** A restarted broker replays its metadata log and catches up its partitions: slow at load 30. */
const REJOIN_MS = 90_000;

let cluster: Cluster;
const kafkaPorts = new Map<string, number>();
let bootstrap: string[];

interface ClusterView {
  caughtUp: boolean;
  leader: string | null;
  term: number;
  topics: { name: string; partitions: { leader: number; leaderEpoch: number; isr: number[] }[] }[];
}

async function view(id: string): Promise<ClusterView | null> {
  try {
    const res = await fetch(`${cluster.node(id).directUrl}/cluster`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? ((await res.json()) as ClusterView) : null;
  } catch {
    return null;
  }
}

/** The ISR of a partition as broker `id`'s metadata has it. */
async function isrSeenBy(id: string, topic: string, partition: number): Promise<number[]> {
  return (await view(id))?.topics.find((t) => t.name === topic)?.partitions[partition]?.isr ?? [];
}

async function metricsOf(id: string): Promise<string> {
  return (await fetch(`${cluster.node(id).directUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
}

/** The value of a sample with only the service's default labels (NaN when absent). */
function gaugeOf(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{service=`) || l.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
}

const client = (clientId = 'cluster-test') =>
  new Kafka({
    brokers: bootstrap,
    clientId,
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 2000 },
  });

type PartitionMeta = { partitionId: number; leader: number; isr: number[]; replicas: number[] };

/** A topic's partitions as the brokers say; retried while a broker asked has not yet applied
 *  the topic's creation from the metadata log (UNKNOWN_TOPIC_OR_PARTITION at high load). */
async function partitionsOf(topic: string): Promise<PartitionMeta[]> {
  let partitions: PartitionMeta[] = [];
  await waitFor(`the metadata of ${topic}`, async () => {
    const admin = client().admin();
    try {
      await admin.connect();
      partitions = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions;
      return true;
    } catch {
      return false;
    } finally {
      await admin.disconnect();
    }
  });
  return partitions;
}

const partitionState = async (topic: string, partition: number) =>
  (await partitionsOf(topic)).find((p) => p.partitionId === partition)!;

// The history of phases 1-2: one producer at a time, each value sent once.
const attempts = new Map<string, AppendAttempt[]>([
  [TOPIC, []],
  [TOPIC_2, []],
]);
let sent = 0;
let acknowledged = 0;
let producer: Producer | null = null;

/**
 * Sends one value at a time to `partition` until `count` more are acknowledged; `afterAck(n)`
 * runs after the n-th of them (a kill started there overlaps the next send, then in flight).
 */
async function write(
  topic: string,
  partition: number,
  count: number,
  afterAck: (n: number) => void = () => {},
): Promise<void> {
  const until = acknowledged + count;
  const start = acknowledged;
  while (acknowledged < until) {
    const seq = sent++;
    const value = `v${seq}`;
    const attempt: AppendAttempt = { value, producer: 'p0', seq, partition, outcome: 'unknown' };
    attempts.get(topic)!.push(attempt);
    try {
      producer ??= await fresh();
      await producer.send({ topic, acks: -1, timeout: 15_000, messages: [{ value, partition }] });
      attempt.outcome = 'ok';
      acknowledged++;
      afterAck(acknowledged - start);
    } catch {
      // Outcome unknown: never re-sent under this value; a new producer id for the next.
      await producer?.disconnect().catch(() => {});
      producer = null;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function fresh(): Promise<Producer> {
  const p = client('cluster-writer').producer({
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 2000 },
  });
  await p.connect();
  return p;
}

/** Waits until every broker's metadata has all three in the partition's ISR. */
async function wholeIsr(topic: string, partition: number, what: string): Promise<void> {
  await waitFor(
    what,
    async () => {
      for (const id of cluster.ids()) if ((await isrSeenBy(id, topic, partition)).length !== 3) return false;
      return true;
    },
    REJOIN_MS,
  );
}

beforeAll(async () => {
  const ports = await freePorts(3);
  for (const [i, id] of ['n1', 'n2', 'n3'].entries()) kafkaPorts.set(id, ports[i]!);
  bootstrap = [...kafkaPorts.values()].map((p) => `127.0.0.1:${p}`);
  cluster = await startCluster({
    nodes: 3,
    proxied: true,
    readyTimeoutMs: 120_000,
    command: (spec) => ({
      args: [
        MAIN_JS,
        ...spec.flags,
        '--kafka-port',
        String(kafkaPorts.get(spec.id)),
        '--min-insync-replicas',
        '2',
        '--broker-session-timeout-ms',
        '1500',
        '--replica-lag-time-max-ms',
        String(REPLICA_LAG_TIME_MAX_MS),
        '--log-level',
        'warn',
      ],
      env: { NODE_ENV: 'test' },
    }),
  });
  const admin = client().admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: TOPIC, numPartitions: 3 },
      { topic: GROUP_TOPIC, numPartitions: 1 },
    ],
    waitForLeaders: true,
  });
  await admin.disconnect();
}, 180_000);

/** FindCoordinator v0 for `group`, asked of broker `id`: the coordinator's node id (or -1). */
async function findCoordinator(id: string, group: string): Promise<{ errorCode: number; nodeId: number }> {
  const conn = await RawConnection.connect(`127.0.0.1:${kafkaPorts.get(id)}`);
  try {
    const r = await conn.request(ApiKey.FindCoordinator, 0, new Writer().string(group).bytes());
    return { errorCode: r.int16(), nodeId: r.int32() };
  } finally {
    conn.close();
  }
}

/** ListOffsets v1 (latest) of one partition, asked of broker `id`: its high watermark. */
async function highWatermarkAt(id: string, topic: string, partition: number): Promise<number> {
  const conn = await RawConnection.connect(`127.0.0.1:${kafkaPorts.get(id)}`);
  try {
    const body = new Writer().int32(-1).int32(1).string(topic).int32(1).int32(partition).int64(-1).bytes();
    const r = await conn.request(ApiKey.ListOffsets, 1, body);
    r.int32(); // topics
    r.string();
    r.int32(); // partitions
    r.int32();
    expect(r.int16(), `ListOffsets of ${topic}-${partition} at ${id}`).toBe(0);
    r.int64(); // timestamp
    return r.int64();
  } finally {
    conn.close();
  }
}

/** DeleteTopics v1 of one topic, asked of broker `id`: the topic's error code. */
async function deleteTopicAt(id: string, topic: string): Promise<number> {
  const conn = await RawConnection.connect(`127.0.0.1:${kafkaPorts.get(id)}`);
  try {
    const body = new Writer().int32(1).string(topic).int32(30_000).bytes();
    const r = await conn.request(ApiKey.DeleteTopics, 1, body, 7, 30_000);
    r.int32(); // throttle time
    r.int32(); // topics
    r.string();
    return r.int16();
  } finally {
    conn.close();
  }
}

/** Produces `count` values to GROUP_TOPIC (acks=all), numbered from `from`. */
async function produceToGroupTopic(from: number, count: number): Promise<void> {
  const p = client('group-feeder').producer({ idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  const messages = Array.from({ length: count }, (_, i) => ({ value: `g${from + i}` }));
  await p.send({ topic: GROUP_TOPIC, acks: -1, messages });
  await p.disconnect();
}

/** Phase 1's group: its member's reads as [offset, value], the offsets it committed, the
 *  generation each of its heartbeats carried, in order. */
const groupSeen: [number, string][] = [];
let groupCommitted = 0;
const generations: number[] = [];
let phase1Group = '';

/** A member of `group` (from the beginning when nothing is committed) that commits after each
 *  record and stays up until stopped. */
async function startGroupMember(group: string): Promise<Consumer> {
  const consumer = client('group-member').consumer({
    groupId: group,
    maxWaitTimeInMs: 200,
    sessionTimeout: 6000,
    heartbeatInterval: 300,
  });
  consumer.on(consumer.events.HEARTBEAT, ({ payload }) => generations.push(payload.groupGenerationId));
  await consumer.connect();
  await consumer.subscribe({ topic: GROUP_TOPIC, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      groupSeen.push([Number(message.offset), message.value!.toString()]);
      await consumer.commitOffsets([
        { topic: GROUP_TOPIC, partition, offset: String(Number(message.offset) + 1) },
      ]);
      groupCommitted = Math.max(groupCommitted, Number(message.offset) + 1);
    },
  });
  return consumer;
}

/** A second member joins `group` and leaves: two more generations. */
async function visitGroup(group: string): Promise<void> {
  const visitor = client('group-visitor').consumer({
    groupId: group,
    sessionTimeout: 6000,
    heartbeatInterval: 300,
  });
  let joined = false;
  visitor.on(visitor.events.GROUP_JOIN, () => {
    joined = true;
  });
  await visitor.connect();
  await visitor.subscribe({ topic: GROUP_TOPIC });
  await visitor.run({ eachMessage: async () => {} });
  await waitFor('the visitor to join', () => joined, 60_000);
  await visitor.disconnect();
}

const lastGeneration = () => generations[generations.length - 1] ?? -1;

afterAll(async () => {
  await producer?.disconnect().catch(() => {});
  await cluster?.close();
});

describe('three replicated brokers, one fault after another under acks=all', () => {
  it('0. the broker-to-broker routes refuse malformed bodies with a 400 problem, and keep serving', async () => {
    const url = cluster.node(cluster.ids()[0]!).directUrl;
    const malformed: [string, unknown][] = [
      ['/internal/replica/fetch', { topic: TOPIC, partition: 0, replica: 2, epoch: 1, fetchOffset: -5 }],
      ['/internal/replica/fetch', { topic: TOPIC, partition: '0', replica: 2, epoch: 1 }],
      ['/internal/replica/epoch-end', { topic: '', partition: 0, epoch: 0, leaderEpoch: 1 }],
      ['/internal/offsets/forgotten', {}],
      ['/internal/offsets/forgotten', { topic: 'x'.repeat(250) }],
    ];
    for (const [path, body] of malformed) {
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5000),
      });
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    expect((await partitionsOf(TOPIC)).length).toBe(3);
  });

  it('1. kill -9 a partition leader mid-send, also a group coordinator: a new leader from the ISR, a new coordinator with the committed offsets; the old one rejoins', async () => {
    const partitions = await partitionsOf(TOPIC);
    // Each broker leads one partition (the controller spreads them at creation).
    expect(partitions.map((p) => p.leader).sort()).toEqual([1, 2, 3]);
    const first = partitions.find((p) => p.partitionId === 0)!;
    expect([...first.replicas].sort()).toEqual([1, 2, 3]);
    const victim = `n${first.leader}`;

    // A group whose coordinator is the victim too (the leader of the group's partition of
    // __consumer_offsets; the first FindCoordinator creates that topic): one kill, both failovers.
    await waitFor('the offsets topic', async () => {
      await findCoordinator('n1', GROUP_CANDIDATES[0]!);
      return (await view('n1'))?.topics.some((t) => t.name === OFFSETS_TOPIC) ?? false;
    });
    const offsetsRoles = (await view('n1'))!.topics.find((t) => t.name === OFFSETS_TOPIC)!.partitions;
    const group = GROUP_CANDIDATES.find(
      (g) => offsetsRoles[offsetsPartitionFor(g, offsetsRoles.length)]!.leader === first.leader,
    )!;
    expect(group, `a group coordinated by ${victim}`).toBeDefined();
    expect([...offsetsRoles[offsetsPartitionFor(group, offsetsRoles.length)]!.isr].sort()).toEqual([1, 2, 3]);
    phase1Group = group;
    await produceToGroupTopic(0, GROUP_BEFORE);
    const member = await startGroupMember(group);
    await waitFor(
      `${GROUP_BEFORE} records read and committed by the group`,
      () => groupCommitted >= GROUP_BEFORE,
      60_000,
    );
    expect(groupSeen.map(([offset]) => offset)).toEqual([...Array(GROUP_BEFORE).keys()]);
    // Generations 1 -> 3 (the visitor's join, then its leave), so that a new coordinator
    // starting the group afresh (generation 1 again) would show.
    const joinedIn = lastGeneration();
    await visitGroup(group);
    await waitFor('the member back in a later generation', () => lastGeneration() >= joinedIn + 2, 60_000);
    const generationBefore = lastGeneration();
    const coordinator = await findCoordinator('n1', group);
    expect(coordinator).toEqual({ errorCode: 0, nodeId: first.leader });

    let killing: Promise<void> | null = null;
    const heardBeforeKill = { heartbeats: 0, reads: 0 };
    await write(TOPIC, first.partitionId, BEFORE_KILL + AFTER_KILL, (n) => {
      if (n !== BEFORE_KILL) return;
      heardBeforeKill.heartbeats = generations.length;
      heardBeforeKill.reads = groupSeen.length;
      killing = cluster.node(victim).kill();
    });
    await killing;

    const after = await partitionState(TOPIC, first.partitionId);
    expect(after.leader).not.toBe(first.leader);
    expect(after.isr).not.toContain(first.leader);

    // The group's coordinator moved with its offsets partition; the member that stayed up goes
    // on there: from the committed offsets, in the generation written beside them or a later one.
    const survivor = cluster.ids().find((id) => id !== victim)!;
    let moved = { errorCode: -1, nodeId: -1 };
    await waitFor('FindCoordinator to name a live broker', async () => {
      moved = await findCoordinator(survivor, group);
      return moved.errorCode === 0 && moved.nodeId !== coordinator.nodeId;
    });
    await produceToGroupTopic(GROUP_BEFORE, GROUP_AFTER);
    const total = GROUP_BEFORE + GROUP_AFTER;
    await waitFor(`${total} records committed by the group's member`, () => groupCommitted >= total, 60_000);
    const heardSince = generations.length;
    await waitFor(
      'a heartbeat answered by the new coordinator',
      () => generations.length > heardSince,
      30_000,
    );
    await member.disconnect();
    const readsAfterKill = groupSeen.slice(heardBeforeKill.reads).map(([offset]) => offset);
    expect(Math.min(...readsAfterKill), 'nothing re-read below the committed offset').toBeGreaterThanOrEqual(
      GROUP_BEFORE,
    );
    expect(new Set(groupSeen.map(([offset]) => offset))).toEqual(new Set([...Array(total).keys()]));
    const afterKill = generations.slice(heardBeforeKill.heartbeats);
    expect(afterKill.length).toBeGreaterThan(0);
    expect(Math.min(...afterKill), "no generation below the dead coordinator's").toBeGreaterThanOrEqual(
      generationBefore,
    );
    for (let i = 1; i < generations.length; i++)
      expect(generations[i]!).toBeGreaterThanOrEqual(generations[i - 1]!);

    await cluster.node(victim).restart();
    await wholeIsr(TOPIC, 0, `${victim} back in the ISR`);
  }, 240_000);

  it('2. kill -9 the controller, a follower of the partition written to: metadata leadership moves; the ISR shrinks, acks=all goes on; it catches up and rejoins', async () => {
    const before = (await view('n1'))!;
    const controller = before.leader!;
    expect(cluster.ids()).toContain(controller);
    // A partition the controller follows (each broker leads one of a new topic's three).
    const admin = client().admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC_2, numPartitions: 3 }], waitForLeaders: true });
    await admin.disconnect();
    const target = (await partitionsOf(TOPIC_2)).find((p) => `n${p.leader}` !== controller)!;
    expect(target, 'a partition of the new topic led by another broker').toBeDefined();
    const leader = target.leader;
    let killing: Promise<void> | null = null;
    await write(TOPIC_2, target.partitionId, BEFORE_KILL, (n) => {
      if (n === 1) killing = cluster.node(controller).kill();
    });
    await killing;
    const survivor = cluster.ids().find((id) => id !== controller)!;
    const moved = await view(survivor);
    expect(moved?.leader).not.toBeNull();
    expect(moved?.leader).not.toBe(controller);
    expect(moved!.term).toBeGreaterThan(before.term);
    // Each of these acknowledgements waited for the ISR: the first ones for the dead
    // follower's removal, which the new controller committed.
    const shrunk = await partitionState(TOPIC_2, target.partitionId);
    expect(shrunk.leader).toBe(leader);
    expect([...shrunk.isr].sort()).toEqual([1, 2, 3].filter((n) => `n${n}` !== controller));

    await cluster.node(controller).restart();
    await wholeIsr(TOPIC_2, target.partitionId, `${controller} caught up and back in the ISR`);
    expect((await partitionState(TOPIC_2, target.partitionId)).leader).toBe(leader);
    await write(TOPIC_2, target.partitionId, AFTER_KILL);

    // The metadata's Raft group as monitoring's /raft/<job> page reads it from /metrics.
    const raft = await Promise.all(cluster.ids().map(async (id) => ({ id, text: await metricsOf(id) })));
    const leaders = raft.filter((n) => gaugeOf(n.text, 'streaming_raft_is_leader') === 1);
    expect(leaders.map((n) => n.id)).toEqual([(await view(survivor))!.leader]);
    const [lead] = leaders;
    expect(gaugeOf(lead!.text, 'streaming_raft_term')).toBe((await view(lead!.id))!.term);
    expect(gaugeOf(lead!.text, 'streaming_raft_term')).toBeGreaterThan(before.term);
    expect(gaugeOf(lead!.text, 'streaming_raft_commit_index')).toBeGreaterThan(0);
    expect(gaugeOf(lead!.text, 'streaming_applied_index')).toBeGreaterThan(0);
    for (const other of cluster.ids().filter((id) => id !== lead!.id))
      expect(lead!.text).toMatch(
        new RegExp(`streaming_follower_lag_entries\\{follower="${other}"[^}]*\\} \\d+`),
      );
    // The restarted broker saw at least the leader it found on its return.
    expect(
      gaugeOf(raft.find((n) => n.id === controller)!.text, 'streaming_leader_changes_total'),
    ).toBeGreaterThan(0);
  }, 240_000);

  it('3. the history of phases 1-2: every acknowledged record exactly once, in order per partition', async () => {
    await producer?.disconnect();
    producer = null;
    for (const topic of [TOPIC, TOPIC_2]) {
      const admin = client().admin();
      await admin.connect();
      const ends = (await admin.fetchTopicOffsets(topic)).map((p) => Number(p.high));
      await admin.disconnect();
      const total = ends.reduce((x, y) => x + y, 0);
      const finalRead: ReadRecord[] = [];
      const consumer = client().consumer({ groupId: `${topic}-final`, maxWaitTimeInMs: 200 });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          addFinalRead(finalRead, {
            partition,
            offset: Number(message.offset),
            value: message.value!.toString(),
          });
        },
      });
      await waitFor(`the final read of ${topic} to reach the end`, () => finalRead.length >= total, 60_000);
      await consumer.disconnect();

      const result = checkLogHistory(attempts.get(topic)!, finalRead);
      console.log(
        `${topic}: ${result.acknowledged} acknowledged, ${result.unknownRead + result.unknownMissing} ` +
          `unknown (${result.unknownRead} present), ${finalRead.length} in the log`,
      );
      expect(result, topic).toMatchObject(CLEAN_HISTORY);
      expect(result.valid).toBe(true);
      expect(result.acknowledged, topic).toBe(BEFORE_KILL + AFTER_KILL);
    }
  }, 120_000);

  it("3b. deleting phase 1's topic while a follower of its offsets partition is paused: DeleteTopics answers once the tombstones are in the ISR", async () => {
    const p = offsetsPartitionFor(phase1Group, 3);
    const admin = client().admin();
    await admin.connect();
    const committed = await admin.fetchOffsets({ groupId: phase1Group, topics: [GROUP_TOPIC] });
    await admin.disconnect();
    expect(committed[0]!.partitions[0]!.offset).toBe(String(GROUP_BEFORE + GROUP_AFTER));
    // A follower in the ISR: the tombstone cannot reach the high watermark until the leader
    // drops it from the ISR (after replica.lag.time.max.ms). Raw requests to the live brokers,
    // so that no client request waits on the paused one.
    const seen = (await view('n1'))!;
    const roles = seen.topics.find((t) => t.name === OFFSETS_TOPIC)!.partitions[p]!;
    const leader = `n${roles.leader}`;
    // Preferably one that leads another offsets partition, not the metadata's Raft leader: then
    // that partition's leadership moves during the deletion, and its new leader is asked.
    const offsetLeaders = seen.topics.find((t) => t.name === OFFSETS_TOPIC)!.partitions.map((q) => q.leader);
    const followers = roles.isr.filter((n) => n !== roles.leader);
    const paused = `n${
      followers.find((n) => offsetLeaders.includes(n) && `n${n}` !== seen.leader) ??
      followers.find((n) => `n${n}` !== seen.leader) ??
      followers[0]
    }`;
    const before = await highWatermarkAt(leader, OFFSETS_TOPIC, p);
    cluster.node(paused).pause();
    try {
      expect(await deleteTopicAt(leader, GROUP_TOPIC)).toBe(0);
      // ListOffsets(latest) answers the high watermark: what every in-sync replica has. The
      // tombstone is the only write to this partition since (the group's member is gone).
      expect(await highWatermarkAt(leader, OFFSETS_TOPIC, p), 'the tombstone in the ISR').toBe(before + 1);
    } finally {
      cluster.node(paused).resume();
      console.log(
        `3b: paused ${paused}, offsets leaders ${offsetLeaders.join(',')}, partition ${p} led by ${leader}`,
      );
    }
    const again = client().admin();
    await again.connect();
    const left = await again.fetchOffsets({ groupId: phase1Group });
    await again.disconnect();
    expect(left.map((t) => t.topic)).not.toContain(GROUP_TOPIC);
  }, 60_000);

  for (const seed of JEPSEN_SEEDS) {
    it(`4. Jepsen-style over the cluster: kills, pauses and partitions of any broker (seed ${seed})`, async () => {
      const run = await runJepsen({
        cluster,
        bootstrap,
        seed,
        topic: `jepsen-${seed}`,
        partitions: 3,
        producers: 3,
        faultWindowMs: LONG ? 15_000 : 3500,
        faults: ['kill', 'pause', 'partition'],
        faultMs: [500, 2000],
        gapMs: [400, 1000],
        quietMs: LONG ? 2000 : 1000,
        finalReadMs: REJOIN_MS,
      });
      expect(run.result, run.replay).toMatchObject(CLEAN_HISTORY);
      expect(run.result.valid).toBe(true);
      expect(run.kills + run.pauses, run.replay).toBeGreaterThan(0);
      expect(run.result.acknowledged).toBeGreaterThan(0);
    }, 300_000);
  }
});
