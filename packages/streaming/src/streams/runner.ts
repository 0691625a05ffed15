// Runs a topology (core/streams/topology.ts) over kafkajs: a consumer group named after the
// application reads the source topics; each fetched batch goes through the pure Processor;
// then, in this order:
//   1. the outputs are produced (idempotent producer, acks=all), each with a header naming the
//      input record it came from (topic:partition:offset:index);
//   2. the state changes, together with the input offsets they reflect and the stream time,
//      are appended to the application's changelog topic as ONE produce request to ONE
//      partition: one record batch, written atomically — the commit point;
//   3. the consumer offsets are committed (only a shortcut: the changelog is authoritative).
// A crash before 2 redoes the batch: state never counts a record twice (the offsets travel
// with the state), outputs may repeat and the IdempotentSink drops the repeats by position.
// That is "effectively once" without broker transactions (Kafka Streams uses transactions
// for the same effect: processing.guarantee=exactly_once_v2).
//
// On start the state is rebuilt by reading the changelog from its start (a compacted topic,
// so its size is bounded by the number of keys, not the number of updates); with a local
// state store (`localState`, local-state.ts) from the store's checkpoint on, after loading it.
import type { Store } from '@ddia/common';
import type {
  Admin,
  Consumer,
  ConsumerConfig,
  EachBatchPayload,
  IHeaders,
  Kafka,
  Message,
  Producer,
} from 'kafkajs';
import {
  changelogKey,
  formatSource,
  type OutputRecord,
  type Processor,
  parseChangelogKey,
  parseSource,
  SOURCE_HEADER,
} from '../core/streams/index.js';
import { LocalStateStore } from './local-state.js';
import { readTopicToEnd } from './read-topic.js';

export interface Serde<V = unknown> {
  encode(value: V, topic: string): Buffer | Promise<Buffer>;
  decode(bytes: Buffer, topic: string): V | Promise<V>;
}

export const jsonSerde: Serde = {
  encode: (value) => Buffer.from(JSON.stringify(value)),
  decode: (bytes) => JSON.parse(bytes.toString('utf8')),
};

export type BatchStage = 'outputs-sent' | 'state-written';

export interface StreamAppOptions {
  kafka: Kafka;
  /** Names the consumer group and the changelog topic (`<id>-changelog`). */
  applicationId: string;
  processor: Processor;
  /** Per-topic value serdes (sources and sinks); JSON otherwise. */
  serdes?: Record<string, Serde>;
  /** Partitions of sink topics this app creates when they are missing. */
  sinkPartitions?: number;
  /** Partitions of the internal topics of `repartition()` (default: sinkPartitions, else 1). */
  repartitionPartitions?: number;
  /** Extra kafkajs consumer settings (e.g. a small maxBytesPerPartition for small batches). */
  consumer?: Omit<Partial<ConsumerConfig>, 'groupId'>;
  /**
   * A durable local copy of the state stores: an abstract-level database from common's
   * openStore (utf8 keys and values, the default), e.g. `{ engine: 'lsm', lsm: lsmEngine,
   * dataDir, name: '<applicationId>-state' }`. A restart loads it and reads only the changelog's
   * tail. Without one, every start reads the whole changelog.
   */
  localState?: Store;
  /** Test hook: called at each stage of a batch; throwing there is a crash at that point. */
  onStage?: (stage: BatchStage, batchNumber: number) => void;
}

export interface StreamAppStats {
  batches: number;
  records: number;
  duplicates: number;
  late: number;
  outputs: number;
  /** Changes read back from the changelog at start. */
  restoredChanges: number;
  /** Entries loaded from the local state store at start. */
  restoredLocal: number;
}

