// The broker's files under simulated power loss: topics' meta.json, the partition logs (on
// common's Log, in generations that compaction flips), the committed-offsets log and the
// producer-id reservations, all written through testkit's FaultFileSystem. A seeded workload
// produces with acks=1 and acks=all (several requests in flight at once, small segments so
// that they roll), commits consumer offsets, compacts a keyed topic and allocates producer
// ids; the power is cut at a random file-system operation; a new broker opens what survived.
// It must hold:
//   - every acknowledged topic;
//   - per partition, whole batches only (each batch's CRC32C checks, each one an issued batch,
//     each at most once), offsets dense from 0 on a delete topic and increasing on a compacted
//     one: nothing half-written or invented is visible;
//   - every batch acknowledged with acks=all, at the offset the broker answered (acks=1 is
//     answered before the fsync, so it may go: the point of acks=all on a single broker);
//   - on the compacted topic, for each key, the acks=all value or a newer one;
//   - every acknowledged offset commit (or a later one of the same key);
//   - offsets and producer ids never handed out twice after the restart.
//   - a topic whose deletion was acknowledged stays deleted, and a topic that is gone left no
//     committed offsets behind (a later topic of that name would inherit them);
//   - on a topic under retention (retention.bytes, whole segments dropped: log.drop.dir), a
//     dense suffix of whole batches that starts no later than the retention runs begun before
//     the cut would have left it (the same run without a cut says where), with every acks=all
//     batch at or above that start;
//   - with the offsets log compacted early (offsetsCompactRecordsMin), still every commit.
// Mutation check: skipping one named sync point at a time, the same trials must fail.
// Replay one seed: DDIA_SEED=<seed> npx vitest run --project streaming broker-power-loss
// DDIA_LONG=1 runs twenty times as many seeds (1500).
import { type FileHandle, type FileSystem, LOG_SYNC, SeededRandom, type SyncPoint } from '@ddia/common';
import { crc32c, ManualClock } from '@ddia/common/core';
import { FaultFileSystem } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { handleProduce } from '../src/broker/api/produce.js';
import { Broker, type BrokerLogger } from '../src/broker/broker.js';
import { decompress } from '../src/broker/compression.js';
import { decodeRecords, ErrorCode, encodeBatch, readBatchHeader } from '../src/core/index.js';
import { STREAMING_SYNC } from '../src/log/files.js';

const DATA_DIR = '/data';
const REPLAY = process.env.DDIA_SEED === undefined ? null : Number(process.env.DDIA_SEED);
const LONG = process.env.DDIA_LONG === '1';
const SEEDS = REPLAY !== null ? [REPLAY] : Array.from({ length: LONG ? 1500 : 75 }, (_, i) => i + 1);
const LOG_TOPIC = 'ledger';
const LOG_PARTITIONS = 2;
const COMPACT_TOPIC = 'accounts';
/** Under retention: at most RETAINED_BYTES of its newest batches are kept. */
const RETAINED_TOPIC = 'audit';
const RETAINED_BYTES = 1500;
/** Deleted in the middle of the workload, after commits to it. */
const DELETED_TOPIC = 'scratch';
/** The offsets log is compacted once it holds this many records (1000 by default). */
const OFFSETS_COMPACT_RECORDS = 8;
const KEYS = ['k0', 'k1', 'k2', 'k3'];
const GROUP = 'billing';
const te = new TextEncoder();
const td = new TextDecoder();
const silent: BrokerLogger = { info() {}, warn() {}, error() {} };

interface Issued {
  topic: string;
  partition: number;
  acks: 1 | -1;
  /** key=value of each record; values are unique across the trial. */
  records: { key: string; value: string }[];
  /** Set once the broker answered NONE. */
  baseOffset: number | null;
}

interface Outcome {
  topicsAcked: string[];
  produced: Issued[];
  /** Commits in issue order; `acked` once OffsetCommit's fsync returned. */
  commits: { topic: string; partition: number; offset: number; acked: boolean }[];
  producerIds: number[];
  /** The deletion of DELETED_TOPIC: started, and answered. */
  deleteStarted: boolean;
  deleteAcked: boolean;
  /** Per retention run on RETAINED_TOPIC (begun), the log start it left (-1 until it returned). */
  retentionStarts: number[];
  /** The offsets log's generation when the workload ended (above 0: it was compacted). */
  offsetsGeneration: number;
}

