// Committed offsets in a cluster: records of the internal compacted topic __consumer_offsets,
// replicated like any partition (leader, ISR, acks=all), as Kafka does. A group's coordinator
// is the leader of the offsets partition its id hashes to; when that partition fails over, the
// new leader reads the partition (COORDINATOR_LOAD_IN_PROGRESS meanwhile) and becomes the
// coordinator, and FindCoordinator points clients at it. Each group's stable generation
// (protocol, leader, members, assignments) is a record of the same partition, written before
// SyncGroup answers: the new coordinator loads it and the members carry on in their generation
// (a member that does not come back expires and the group rebalances into the next one).
// A deleted topic's offsets become tombstones, answered only once the ISR has them.
import type { Broker } from '../broker/broker.js';
import { decompress } from '../broker/compression.js';
import type { CommittedOffsets } from '../broker/coordinator.js';
import type { CommittedOffset } from '../broker/offset-store.js';
import {
  type Record as BatchRecord,
  decodeGroupEntry,
  decodeOffsetEntry,
  decodeRecords,
  ErrorCode,
  encodeBatch,
  encodeGroupEntry,
  encodeOffsetEntry,
  type GroupSnapshot,
  lastOffset,
  OFFSETS_TOPIC,
  OFFSETS_TOPIC_CONFIGS,
  OFFSETS_TOPIC_PARTITIONS,
  type OffsetEntry,
  offsetsPartitionFor,
  readBatchHeader,
  splitBatches,
} from '../core/index.js';
import type { Replication } from './replication.js';

/** How long a commit waits for the offsets partition's ISR (Kafka's offsets.commit.timeout.ms). */
const COMMIT_TIMEOUT_MS = 5000;
/** How long a deleted topic's tombstones may wait for the ISR: long enough for a dead follower
 *  to be dropped from it (replica.lag.time.max.ms, then the metadata change). */
export const TOMBSTONES_TIMEOUT_MS = 15_000;
/** Bytes read per step while loading an offsets partition. */
const LOAD_BYTES = 1024 * 1024;

type GroupOffsets = Map<string, Map<string, CommittedOffset>>;

interface Loaded {
  /** The leader epoch this broker loaded the partition in. */
  epoch: number;
  groups: GroupOffsets;
}

const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

function applyEntry(groups: GroupOffsets, e: OffsetEntry): void {
  let group = groups.get(e.group);
  if (!group) {
    group = new Map();
    groups.set(e.group, group);
  }
  if (e.value === null) group.delete(keyOf(e.topic, e.partition));
  else group.set(keyOf(e.topic, e.partition), e.value);
  if (group.size === 0) groups.delete(e.group);
}

export class ReplicatedOffsets implements CommittedOffsets {
  private readonly loaded = new Map<number, Loaded>();
  /** Offsets partition -> the epoch being loaded. */
  private readonly loading = new Map<number, number>();
  /** A deleted topic -> its tombstones' writes on this broker (their combined error code). */
  private readonly forgetting = new Map<string, Promise<number>>();

  constructor(
    private readonly broker: Broker,
    private readonly replication: Replication,
  ) {}

  partitionOf(groupId: string): number {
    return offsetsPartitionFor(groupId, OFFSETS_TOPIC_PARTITIONS);
  }

  /** FindCoordinator: the offsets partition's leader, creating the topic on first use (as Kafka). */
  async locate(groupId: string): Promise<{ errorCode: number; nodeId: number; host: string; port: number }> {
    const none = { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, nodeId: -1, host: '', port: -1 };
    let roles = this.replication.partitionRoles(OFFSETS_TOPIC);
    if (!roles) {
      await this.replication.createTopic(OFFSETS_TOPIC, OFFSETS_TOPIC_PARTITIONS, {
        ...OFFSETS_TOPIC_CONFIGS,
      });
      roles = this.replication.partitionRoles(OFFSETS_TOPIC);
    }
    const leader = roles?.[this.partitionOf(groupId)]?.leaderId ?? -1;
    const broker = this.replication.brokers().find((b) => b.nodeId === leader);
    return broker ? { errorCode: ErrorCode.NONE, ...broker } : none;
  }