export class StreamApp {
  readonly stats: StreamAppStats = {
    batches: 0,
    records: 0,
    duplicates: 0,
    late: 0,
    outputs: 0,
    restoredChanges: 0,
    restoredLocal: 0,
  };
  /** Set when a batch failed: the app stops processing (a crashed instance). */
  failure: Error | null = null;
  private admin: Admin | null = null;
  private producer: Producer | null = null;
  private consumer: Consumer | null = null;
  private stopping: Promise<void> | null = null;
  private readonly changelog: string;
  private readonly local: LocalStateStore | null;

  constructor(readonly options: StreamAppOptions) {
    this.changelog = `${options.applicationId}-changelog`;
    this.local = options.localState ? new LocalStateStore(options.localState) : null;
  }

  get processor(): Processor {
    return this.options.processor;
  }

  /** Interactive query of a state store (the materialized view). */
  get<V>(store: string, key: string): V | undefined {
    return this.processor.stores.get<V>(store, key);
  }

  entries<V>(store: string): [string, V][] {
    return this.processor.stores.entries<V>(store);
  }

  private serde(topic: string): Serde {
    return this.options.serdes?.[topic] ?? jsonSerde;
  }

  async start(): Promise<void> {
    const { kafka, applicationId } = this.options;
    this.admin = kafka.admin();
    await this.admin.connect();
    const existing = new Set(await this.admin.listTopics());
    const wanted = [
      ...(existing.has(this.changelog)
        ? []
        : [
            {
              topic: this.changelog,
              numPartitions: 1,
              configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
            },
          ]),
      ...this.processor.sinkTopics
        .filter((t) => !existing.has(t))
        .map((topic) => ({
          topic,
          numPartitions: this.processor.repartitionTopics.includes(topic)
            ? (this.options.repartitionPartitions ?? this.options.sinkPartitions ?? 1)
            : (this.options.sinkPartitions ?? 1),
        })),
    ];
    if (wanted.length > 0) await this.admin.createTopics({ topics: wanted, waitForLeaders: true });
    await this.restore();
    // Every source partition holds stream time back until it has been read (see StreamTimeMode).
    for (const topic of this.processor.sourceTopics) {
      const partitions = await this.admin.fetchTopicOffsets(topic);
      this.processor.declarePartitions(
        topic,
        partitions.map((p) => p.partition),
      );
    }
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    this.consumer = kafka.consumer({
      maxWaitTimeInMs: 200,
      ...this.options.consumer,
      groupId: applicationId,
    });
    await this.consumer.connect();
    for (const topic of this.processor.sourceTopics)
      await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({ eachBatchAutoResolve: false, eachBatch: (payload) => this.onBatch(payload) });
  }

  /**
   * Rebuilds the state stores: the local store's entries (if any), then the changelog from the
   * local checkpoint (or its start) to its current end.
   */
  private async restore(): Promise<void> {
    const offsets = await this.admin!.fetchTopicOffsets(this.changelog);
    const end = Number(offsets[0]?.high ?? 0);
    let from = -1;
    if (this.local) {
      // A checkpoint at or past the changelog's end belongs to another changelog (the topic was
      // deleted and re-created): the local copy is stale, start over from the changelog.
      if ((await this.local.checkpoint()) >= end) await this.local.wipe();
      const loaded = await this.local.load(this.processor.stores);
      this.stats.restoredLocal = loaded.entries;
      from = loaded.checkpoint;
    }
    await readTopicToEnd(
      this.options.kafka,
      this.changelog,
      (m) => {
        if (Number(m.offset) <= from) return;
        const parsed = parseChangelogKey(m.key?.toString('utf8') ?? '');
        if (!parsed) return;
        this.processor.stores.restore({
          ...parsed,
          value: m.value === null ? undefined : JSON.parse(m.value.toString('utf8')),
        });
        this.stats.restoredChanges++;
      },
      { fromOffset: () => from + 1 },
    );
  }