/** What the uncut runs did, summed over the seeds: the checks above are not vacuous. */
const exercised = { retentionDropped: 0, deleted: 0, offsetsCompacted: 0 };

const openBroker = (fs: FileSystem) =>
  Broker.open({
    dataDir: DATA_DIR,
    nodeId: 1,
    host: '127.0.0.1',
    clock: new ManualClock(),
    random: new SeededRandom(1),
    logger: silent,
    fs,
    // Small segments: appends roll to new segment files (more directory fsyncs to forget).
    defaults: { segmentBytes: 1024 },
    offsetsCompactRecordsMin: OFFSETS_COMPACT_RECORDS,
  });

async function produce(broker: Broker, issued: Issued): Promise<void> {
  const batch = encodeBatch({
    baseOffset: 0,
    records: issued.records.map((r, i) => ({
      offset: i,
      timestamp: 1_700_000_000_000 + i,
      key: te.encode(r.key),
      value: te.encode(r.value),
      headers: [],
    })),
  });
  const response = await handleProduce(broker, {
    transactionalId: null,
    acks: issued.acks,
    timeoutMs: 30_000,
    topics: [{ name: issued.topic, partitions: [{ index: issued.partition, records: batch }] }],
  });
  const answer = response!.topics[0]!.partitions[0]!;
  expect(answer.errorCode).toBe(ErrorCode.NONE);
  issued.baseOffset = answer.baseOffset;
}

async function workload(fs: FaultFileSystem, random: SeededRandom, out: Outcome): Promise<void> {
  const crashed = (err: unknown) => {
    if (!fs.isCrashed) throw err;
  };
  let broker: Broker | null = null;
  let serial = 0;
  try {
    broker = await openBroker(fs);
    await broker.createTopic(LOG_TOPIC, LOG_PARTITIONS, {});
    out.topicsAcked.push(LOG_TOPIC);
    await broker.createTopic(COMPACT_TOPIC, 1, { 'cleanup.policy': 'compact', 'delete.retention.ms': '0' });
    out.topicsAcked.push(COMPACT_TOPIC);
    await broker.createTopic(RETAINED_TOPIC, 1, { 'retention.bytes': String(RETAINED_BYTES) });
    out.topicsAcked.push(RETAINED_TOPIC);
    await broker.createTopic(DELETED_TOPIC, 1, {});
    out.topicsAcked.push(DELETED_TOPIC);
    const rounds = random.int(4, 14);
    const deleteRound = random.int(1, rounds);
    let committed = 0;
    for (let round = 0; round < rounds && !fs.isCrashed; round++) {
      const pending: Promise<unknown>[] = [];
      for (let n = random.int(1, 5); n > 0; n--) {
        const compacted = random.chance(0.3);
        const retained = !compacted && random.chance(0.3);
        const issued: Issued = {
          topic: compacted ? COMPACT_TOPIC : retained ? RETAINED_TOPIC : LOG_TOPIC,
          partition: compacted || retained ? 0 : random.int(0, LOG_PARTITIONS - 1),
          acks: random.chance(0.5) ? -1 : 1,
          records: Array.from({ length: random.int(1, 3) }, () => ({
            key: KEYS[random.int(0, KEYS.length - 1)]!,
            value: `v${serial++}-${'x'.repeat(random.int(0, 300))}`,
          })),
          baseOffset: null,
        };
        out.produced.push(issued);
        pending.push(produce(broker, issued).catch(crashed));
      }
      // Several commits a round: the offsets log outgrows 4x its live keys and is compacted.
      for (let c = random.chance(0.8) ? random.int(1, 3) : 0; c > 0; c--) {
        const topic = !out.deleteStarted && random.chance(0.3) ? DELETED_TOPIC : LOG_TOPIC;
        const partition = topic === DELETED_TOPIC ? 0 : random.int(0, LOG_PARTITIONS - 1);
        const commit = { topic, partition, offset: ++committed, acked: false };
        out.commits.push(commit);
        pending.push(
          broker.offsetStore
            .commit(GROUP, [{ topic, partition, offset: commit.offset, metadata: null }], 0)
            .then(() => {
              commit.acked = true;
            }, crashed),
        );
      }
      if (random.chance(0.15)) {
        pending.push(
          broker.nextProducerId().then((id) => {
            out.producerIds.push(id);
          }, crashed),
        );
      }
      await Promise.all(pending);
      if (!fs.isCrashed && random.chance(0.25)) await broker.compactTopic(broker.topic(COMPACT_TOPIC)!);
      if (!fs.isCrashed && random.chance(0.4)) {
        const run = out.retentionStarts.push(-1) - 1;
        await broker.applyRetention(broker.topic(RETAINED_TOPIC)!);
        out.retentionStarts[run] = broker.partition(RETAINED_TOPIC, 0)!.logStartOffset;
      }
      if (!fs.isCrashed && round + 1 === deleteRound) {
        out.deleteStarted = true;
        out.topicsAcked = out.topicsAcked.filter((t) => t !== DELETED_TOPIC);
        await broker.deleteTopic(DELETED_TOPIC);
        out.deleteAcked = true;
      }
    }
    out.offsetsGeneration = broker.offsetStore.generation;
    if (!fs.isCrashed) await broker.close();
  } catch (err) {
    crashed(err);
  } finally {
    // Stops the logs' timers; every file call fails now, which is expected.
    if (fs.isCrashed) await broker?.close().catch(() => {});
  }
}