  coordinatorError(groupId: string): number {
    const p = this.partitionOf(groupId);
    const leaderError = this.replication.leaderError(OFFSETS_TOPIC, p);
    if (leaderError !== ErrorCode.NONE) {
      if (this.loaded.has(p)) this.unload(p);
      return leaderError === ErrorCode.NOT_LEADER_OR_FOLLOWER
        ? ErrorCode.NOT_COORDINATOR
        : ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    const epoch = this.replication.leaderEpoch(OFFSETS_TOPIC, p);
    const have = this.loaded.get(p);
    if (have?.epoch === epoch) return ErrorCode.NONE;
    if (have) this.unload(p);
    if (this.loading.get(p) !== epoch) {
      this.loading.set(p, epoch);
      void this.load(p, epoch);
    }
    return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
  }

  private unload(p: number): void {
    this.loaded.delete(p);
    this.broker.coordinator.unloadGroups((groupId) => this.partitionOf(groupId) === p);
  }

  /** Reads the whole partition (all this leader has, committed or not: its log is the truth now). */
  private async load(p: number, epoch: number): Promise<void> {
    const log = this.broker.partition(OFFSETS_TOPIC, p);
    try {
      if (!log) return;
      const groups: GroupOffsets = new Map();
      const members = new Map<string, GroupSnapshot | null>();
      const end = log.writtenEndOffset;
      let at = log.logStartOffset;
      while (at < end) {
        const batches = await log.read(at, LOAD_BYTES, end);
        if (batches.length === 0) break;
        for (const bytes of batches) {
          const header = readBatchHeader(bytes);
          for (const record of decodeRecords({ header, bytes }, decompress)) {
            const entry = decodeOffsetEntry(record);
            if (entry) applyEntry(groups, entry);
            const group = decodeGroupEntry(record);
            if (group) members.set(group.group, group.snapshot);
          }
          at = lastOffset(header) + 1;
        }
      }
      if (this.loading.get(p) !== epoch || this.replication.leaderEpoch(OFFSETS_TOPIC, p) !== epoch) return;
      // A topic deleted while an earlier leader's tombstones had not reached this log.
      for (const [group, offsets] of groups) {
        for (const k of offsets.keys())
          if (!this.replication.metadata.topic(k.split('\u0000')[0]!)) offsets.delete(k);
        if (offsets.size === 0) groups.delete(group);
      }
      // What this broker held from an earlier term as coordinator is stale: the log's is current.
      this.unload(p);
      this.loaded.set(p, { epoch, groups });
      const stable = new Map<string, GroupSnapshot>();
      for (const [group, snapshot] of members) if (snapshot) stable.set(group, snapshot);
      this.broker.coordinator.restoreGroups(stable);
      this.broker.logger.info({ partition: p, epoch, groups: groups.size, end }, 'offsets partition loaded');
      this.broker.logger.info({ partition: p, groups: stable.size }, 'group generations restored');
    } catch (err) {
      this.broker.logger.warn({ partition: p, err: (err as Error).message }, 'loading offsets failed');
    } finally {
      if (this.loading.get(p) === epoch) this.loading.delete(p);
    }
  }

  async commit(
    group: string,
    entries: { topic: string; partition: number; offset: number; metadata: string | null }[],
    nowMs: number,
  ): Promise<number> {
    const refused = this.coordinatorError(group);
    if (refused !== ErrorCode.NONE || entries.length === 0) return refused;
    const p = this.partitionOf(group);
    const epoch = this.loaded.get(p)!.epoch;
    if (!this.replication.canAcceptAcksAll(OFFSETS_TOPIC, p)) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const written: OffsetEntry[] = entries.map((e) => ({
      group,
      topic: e.topic,
      partition: e.partition,
      value: { offset: e.offset, metadata: e.metadata, commitTimestampMs: nowMs },
    }));
    const errorCode = await this.append(
      p,
      epoch,
      written.map((e, i) => encodeOffsetEntry(e, i, nowMs)),
    );
    if (errorCode !== ErrorCode.NONE) return errorCode;
    const state = this.loaded.get(p);
    if (state?.epoch === epoch) for (const e of written) applyEntry(state.groups, e);
    return ErrorCode.NONE;
  }

  async storeGroup(groupId: string, snapshot: GroupSnapshot, nowMs: number): Promise<number> {
    const refused = this.coordinatorError(groupId);
    if (refused !== ErrorCode.NONE) return refused;
    const p = this.partitionOf(groupId);
    if (!this.replication.canAcceptAcksAll(OFFSETS_TOPIC, p)) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const record = encodeGroupEntry({ group: groupId, snapshot }, 0, nowMs);
    return this.append(p, this.loaded.get(p)!.epoch, [record]);
  }

  /**
   * Appends records to offsets partition `p` as its leader in `epoch`, fsync'd, and waits for
   * its ISR (acks=all). Errors as Kafka maps them for the coordinator's writes: a moved leader
   * is a moved coordinator; too few in sync, or no answer in time, is a coordinator not
   * available now (the client retries).
   */
  private async append(
    p: number,
    epoch: number,
    records: BatchRecord[],
    timeoutMs = COMMIT_TIMEOUT_MS,
  ): Promise<number> {
    const log = this.broker.partition(OFFSETS_TOPIC, p)!;
    const outcome = await log.append(splitBatches(encodeBatch({ baseOffset: 0, records })), true, epoch);
    const end = outcome.baseOffset + records.length;
    const errorCode = await this.replication.afterAppend(OFFSETS_TOPIC, p, end, -1, timeoutMs);
    if (errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER) return ErrorCode.NOT_COORDINATOR;
    if (errorCode !== ErrorCode.NONE) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    return ErrorCode.NONE;
  }

  get(group: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.loaded.get(this.partitionOf(group))?.groups.get(group)?.get(keyOf(topic, partition));
  }

  partitionsOf(group: string): { topic: string; partition: number; committed: CommittedOffset }[] {
    const out: { topic: string; partition: number; committed: CommittedOffset }[] = [];
    for (const [key, committed] of this.loaded.get(this.partitionOf(group))?.groups.get(group) ?? []) {
      const [topic, partition] = key.split('\u0000') as [string, string];
      out.push({ topic, partition: Number(partition), committed });
    }
    return out;
  }

  groups(): string[] {
    return [...this.loaded.values()].flatMap((l) => [...l.groups.keys()]);
  }

  /**
   * A deleted topic's offsets: forgotten here, and tombstones appended to each offsets partition
   * this broker leads. This runs while the metadata log applies the deletion, which must not
   * wait on replication (ISR changes go through that log), so the writes go on in the
   * background and `forgotten` waits for them: DeleteTopics answers after it, on every broker
   * that leads an offsets partition. A leader that dies before its tombstones replicate leaves
   * the offsets in the next leader's log; that leader drops them on loading (the topic is gone).
   */
  forgetTopic(topic: string, nowMs: number): Promise<void> {
    const writes: Promise<number>[] = [];
    for (const [p, state] of this.loaded) {
      const tombstones: OffsetEntry[] = [];
      for (const [group, offsets] of state.groups)
        for (const key of offsets.keys())
          if (key.startsWith(`${topic}\u0000`))
            tombstones.push({ group, topic, partition: Number(key.split('\u0000')[1]), value: null });
      if (tombstones.length === 0) continue;
      for (const t of tombstones) applyEntry(state.groups, t);
      if (this.replication.leaderEpoch(OFFSETS_TOPIC, p) !== state.epoch) continue;
      const records = tombstones.map((e, i) => encodeOffsetEntry(e, i, nowMs));
      writes.push(
        this.append(p, state.epoch, records, TOMBSTONES_TIMEOUT_MS).catch((err) => {
          this.broker.logger.warn({ partition: p, err: (err as Error).message }, 'offset tombstones failed');
          return ErrorCode.COORDINATOR_NOT_AVAILABLE;
        }),
      );
    }
    this.forgetting.set(
      topic,
      Promise.all(writes).then((codes) => codes.find((c) => c !== ErrorCode.NONE) ?? ErrorCode.NONE),
    );
    return Promise.resolve();
  }

  /** Once this broker's tombstones for a deleted topic are in its ISR: their error code. */
  forgotten(topic: string): Promise<number> {
    return this.forgetting.get(topic) ?? Promise.resolve(ErrorCode.NONE);
  }
}
