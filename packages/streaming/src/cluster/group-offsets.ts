// Committed offsets in a cluster: records of the internal compacted topic __consumer_offsets,
// replicated like any partition (leader, ISR, acks=all), as Kafka does. A group's coordinator
// is the leader of the offsets partition its id hashes to; when that partition fails over, the
// new leader reads the partition (COORDINATOR_LOAD_IN_PROGRESS meanwhile) and becomes the
// coordinator, and FindCoordinator points clients at it. Group membership is not replicated
// (Kafka keeps it in the same topic): members of a moved group rejoin, and resume from the
// offsets committed there.
import type { Broker } from '../broker/broker.js';
import { decompress } from '../broker/compression.js';
import type { CommittedOffsets } from '../broker/coordinator.js';
import type { CommittedOffset } from '../broker/offset-store.js';
import {
  decodeOffsetEntry,
  decodeRecords,
  ErrorCode,
  encodeBatch,
  encodeOffsetEntry,
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
          }
          at = lastOffset(header) + 1;
        }
      }
      if (this.loading.get(p) !== epoch || this.replication.leaderEpoch(OFFSETS_TOPIC, p) !== epoch) return;
      // Membership held from an earlier term as coordinator is stale: its members rejoin.
      this.unload(p);
      this.loaded.set(p, { epoch, groups });
      this.broker.logger.info({ partition: p, epoch, groups: groups.size, end }, 'offsets partition loaded');
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
    const end = await this.append(p, epoch, written, nowMs, true);
    // As Kafka maps them for OffsetCommit: a moved leader is a moved coordinator; too few in
    // sync, or no answer in time, is a coordinator not available now (the client retries).
    const errorCode = await this.replication.afterAppend(OFFSETS_TOPIC, p, end, -1, COMMIT_TIMEOUT_MS);
    if (errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER) return ErrorCode.NOT_COORDINATOR;
    if (errorCode !== ErrorCode.NONE) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const state = this.loaded.get(p);
    if (state?.epoch === epoch) for (const e of written) applyEntry(state.groups, e);
    return ErrorCode.NONE;
  }

  /** Appends entries to offsets partition `p` as its leader in `epoch`; resolves with the end offset. */
  private async append(
    p: number,
    epoch: number,
    entries: OffsetEntry[],
    nowMs: number,
    sync: boolean,
  ): Promise<number> {
    const log = this.broker.partition(OFFSETS_TOPIC, p)!;
    const records = entries.map((e, i) => encodeOffsetEntry(e, i, nowMs));
    const outcome = await log.append(splitBatches(encodeBatch({ baseOffset: 0, records })), sync, epoch);
    return outcome.baseOffset + records.length;
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
   * this broker leads, without waiting for its ISR (this runs while the metadata log applies the
   * deletion, which must not wait on replication). A leader change before they replicate can
   * leave the old offsets in the new leader's log: a known gap, in the README's limits.
   */
  async forgetTopic(topic: string, nowMs: number): Promise<void> {
    for (const [p, state] of this.loaded) {
      const tombstones: OffsetEntry[] = [];
      for (const [group, offsets] of state.groups)
        for (const key of offsets.keys())
          if (key.startsWith(`${topic}\u0000`))
            tombstones.push({ group, topic, partition: Number(key.split('\u0000')[1]), value: null });
      if (tombstones.length === 0) continue;
      for (const t of tombstones) applyEntry(state.groups, t);
      if (this.replication.leaderEpoch(OFFSETS_TOPIC, p) !== state.epoch) continue;
      await this.append(p, state.epoch, tombstones, nowMs, false).catch((err) =>
        this.broker.logger.warn({ partition: p, err: (err as Error).message }, 'offset tombstones failed'),
      );
    }
  }
}