interface Held {
  offset: number;
  key: string;
  value: string;
}

/** Where a v2 batch's CRC32C starts covering (the attributes field, byte 21). */
const CRC_FROM = 21;

/** Every record of a partition, batch by batch, each batch's CRC checked again. */
async function readPartition(broker: Broker, topic: string, partition: number): Promise<Held[][]> {
  const log = broker.partition(topic, partition)!;
  const batches: Held[][] = [];
  let offset = log.logStartOffset;
  while (offset < log.highWatermark) {
    const chunk = await log.read(offset, 1 << 20);
    if (chunk.length === 0) break;
    for (const bytes of chunk) {
      const header = readBatchHeader(bytes);
      // A batch torn and not caught by the Log's own CRC would show here.
      if (crc32c(bytes.subarray(CRC_FROM)) !== header.crc)
        throw new Error(`batch at ${header.baseOffset}: CRC mismatch`);
      const records = decodeRecords({ header, bytes }, decompress).map((r) => ({
        offset: r.offset,
        key: td.decode(r.key!),
        value: td.decode(r.value!),
      }));
      batches.push(records);
      offset = records[records.length - 1]!.offset + 1;
    }
  }
  return batches;
}

function checkLogPartition(batches: Held[][], partition: number, out: Outcome): string | null {
  const issued = out.produced.filter((p) => p.topic === LOG_TOPIC && p.partition === partition);
  const byFirstValue = new Map(issued.map((p) => [p.records[0]!.value, p]));
  const seen = new Set<Issued>();
  let next = 0;
  for (const batch of batches) {
    const origin = byFirstValue.get(batch[0]!.value);
    if (!origin) return `${LOG_TOPIC}/${partition} holds a batch nobody produced at ${batch[0]!.offset}`;
    if (seen.has(origin)) return `${LOG_TOPIC}/${partition} holds a batch twice`;
    seen.add(origin);
    if (batch.length !== origin.records.length) return `${LOG_TOPIC}/${partition} holds a partial batch`;
    for (let i = 0; i < batch.length; i++) {
      if (batch[i]!.offset !== next)
        return `${LOG_TOPIC}/${partition}: offset ${batch[i]!.offset} where ${next} was due`;
      if (batch[i]!.value !== origin.records[i]!.value || batch[i]!.key !== origin.records[i]!.key)
        return `${LOG_TOPIC}/${partition}: record ${next} differs from what was produced`;
      next++;
    }
    if (origin.baseOffset !== null && origin.baseOffset !== batch[0]!.offset)
      return `${LOG_TOPIC}/${partition}: a batch acknowledged at ${origin.baseOffset} sits at ${batch[0]!.offset}`;
  }
  for (const p of issued) {
    if (p.acks === -1 && p.baseOffset !== null && !seen.has(p))
      return `${LOG_TOPIC}/${partition}: acks=all batch at offset ${p.baseOffset} is gone`;
  }
  return null;
}

