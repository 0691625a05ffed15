// The broker's state: topics and their partition logs, the group coordinator, producer ids,
// parked fetches, and the background retention and compaction. The request handlers in
// ./api/ read and change it; src/kafka/ speaks the wire protocol around them.
import { type FileSystem, nodeFileSystem } from '@ddia/common';
import type { Random, TimerClock } from '@ddia/common/core';
import { ensureDir } from '../log/files.js';
import type { PartitionLog } from '../log/partition-log.js';
import { PartitionLog as PartitionLogImpl } from '../log/partition-log.js';
import { decompress } from './compression.js';
import { GROUP_TICK_MS, GroupCoordinator } from './coordinator.js';
import { OffsetStore } from './offset-store.js';
import { type TopicConfigName, type TopicMeta, TopicStore } from './topics.js';

export interface BrokerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface BrokerDefaults {
  /** Kafka's message.max.bytes: the largest record batch accepted (default 1 MiB + 12). */
  messageMaxBytes: number;
  /** Kafka's auto.create.topics.enable: Metadata for an unknown topic creates it. */
  autoCreateTopics: boolean;
  /** num.partitions for topics created without a count. */
  partitions: number;
  retentionMs: number;
  retentionBytes: number;
  segmentBytes: number;
  deleteRetentionMs: number;
  cleanupPolicy: string;
  /** How often retention and compaction run (log.retention.check.interval.ms). */
  maintenanceIntervalMs: number;
}

export const MESSAGE_MAX_BYTES_DEFAULT = 1024 * 1024 + 12;
export const BROKER_DEFAULTS: BrokerDefaults = {
  messageMaxBytes: MESSAGE_MAX_BYTES_DEFAULT,
  autoCreateTopics: true,
  partitions: 1,
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  segmentBytes: 64 * 1024 * 1024,
  deleteRetentionMs: 24 * 3600 * 1000,
  cleanupPolicy: 'delete',
  maintenanceIntervalMs: 30_000,
};

export interface BrokerOptions {
  dataDir: string;
  nodeId: number;
  /** Host advertised in Metadata and FindCoordinator: where clients connect. */
  host: string;
  clock: TimerClock;
  random: Random;
  logger: BrokerLogger;
  defaults?: Partial<BrokerDefaults>;
  /** The file system of every partition and state file (default: the real one; tests pass a faulty one). */
  fs?: FileSystem;
  /**
   * Cluster mode (--peers): partitions' high watermarks are set by replication, producer ids
   * are unique across brokers, and `replication` answers who leads what.
   */
  replicated?: boolean;
  /** The committed-offsets log is compacted once it holds this many records (and 4x the live
   *  ones); default 1000. Tests lower it. */
  offsetsCompactRecordsMin?: number;
}

/** What the Kafka handlers ask the replication layer in cluster mode (src/cluster/). */
export interface ReplicationHooks {
  /** ErrorCode.NONE when this broker leads the partition now, else the error for a client. */
  leaderError(topic: string, partition: number): number;
  /** The epoch a leader's appends are stamped with (only asked when leaderError is NONE). */
  leaderEpoch(topic: string, partition: number): number;
  /** min.insync.replicas: whether acks=all may be taken now. */
  canAcceptAcksAll(topic: string, partition: number): boolean;
  /**
   * After a leader's append that ended at `endOffset` (exclusive): advances the high watermark
   * and, for acks=all, waits until the ISR has it. Resolves with the Kafka error code.
   */
  afterAppend(
    topic: string,
    partition: number,
    endOffset: number,
    acks: number,
    timeoutMs: number,
  ): Promise<number>;
  /** The metadata a Metadata response gives (brokers, controller, per-partition roles). */
  brokers(): { nodeId: number; host: string; port: number }[];
  controllerId(): number;
  topicNames(): string[];
  partitionRoles(topic: string):
    | {
        errorCode: number;
        leaderId: number;
        leaderEpoch: number;
        replicaNodes: number[];
        isrNodes: number[];
      }[]
    | null;
  /** Creates or deletes a topic on every broker (through the metadata log). */
  createTopic(name: string, partitions: number, configs: Record<string, string>): Promise<number>;
  deleteTopic(name: string): Promise<number>;
  /** How many brokers hold each partition. */
  replicationFactor(): number;
  /** FindCoordinator: the leader of the group's __consumer_offsets partition. */
  locateCoordinator(
    groupId: string,
  ): Promise<{ errorCode: number; nodeId: number; host: string; port: number }>;
}

