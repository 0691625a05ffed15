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
// Mutation check: skipping one named sync point at a time, the same trials must fail.
// Replay one seed: DDIA_SEED=<seed> npx vitest run --project streaming broker-power-loss
// DDIA_LONG=1 runs twenty times as many seeds (1500).
import { LOG_SYNC, SeededRandom } from '@ddia/common';
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
  commits: { partition: number; offset: number; acked: boolean }[];
  producerIds: number[];
}

const openBroker = (fs: FaultFileSystem) =>
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
    const rounds = random.int(4, 14);
    let committed = 0;
    for (let round = 0; round < rounds && !fs.isCrashed; round++) {
      const pending: Promise<unknown>[] = [];
      for (let n = random.int(1, 5); n > 0; n--) {
        const compacted = random.chance(0.35);
        const issued: Issued = {
          topic: compacted ? COMPACT_TOPIC : LOG_TOPIC,
          partition: compacted ? 0 : random.int(0, LOG_PARTITIONS - 1),
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
      if (random.chance(0.4)) {
        const commit = { partition: random.int(0, LOG_PARTITIONS - 1), offset: ++committed, acked: false };
        out.commits.push(commit);
        pending.push(
          broker.coordinator.offsets
            .commit(
              GROUP,
              [{ topic: LOG_TOPIC, partition: commit.partition, offset: commit.offset, metadata: null }],
              0,
            )
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
    }
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

async function check(broker: Broker, out: Outcome): Promise<string | null> {
  for (const topic of out.topicsAcked) if (!broker.topic(topic)) return `acknowledged topic ${topic} is gone`;
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
  for (let p = 0; p < LOG_PARTITIONS; p++) {
    const mine = out.commits.filter((c) => c.partition === p);
    const ackedMax = Math.max(-1, ...mine.filter((c) => c.acked).map((c) => c.offset));
    const held = broker.coordinator.offsets.get(GROUP, LOG_TOPIC, p)?.offset ?? -1;
    if (held < ackedMax)
      return `committed offset of ${LOG_TOPIC}/${p} is ${held}, ${ackedMax} was acknowledged`;
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
  const empty = (): Outcome => ({ topicsAcked: [], produced: [], commits: [], producerIds: [] });
  const dry = fresh();
  await workload(dry, new SeededRandom(workloadSeed), empty());
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
    const problem = await check(broker, out);
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
  }, 300_000);

  // Each sync point the broker's files depend on, skipped alone: the trials must notice. What
  // each one's absence does (a run of this table) is in the README's power-loss section.
  // Not listed: LOG_SYNC.sync, the Log's timer and sync(): nothing acknowledged waits for it.
  const MUTATIONS = [
    { point: LOG_SYNC.appendSync, expect: /acks=all batch .* is gone|acknowledged \(acks=all\)/ },
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