function checkCompactedPartition(batches: Held[][], out: Outcome): string | null {
  const issued = out.produced.filter((p) => p.topic === COMPACT_TOPIC);
  const byValue = new Map<string, { key: string; origin: Issued; index: number }>();
  for (const p of issued) {
    for (const [index, r] of p.records.entries()) byValue.set(r.value, { key: r.key, origin: p, index });
  }
  const latest = new Map<string, Held>();
  let previous = -1;
  for (const record of batches.flat()) {
    const origin = byValue.get(record.value);
    if (!origin || origin.key !== record.key) return `${COMPACT_TOPIC} holds a record nobody produced`;
    if (record.offset <= previous) return `${COMPACT_TOPIC}: offset ${record.offset} after ${previous}`;
    if (origin.origin.baseOffset !== null && origin.origin.baseOffset + origin.index !== record.offset)
      return `${COMPACT_TOPIC}: a record acknowledged at ${origin.origin.baseOffset + origin.index} sits at ${record.offset}`;
    previous = record.offset;
    latest.set(record.key, record);
  }
  for (const key of KEYS) {
    let ackedOffset = -1;
    for (const p of issued) {
      if (p.acks !== -1 || p.baseOffset === null) continue;
      p.records.forEach((r, i) => {
        if (r.key === key) ackedOffset = Math.max(ackedOffset, p.baseOffset! + i);
      });
    }
    if (ackedOffset >= 0 && (latest.get(key)?.offset ?? -1) < ackedOffset)
      return `${COMPACT_TOPIC}: key ${key} was acknowledged (acks=all) at offset ${ackedOffset}, now ${latest.get(key)?.offset ?? 'gone'}`;
  }
  return null;
}

/** RETAINED_TOPIC: whole issued batches, each once, dense from the log start; every acks=all
 *  batch from there on at its offset; and a start no later than the runs begun allow. */
function checkRetainedPartition(
  batches: Held[][],
  start: number,
  out: Outcome,
  uncut: Outcome,
): string | null {
  const issued = out.produced.filter((p) => p.topic === RETAINED_TOPIC);
  const byFirstValue = new Map(issued.map((p) => [p.records[0]!.value, p]));
  const begun = out.retentionStarts.length;
  const bound = begun === 0 ? 0 : uncut.retentionStarts[begun - 1]!;
  if (start > bound) return `${RETAINED_TOPIC} starts at ${start}; retention begun so far leaves ${bound}`;
  let next = start;
  const seen = new Set<Issued>();
  for (const batch of batches) {
    const origin = byFirstValue.get(batch[0]!.value);
    if (!origin || seen.has(origin) || batch.length !== origin.records.length)
      return `${RETAINED_TOPIC}: a batch at ${batch[0]!.offset} that was not produced so`;
    seen.add(origin);
    if (batch[0]!.offset !== next)
      return `${RETAINED_TOPIC}: offset ${batch[0]!.offset} where ${next} was due`;
    if (origin.baseOffset !== null && origin.baseOffset !== next)
      return `${RETAINED_TOPIC}: a batch acknowledged at ${origin.baseOffset} sits at ${next}`;
    next += batch.length;
  }
  for (const p of issued) {
    if (p.acks === -1 && p.baseOffset !== null && p.baseOffset >= start && !seen.has(p))
      return `${RETAINED_TOPIC}: acks=all batch at offset ${p.baseOffset} is gone (log starts at ${start})`;
  }
  return null;
}