  private async onBatch({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    if (this.failure) return;
    const outputs: OutputRecord[] = [];
    let last: string | null = null;
    try {
      for (const m of batch.messages) {
        if (!isRunning() || isStale()) break;
        const result = this.processor.process({
          topic: batch.topic,
          partition: batch.partition,
          offset: Number(m.offset),
          key: m.key === null ? null : m.key.toString('utf8'),
          value: m.value === null ? null : await this.serde(batch.topic).decode(m.value, batch.topic),
          timestamp: Number(m.timestamp),
          ...sourceOf(m.headers?.[SOURCE_HEADER]),
        });
        this.stats.records++;
        if (result.duplicate) this.stats.duplicates++;
        this.stats.late += result.late;
        outputs.push(...result.outputs);
        last = m.offset;
      }
      if (last === null) return;
      // Read to its end: an idle partition must not hold the other partitions' windows open.
      if (Number(last) + 1 >= Number(batch.highWatermark))
        this.processor.markIdle(batch.topic, batch.partition);
      const n = ++this.stats.batches;
      await this.sendOutputs(outputs);
      this.options.onStage?.('outputs-sent', n);
      await this.writeState();
      this.options.onStage?.('state-written', n);
      resolveOffset(last);
      await heartbeat();
    } catch (error) {
      // A failed batch leaves the in-memory state ahead of the changelog: this instance is
      // done (as if its process died here); a new one restores from the changelog and redoes
      // the batch. Nothing of this batch is resolved or committed. The consumer is stopped
      // once this callback has returned (disconnecting from inside it would wait for itself).
      this.failure = error as Error;
      setImmediate(() => void this.stop());
    }
  }

  private async sendOutputs(outputs: OutputRecord[]): Promise<void> {
    if (outputs.length === 0) return;
    const byTopic = new Map<string, Message[]>();
    for (const o of outputs) {
      const headers: IHeaders = { [SOURCE_HEADER]: formatSource(o.source) };
      const value = o.value === null ? null : await this.serde(o.topic).encode(o.value, o.topic);
      const list = byTopic.get(o.topic) ?? [];
      list.push({ key: o.key, value, headers, timestamp: String(o.timestamp) });
      byTopic.set(o.topic, list);
    }
    await this.producer!.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
    this.stats.outputs += outputs.length;
  }

  /**
   * State changes + offsets + stream time: one batch to the changelog's one partition (the
   * commit point), then the same changes and the changelog offset to the local store.
   */
  private async writeState(): Promise<void> {
    const changes = this.processor.stores.drainChanges();
    if (changes.length === 0) return;
    const [written] = await this.producer!.send({
      topic: this.changelog,
      acks: -1,
      messages: changes.map((c) => ({
        key: changelogKey(c.store, c.key),
        value: c.value === undefined ? null : JSON.stringify(c.value),
        partition: 0,
      })),
    });
    if (this.local) {
      const baseOffset = Number(written?.baseOffset ?? Number.NaN);
      if (!Number.isSafeInteger(baseOffset)) throw new Error('the changelog append returned no offset');
      await this.local.commit(changes, baseOffset + changes.length - 1);
    }
  }

  /** Input records not yet reflected in the state, over all source partitions. */
  async lag(): Promise<number> {
    let lag = 0;
    for (const topic of this.processor.sourceTopics) {
      for (const p of await this.admin!.fetchTopicOffsets(topic)) {
        lag += Math.max(0, Number(p.high) - 1 - this.processor.processedOffset(topic, p.partition));
      }
    }
    return lag;
  }

  /** Disconnects everything; idempotent (a failed instance stops itself). */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.consumer?.disconnect().catch(() => {});
      await this.producer?.disconnect().catch(() => {});
      await this.admin?.disconnect().catch(() => {});
    })();
    return this.stopping;
  }
}

/** The upstream position an output record carries in its header, for the processor. */
function sourceOf(header: Buffer | string | (Buffer | string)[] | undefined) {
  const raw = Array.isArray(header) ? header[0] : header;
  const source = raw === undefined ? null : parseSource(raw.toString());
  return source ? { source } : {};
}