export interface Topic {
  meta: TopicMeta;
  partitions: PartitionLog[];
}

/** A request parked until data arrives or its wait runs out (a Fetch). */
type Waiter = () => void;

export class Broker {
  readonly defaults: BrokerDefaults;
  /** The Kafka port clients reach, set once the TCP server listens. */
  port = 0;
  /** Set in cluster mode (src/cluster/replication.ts). */
  replication: ReplicationHooks | null = null;
  private readonly topicLogs = new Map<string, Topic>();
  private readonly waiters = new Set<Waiter>();
  private producerIds = { next: 0, end: 0 };
  private tickTimer: { cancel(): void } | null = null;
  private maintenanceTimer: { cancel(): void } | null = null;
  private closed = false;
  /** Admin changes (create, delete) run one at a time. */
  private adminChain: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly options: BrokerOptions,
    readonly topics: TopicStore,
    /** This broker's own offsets log: every group's offsets with a single broker (in a cluster
     *  the coordinator is given the replicated offsets topic instead). */
    readonly offsetStore: OffsetStore,
    readonly coordinator: GroupCoordinator,
  ) {
    this.defaults = { ...BROKER_DEFAULTS, ...options.defaults };
  }

  static async open(options: BrokerOptions): Promise<Broker> {
    const fs = options.fs ?? nodeFileSystem;
    await ensureDir(fs, options.dataDir);
    const topics = await TopicStore.open(options.dataDir, fs);
    const offsets = await OffsetStore.open(options.dataDir, fs, options.offsetsCompactRecordsMin);
    const broker = new Broker(
      options,
      topics,
      offsets,
      new GroupCoordinator(offsets, options.clock, options.random),
    );
    for (const meta of topics.list()) await broker.openTopic(meta);
    broker.scheduleTick();
    broker.scheduleMaintenance();
    return broker;
  }

  get nodeId(): number {
    return this.options.nodeId;
  }

  get clock(): TimerClock {
    return this.options.clock;
  }

  get logger(): BrokerLogger {
    return this.options.logger;
  }

  private async openTopic(meta: TopicMeta): Promise<Topic> {
    const partitions: PartitionLog[] = [];
    for (let p = 0; p < meta.partitions; p++) {
      const partition = await PartitionLogImpl.open({
        dir: this.topics.partitionDir(meta, p),
        segmentBytesMax: this.configNumber(meta, 'segment.bytes'),
        fs: this.options.fs,
        managedHighWatermark: this.options.replicated ?? false,
      });
      partition.onAdvance = () => this.wakeWaiters();
      partitions.push(partition);
    }
    const topic = { meta, partitions };
    this.topicLogs.set(meta.name, topic);
    return topic;
  }

  topic(name: string): Topic | undefined {
    return this.topicLogs.get(name);
  }

  partition(topic: string, index: number): PartitionLog | undefined {
    return this.topicLogs.get(topic)?.partitions[index];
  }

  allTopics(): Topic[] {
    return [...this.topicLogs.values()].sort((a, b) => a.meta.name.localeCompare(b.meta.name));
  }

  /** A topic config's value: the topic's own, else the broker default. */
  config(meta: TopicMeta, name: TopicConfigName): { value: string; fromTopic: boolean } {
    const own = meta.configs[name];
    if (own !== undefined) return { value: own, fromTopic: true };
    const d = this.defaults;
    const fallback: Record<TopicConfigName, string> = {
      'cleanup.policy': d.cleanupPolicy,
      'retention.ms': String(d.retentionMs),
      'retention.bytes': String(d.retentionBytes),
      'segment.bytes': String(d.segmentBytes),
      'delete.retention.ms': String(d.deleteRetentionMs),
      'max.message.bytes': String(d.messageMaxBytes),
    };
    return { value: fallback[name], fromTopic: false };
  }

  configNumber(meta: TopicMeta, name: TopicConfigName): number {
    return Number(this.config(meta, name).value);
  }

  /** Creates a topic (already validated), serialised with other admin changes. */
  createTopic(name: string, partitions: number, configs: TopicMeta['configs']): Promise<Topic> {
    return this.admin(async () => {
      const existing = this.topicLogs.get(name);
      if (existing) return existing;
      const meta = await this.topics.create(name, partitions, configs);
      this.logger.info({ topic: name, partitions }, 'topic created');
      return this.openTopic(meta);
    });
  }

  deleteTopic(name: string): Promise<boolean> {
    return this.admin(async () => {
      const topic = this.topicLogs.get(name);
      if (!topic) return false;
      this.topicLogs.delete(name);
      for (const p of topic.partitions) await p.close();
      // The groups' offsets go first: a crash between the two steps then leaves the topic with
      // no committed offsets (the delete was not answered; a retry finishes it), never a
      // deleted topic whose offsets a new topic of the same name would inherit.
      await this.coordinator.offsets.forgetTopic(name, this.clock.wallMs());
      await this.topics.delete(topic.meta);
      this.logger.info({ topic: name }, 'topic deleted');
      this.wakeWaiters();
      return true;
    });
  }

  private admin<T>(change: () => Promise<T>): Promise<T> {
    const run = this.adminChain.then(change);
    this.adminChain = run.catch(() => {});
    return run;
  }

  async nextProducerId(): Promise<number> {
    if (this.producerIds.next >= this.producerIds.end) {
      const block = await this.topics.reserveProducerIds();
      this.producerIds = { next: block.first, end: block.end };
    }
    const id = this.producerIds.next++;
    // Every broker hands out producer ids: interleaved by node id they never collide.
    return this.options.replicated ? id * 1024 + this.nodeId : id;
  }

  /**
   * Parks a request (a long-polling Fetch, a follower's fetch, an acks=all Produce): each time a
   * partition moves, `check` runs; resolves with its first non-null answer, or null after
   * `waitMs`. The caller checks once before parking.
   */
  waitUntil<T>(check: () => T | null, waitMs: number): Promise<T | null> {
    return new Promise<T | null>((resolve) => {
      const finish = (answer: T | null) => {
        if (!this.waiters.delete(wake)) return;
        timer.cancel();
        resolve(answer);
      };
      const wake: Waiter = () => {
        const answer = check();
        if (answer !== null) finish(answer);
      };
      this.waiters.add(wake);
      const timer = this.clock.setTimeout(() => finish(null), waitMs);
    });
  }

  wakeWaiters(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private scheduleTick(): void {
    if (this.closed) return;
    this.tickTimer = this.clock.setTimeout(() => {
      this.coordinator.tick();
      this.scheduleTick();
    }, GROUP_TICK_MS);
  }

  private scheduleMaintenance(): void {
    if (this.closed) return;
    this.maintenanceTimer = this.clock.setTimeout(() => {
      this.maintain()
        .catch((err) => this.logger.error({ err }, 'log maintenance failed'))
        .finally(() => this.scheduleMaintenance());
    }, this.defaults.maintenanceIntervalMs);
  }

  /** Retention for 'delete' topics, compaction for 'compact' ones (both for 'compact,delete'). */
  async maintain(): Promise<void> {
    for (const topic of this.allTopics()) {
      const policy = this.config(topic.meta, 'cleanup.policy').value;
      if (policy.includes('delete')) await this.applyRetention(topic);
      if (policy.includes('compact')) await this.compactTopic(topic);
    }
  }

  async applyRetention(topic: Topic): Promise<number> {
    let dropped = 0;
    const retentionMs = this.configNumber(topic.meta, 'retention.ms');
    const retentionBytes = this.configNumber(topic.meta, 'retention.bytes');
    for (const p of topic.partitions)
      dropped += await p.applyRetention(this.clock.wallMs(), retentionMs, retentionBytes);
    if (dropped > 0)
      this.logger.info({ topic: topic.meta.name, batches: dropped }, 'retention dropped batches');
    return dropped;
  }

  async compactTopic(topic: Topic): Promise<{ bytesBefore: number; bytesAfter: number }> {
    let bytesBefore = 0;
    let bytesAfter = 0;
    const cutoff = this.clock.wallMs() - this.configNumber(topic.meta, 'delete.retention.ms');
    for (const p of topic.partitions) {
      const stats = await p.compact(decompress, cutoff);
      bytesBefore += stats.bytesBefore;
      bytesAfter += stats.bytesAfter;
    }
    this.logger.info({ topic: topic.meta.name, bytesBefore, bytesAfter }, 'compacted');
    return { bytesBefore, bytesAfter };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.tickTimer?.cancel();
    this.maintenanceTimer?.cancel();
    this.wakeWaiters();
    await this.adminChain;
    for (const topic of this.topicLogs.values()) for (const p of topic.partitions) await p.close();
    await this.offsetStore.close();
  }
}