async function check(broker: Broker, out: Outcome, uncut: Outcome): Promise<string | null> {
  for (const topic of out.topicsAcked) if (!broker.topic(topic)) return `acknowledged topic ${topic} is gone`;
  if (out.deleteAcked && broker.topic(DELETED_TOPIC)) return `deleted topic ${DELETED_TOPIC} is back`;
  if (!broker.topic(DELETED_TOPIC) && broker.offsetStore.get(GROUP, DELETED_TOPIC, 0))
    return `deleted topic ${DELETED_TOPIC} left its committed offset behind`;
  if (broker.topic(RETAINED_TOPIC)) {
    const log = broker.partition(RETAINED_TOPIC, 0)!;
    const problem = checkRetainedPartition(
      await readPartition(broker, RETAINED_TOPIC, 0),
      log.logStartOffset,
      out,
      uncut,
    );
    if (problem) return problem;
  }
  if (broker.topic(LOG_TOPIC)) {
    for (let p = 0; p < LOG_PARTITIONS; p++) {
      const problem = checkLogPartition(await readPartition(broker, LOG_TOPIC, p), p, out);
      if (problem) return problem;
    }
  }
  if (broker.topic(COMPACT_TOPIC)) {
    const problem = checkCompactedPartition(await readPartition(broker, COMPACT_TOPIC, 0), out);
    if (problem) return problem;
  }
  const committedTo = [
    ...Array.from({ length: LOG_PARTITIONS }, (_, p) => ({ topic: LOG_TOPIC, p })),
    // Before its deletion began, the deleted topic's commits count as any others.
    ...(out.deleteStarted ? [] : [{ topic: DELETED_TOPIC, p: 0 }]),
  ];
  for (const { topic, p } of committedTo) {
    const mine = out.commits.filter((c) => c.topic === topic && c.partition === p);
    const ackedMax = Math.max(-1, ...mine.filter((c) => c.acked).map((c) => c.offset));
    const held = broker.offsetStore.get(GROUP, topic, p)?.offset ?? -1;
    if (held < ackedMax) return `committed offset of ${topic}/${p} is ${held}, ${ackedMax} was acknowledged`;
    if (held >= 0 && !mine.some((c) => c.offset === held))
      return `committed offset ${held} was never committed`;
  }
  // After the restart: a new batch must not take an acknowledged offset, nor a new producer an id.
  for (const topic of [LOG_TOPIC, COMPACT_TOPIC]) {
    if (!broker.topic(topic)) continue;
    const acked = out.produced.filter((p) => p.topic === topic && p.partition === 0 && p.baseOffset !== null);
    const fresh: Issued = {
      topic,
      partition: 0,
      acks: -1,
      records: [{ key: 'k0', value: 'after' }],
      baseOffset: null,
    };
    await produce(broker, fresh);
    const reused = acked.find((p) => p.acks === -1 && p.baseOffset! + p.records.length > fresh.baseOffset!);
    if (reused)
      return `${topic}/0: offset ${fresh.baseOffset} handed out again (acks=all batch at ${reused.baseOffset})`;
  }
  const id = await broker.nextProducerId();
  if (out.producerIds.some((old) => old >= id)) return `producer id ${id} handed out again`;
  return null;
}

async function trial(seed: number, skipSyncPoints: string[] = []): Promise<string | null> {
  const random = new SeededRandom(seed);
  const workloadSeed = random.int(0, 2 ** 31);
  const fresh = () => new FaultFileSystem({ seed, skipSyncPoints });
  const empty = (): Outcome => ({
    topicsAcked: [],
    produced: [],
    commits: [],
    producerIds: [],
    deleteStarted: false,
    deleteAcked: false,
    retentionStarts: [],
    offsetsGeneration: 0,
  });
  const dry = fresh();
  const uncut = empty();
  await workload(dry, new SeededRandom(workloadSeed), uncut);
  if (uncut.retentionStarts.some((start) => start > 0)) exercised.retentionDropped++;
  if (uncut.deleteAcked) exercised.deleted++;
  if (uncut.offsetsGeneration > 0) exercised.offsetsCompacted++;
  const fs = fresh();
  fs.crashAfter(random.int(0, dry.opCount));
  const out = empty();
  await workload(fs, new SeededRandom(workloadSeed), out);
  const after = fs.crash();
  const crash = JSON.stringify(after.lastCrash);
  let broker: Broker;
  try {
    broker = await openBroker(after);
  } catch (err) {
    return `reopening threw ${String(err)} (crash ${crash})`;
  }
  try {
    const problem = await check(broker, out, uncut);
    return problem ? `${problem} (crash ${crash})` : null;
  } catch (err) {
    return `reading threw ${String(err)} (crash ${crash})`;
  } finally {
    await broker.close();
  }
}

describe('the broker under power loss (FaultFileSystem)', () => {
  it(`keeps every acknowledged topic, acks=all batch and commit, whole, across ${SEEDS.length} seeded crashes`, async () => {
    const failures: string[] = [];
    for (const seed of SEEDS) {
      const failure = await trial(seed);
      if (failure) failures.push(`seed ${seed}: ${failure}`);
    }
    if (failures.length > 0) console.error(failures.slice(0, 5).join('\n'));
    expect(failures).toEqual([]);
    console.log(`uncut runs: ${JSON.stringify(exercised)} of ${SEEDS.length}`);
    if (REPLAY === null) {
      expect(exercised.retentionDropped).toBeGreaterThan(0);
      expect(exercised.deleted).toBeGreaterThan(0);
      expect(exercised.offsetsCompacted).toBeGreaterThan(0);
    }
  }, 300_000);

  // Each sync point the broker's files depend on, skipped alone: the trials must notice. What
  // each one's absence does (a run of this table) is in the README's power-loss section.
  // Partition logs write with appendSync and fsync acks=all batches by sync() (`log.sync`, also
  // the interval timer's); the offsets log appends with { sync: true } (`log.append.sync`).
  const MUTATIONS = [
    { point: LOG_SYNC.sync, expect: /acks=all batch .* is gone|acknowledged \(acks=all\)/ },
    { point: LOG_SYNC.appendSync, expect: /committed offset/ },
    { point: LOG_SYNC.segmentDir, expect: /gone/ },
    { point: LOG_SYNC.openDir, expect: /gone/ },
    { point: LOG_SYNC.seal, expect: /reopening threw|gone/ },
    { point: STREAMING_SYNC.dirCreate, expect: /gone/ },
    { point: `${STREAMING_SYNC.topicsMeta}.file`, expect: /reopening threw|gone/ },
    { point: `${STREAMING_SYNC.topicsMeta}.dir`, expect: /acknowledged topic .* is gone/ },
    { point: `${STREAMING_SYNC.generationCurrent}.file`, expect: /reopening threw|gone/ },
    { point: `${STREAMING_SYNC.generationCurrent}.dir`, expect: /acknowledged|gone/ },
  ];
  for (const mutation of MUTATIONS) {
    it(`notices a skipped ${mutation.point} (mutation check)`, async () => {
      let caught: string | null = null;
      for (let seed = 1; seed <= 400 && !caught; seed++) caught = await trial(seed, [mutation.point]);
      console.log(`without ${mutation.point}: ${caught}`);
      expect(caught).toMatch(mutation.expect);
    }, 300_000);
  }
});

// An idempotent producer's retry of an acks=all batch, on a second connection, while the first
// copy is still on its way to disk (a client that timed out and reconnected): the broker
// recognises the retry as a duplicate of the batch it is writing and must not answer it before
// that batch is durable. The first copy's fdatasync is held; the retry must wait for it; once
// released, both are answered at one offset, and a power cut then keeps the batch. (Without the
// Log.sync() a duplicate acks=all answer waits for, the retry is answered while the first copy
// is not on disk: seen failing.)

/** `inner`, with every file's fdatasync/fsync waiting while `gate.held` is set. */
function gatedFileSystem(inner: FileSystem, gate: { held: Promise<void> | null }): FileSystem {
  const gated = (handle: FileHandle): FileHandle =>
    new Proxy(handle, {
      get(target, prop) {
        const value = Reflect.get(target, prop);
        if (prop === 'datasync' || prop === 'sync')
          return async (point: SyncPoint) => {
            while (gate.held) await gate.held;
            return value.call(target, point);
          };
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  return new Proxy(inner, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (prop === 'open') return async (...args: unknown[]) => gated(await value.apply(target, args));
      if (prop === 'openSync') return (...args: unknown[]) => gated(value.apply(target, args));
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('an acks=all retry racing its first copy (second connection)', () => {
  it('is answered only once the first copy is durable', async () => {
    const fs = new FaultFileSystem({ seed: 1 });
    const gate: { held: Promise<void> | null } = { held: null };
    const broker = await openBroker(gatedFileSystem(fs, gate));
    await broker.createTopic(LOG_TOPIC, 1, {});
    const batch = encodeBatch({
      baseOffset: 0,
      producerId: 7,
      producerEpoch: 0,
      baseSequence: 0,
      records: [
        {
          offset: 0,
          timestamp: 1_700_000_000_000,
          key: te.encode('k'),
          value: te.encode('once'),
          headers: [],
        },
      ],
    });
    const send = () =>
      handleProduce(broker, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 30_000,
        topics: [{ name: LOG_TOPIC, partitions: [{ index: 0, records: batch }] }],
      }).then((r) => r!.topics[0]!.partitions[0]!);
    let release = () => {};
    gate.held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const answered: string[] = [];
    const first = send().then((a) => {
      answered.push('first');
      return a;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const retry = send().then((a) => {
      answered.push('retry');
      return a;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(answered, 'answered while the first copy was not yet on disk').toEqual([]);
    gate.held = null;
    release();
    const [a, b] = await Promise.all([first, retry]);
    expect([a.errorCode, b.errorCode]).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
    expect(b.baseOffset).toBe(a.baseOffset);
    const after = fs.crash();
    await broker.close().catch(() => {});
    const reopened = await openBroker(after);
    try {
      const held = (await readPartition(reopened, LOG_TOPIC, 0)).flat();
      expect(held.map((r) => [r.offset, r.value])).toEqual([[a.baseOffset, 'once']]);
    } finally {
      await reopened.close();
    }
  });
});
