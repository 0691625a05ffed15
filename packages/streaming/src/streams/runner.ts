// Runs a topology (core/streams/topology.ts) over kafkajs: a consumer group named after the
// application reads the source topics. The work is split in TASKS, as in Kafka Streams: task p
// is partition p of every source topic, with its own Processor (its own state stores, processed
// offsets and stream time) and its own partition p of the changelog topic. Several instances of
// one application (same applicationId, any number of processes) share the tasks: the group's
// assignor (task-assigner.ts) gives each instance whole tasks, and when an instance leaves or
// dies the survivors get its tasks and restore each one's state from its changelog partition
// before processing it (restoreTasks below).
//
// Each fetched batch (one topic-partition, so one task) goes through that task's Processor;
// then, in this order:
//   1. the outputs are produced (idempotent producer, acks=all), each with a header naming the
//      input record it came from (topic:partition:offset:index);
//   2. the task's state changes, together with the input offsets they reflect and the stream
//      time, are appended to the task's changelog partition as ONE produce request: one record
//      batch, written atomically — the commit point;
//   3. the consumer offsets are committed (only a shortcut: the changelog is authoritative).
// A crash before 2 redoes the batch: state never counts a record twice (the offsets travel
// with the state), outputs may repeat and the IdempotentSink drops the repeats by position.
// That is "effectively once" without broker transactions (Kafka Streams uses transactions
// for the same effect: processing.guarantee=exactly_once_v2). A task moved to another
// instance is the same crash seen from the new owner: it restores the changelog partition
// and redoes whatever the old owner had not committed there.
//
// Handover is safe when the old owner is dead (kill -9) or stopped cleanly (kafkajs finishes the
// batch in flight before it rejoins the group). An instance paused past its session timeout (a
// GC pause, SIGSTOP) that wakes up in the middle of a batch is fenced by generation right before
// the commit point (onBatch's heartbeat); only a pause inside that last round trip could still
// append stale state to a changelog partition the new owner restored from. Kafka closes that
// window with transactional producer epochs; this broker has no transactions. An instance
// paused while idle notices nothing until it rejoins, maybe getting back tasks it still holds
// in memory while another owner moved them on: a kept task whose changelog partition grew past
// this instance's own appends is dropped and restored (dropAdvancedTasks).
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
import { taskAssigner } from './task-assigner.js';

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
  /** The topology; each task runs a fresh copy of it (`processor.fresh()`), this one stays empty. */
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
  /**
   * How the work is split: 'per-partition' (one task per input partition number, the default
   * when the topology allows it: `processor.partitionLocal`) or 'single' (one task holding every
   * partition: the default for a topology that aggregates or joins on keys it changed without a
   * repartition(), which would otherwise count one key in several tasks). Instances beyond the
   * number of tasks stand by: they get tasks when an owner leaves.
   */
  tasks?: 'per-partition' | 'single';
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
  /** Tasks restored (at start and when a rebalance moved tasks here). */
  restoredTasks: number;
  /** Batches dropped before their commit point because this member's generation was over. */
  fenced: number;
}

/** One task: partition `id` of every source topic, its state, its changelog partition `id`. */
interface Task {
  id: number;
  processor: Processor;
  local: LocalStateStore | null;
  /**
   * The changelog partition's end as this instance last knew it (after its restore, after its
   * own appends). An end further on means another instance owned the task meanwhile.
   */
  changelogEnd: number;
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
    restoredTasks: 0,
    fenced: 0,
  };
  /** Set when a batch failed: the app stops processing (a crashed instance). */
  failure: Error | null = null;
  private admin: Admin | null = null;
  private producer: Producer | null = null;
  private consumer: Consumer | null = null;
  private stopping: Promise<void> | null = null;
  private readonly changelog: string;
  /** The tasks this instance owns now, restored. */
  private readonly tasks = new Map<number, Task>();
  /** Source topic -> its partitions. */
  private readonly sourcePartitions = new Map<string, number[]>();
  /** The latest assignment's restore; a batch waits for it. */
  private assignmentReady: Promise<void> = Promise.resolve();

  /** One task per input partition, or a single one (StreamAppOptions.tasks). */
  readonly perPartition: boolean;

  constructor(readonly options: StreamAppOptions) {
    this.changelog = `${options.applicationId}-changelog`;
    const mode = options.tasks ?? (options.processor.partitionLocal ? 'per-partition' : 'single');
    if (mode === 'per-partition' && !options.processor.partitionLocal)
      throw new Error(
        'this topology aggregates or joins on keys it changed without repartition(): ' +
          "one task per partition would split a key's records; repartition first or use tasks: 'single'",
      );
    this.perPartition = mode === 'per-partition';
  }

  /** The task an input partition belongs to. */
  taskOf(partition: number): number {
    return this.perPartition ? partition : 0;
  }

  /** The topology (a template: the state lives in the tasks' copies). */
  get processor(): Processor {
    return this.options.processor;
  }

  /** The tasks (input partition numbers) this instance owns. */
  get ownedTasks(): number[] {
    return [...this.tasks.keys()].sort((a, b) => a - b);
  }

  /** Interactive query of a state store (the materialized view), over this instance's tasks. */
  get<V>(store: string, key: string): V | undefined {
    for (const task of this.tasks.values()) {
      const value = task.processor.stores.get<V>(store, key);
      if (value !== undefined) return value;
    }
    return undefined;
  }

  /** The entries of a store over this instance's tasks (each key lives in one task). */
  entries<V>(store: string): [string, V][] {
    return [...this.tasks.values()].flatMap((t) => t.processor.stores.entries<V>(store));
  }

  private serde(topic: string): Serde {
    return this.options.serdes?.[topic] ?? jsonSerde;
  }

  async start(): Promise<void> {
    const { kafka, applicationId } = this.options;
    this.admin = kafka.admin();
    await this.admin.connect();
    const existing = new Set(await this.admin.listTopics());
    const sinks = this.processor.sinkTopics
      .filter((t) => !existing.has(t))
      .map((topic) => ({
        topic,
        numPartitions: this.processor.repartitionTopics.includes(topic)
          ? (this.options.repartitionPartitions ?? this.options.sinkPartitions ?? 1)
          : (this.options.sinkPartitions ?? 1),
      }));
    if (sinks.length > 0) await this.admin.createTopics({ topics: sinks, waitForLeaders: true });
    for (const topic of this.processor.sourceTopics) {
      const partitions = await this.admin.fetchTopicOffsets(topic);
      this.sourcePartitions.set(
        topic,
        partitions.map((p) => p.partition),
      );
    }
    // One changelog partition per task: as many as the widest source topic has partitions.
    const taskCount = this.perPartition
      ? Math.max(1, ...[...this.sourcePartitions.values()].map((ps) => ps.length))
      : 1;
    if (!existing.has(this.changelog)) {
      await this.admin.createTopics({
        topics: [
          {
            topic: this.changelog,
            numPartitions: taskCount,
            configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
          },
        ],
        waitForLeaders: true,
      });
    } else {
      const have = (await this.admin.fetchTopicOffsets(this.changelog)).length;
      if (have < taskCount)
        throw new Error(
          `changelog topic '${this.changelog}' has ${have} partitions, the application has ${taskCount} tasks ` +
            '(a source topic grew: Kafka Streams refuses this too; reset the application)',
        );
    }
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    const consumer = kafka.consumer({
      maxWaitTimeInMs: 200,
      ...this.options.consumer,
      groupId: applicationId,
      partitionAssigners: [
        taskAssigner(
          () => this.ownedTasks,
          (p) => this.taskOf(p),
        ),
      ],
    });
    this.consumer = consumer;
    // Every (re)join: drop the tasks that went elsewhere, restore the ones that came here. The
    // fetchers are stopped while kafkajs rejoins, so no batch of a dropped task is in flight.
    // A task kept in memory is only still valid if nobody else owned it in between: a member
    // paused past its session timeout (while idle, so no batch noticed) misses the generations
    // in which another instance owned and advanced the task, and rejoins believing it still
    // holds it. Its changelog partition having grown past what this instance wrote tells.
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const owned = new Set(
        Object.values(payload.memberAssignment)
          .flat()
          .map((p) => this.taskOf(p)),
      );
      for (const id of [...this.tasks.keys()]) if (!owned.has(id)) this.tasks.delete(id);
      const previous = this.assignmentReady;
      this.assignmentReady = (async () => {
        await previous;
        await this.dropAdvancedTasks();
        await this.restoreTasks([...owned].filter((id) => !this.tasks.has(id)));
      })().catch((error: unknown) => this.fail(error as Error));
    });
    await consumer.connect();
    for (const topic of this.processor.sourceTopics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachBatchAutoResolve: false, eachBatch: (payload) => this.onBatch(payload) });
    // run() returns once the first join is done: the tasks it gave us are being restored.
    await this.assignmentReady;
    if (this.failure) throw this.failure;
  }

  /** Forgets the kept tasks whose changelog another instance appended to: they are restored. */
  private async dropAdvancedTasks(): Promise<void> {
    if (this.tasks.size === 0) return;
    const offsets = await this.admin!.fetchTopicOffsets(this.changelog);
    for (const [id, task] of this.tasks) {
      const end = Number(offsets.find((p) => p.partition === id)?.high ?? Number.NaN);
      if (end !== task.changelogEnd) this.tasks.delete(id);
    }
  }

  /**
   * Rebuilds the tasks' state stores: each task's local store entries (if any), then its
   * changelog partition from the local checkpoint (or its start) to its current end.
   */
  private async restoreTasks(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    const offsets = await this.admin!.fetchTopicOffsets(this.changelog);
    const restoring = new Map<number, { task: Task; from: number }>();
    for (const id of ids) {
      const processor = this.processor.fresh();
      // Every source partition of the task holds stream time back until it has been read.
      for (const [topic, partitions] of this.sourcePartitions)
        processor.declarePartitions(
          topic,
          partitions.filter((p) => this.taskOf(p) === id),
        );
      const local = this.options.localState ? new LocalStateStore(this.options.localState, id) : null;
      let from = -1;
      const end = Number(offsets.find((p) => p.partition === id)?.high ?? 0);
      if (local) {
        // A checkpoint at or past the changelog's end belongs to another changelog (the topic
        // was deleted and re-created): the local copy is stale, start over from the changelog.
        if ((await local.checkpoint()) >= end) await local.wipe();
        const loaded = await local.load(processor.stores);
        this.stats.restoredLocal += loaded.entries;
        from = loaded.checkpoint;
      }
      restoring.set(id, { task: { id, processor, local, changelogEnd: end }, from });
    }
    await readTopicToEnd(
      this.options.kafka,
      this.changelog,
      (m, partition) => {
        const r = restoring.get(partition);
        if (!r || Number(m.offset) <= r.from) return;
        const parsed = parseChangelogKey(m.key?.toString('utf8') ?? '');
        if (!parsed) return;
        r.task.processor.stores.restore({
          ...parsed,
          value: m.value === null ? undefined : JSON.parse(m.value.toString('utf8')),
        });
        this.stats.restoredChanges++;
      },
      { partitions: ids, fromOffset: (p) => (restoring.get(p)?.from ?? -1) + 1 },
    );
    for (const [id, { task }] of restoring) this.tasks.set(id, task);
    this.stats.restoredTasks += ids.length;
  }

  private fail(error: Error): void {
    // The in-memory state may be ahead of the changelog: this instance is done (as if its
    // process died here); the group gives its tasks to others, which restore them. Nothing
    // uncommitted is resolved. The consumer is stopped once the current callback has returned
    // (disconnecting from inside it would wait for itself).
    this.failure ??= error;
    setImmediate(() => void this.stop());
  }

  private async onBatch({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    if (this.failure) return;
    await this.assignmentReady;
    const task = this.tasks.get(this.taskOf(batch.partition));
    // Not ours (a batch fetched before a rebalance took the task away): not resolved, the
    // new owner reads it.
    if (!task || this.failure) return;
    const outputs: OutputRecord[] = [];
    let last: string | null = null;
    let rejoin: unknown = null;
    try {
      for (const m of batch.messages) {
        if (!isRunning() || isStale()) break;
        const result = task.processor.process({
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
        task.processor.markIdle(batch.topic, batch.partition);
      const n = ++this.stats.batches;
      await this.sendOutputs(outputs);
      this.options.onStage?.('outputs-sent', n);
      // Fencing before the commit point: a heartbeat (kafkajs sends one when the heartbeat
      // interval has passed, always the case after a pause past the session timeout) tells a
      // member whose generation is over. Its task may have moved: drop the task's in-memory
      // state without writing it, and let kafkajs rejoin; if the task comes back it is restored
      // from the changelog. Only a pause that falls between this check and the append below
      // still slips through (no transactions to fence it).
      try {
        await heartbeat();
      } catch (error) {
        if (!isGenerationOver(error)) throw error;
        this.tasks.delete(task.id);
        this.stats.fenced++;
        rejoin = error;
      }
      if (rejoin) return;
      await this.writeState(task);
      this.options.onStage?.('state-written', n);
      resolveOffset(last);
    } catch (error) {
      // A failed batch leaves the task's state ahead of its changelog: see fail().
      this.fail(error as Error);
      return;
    }
    if (rejoin) throw rejoin; // kafkajs rejoins the group; nothing of this batch was committed
    // Outside the batch's try: the batch is committed (changelog), and a rebalance error from
    // the heartbeat is kafkajs' business (it rejoins), not a failure of this instance.
    await heartbeat();
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
   * A task's state changes + offsets + stream time: one batch to its changelog partition (the
   * commit point), then the same changes and the changelog offset to the local store.
   */
  private async writeState(task: Task): Promise<void> {
    const changes = task.processor.stores.drainChanges();
    if (changes.length === 0) return;
    const [written] = await this.producer!.send({
      topic: this.changelog,
      acks: -1,
      messages: changes.map((c) => ({
        key: changelogKey(c.store, c.key),
        value: c.value === undefined ? null : JSON.stringify(c.value),
        partition: task.id,
      })),
    });
    const baseOffset = Number(written?.baseOffset ?? Number.NaN);
    // Unknown (NaN) makes the next rejoin restore the task: safe, only slower.
    task.changelogEnd = baseOffset + changes.length;
    if (task.local) {
      if (!Number.isSafeInteger(baseOffset)) throw new Error('the changelog append returned no offset');
      await task.local.commit(changes, baseOffset + changes.length - 1);
    }
  }

  /**
   * Input records not yet reflected in the state, over all source partitions: this instance's
   * tasks by their state, the others' by the group's committed offsets.
   */
  async lag(): Promise<number> {
    let lag = 0;
    const topics = this.processor.sourceTopics;
    const committed = await this.admin!.fetchOffsets({ groupId: this.options.applicationId, topics });
    for (const topic of topics) {
      for (const p of await this.admin!.fetchTopicOffsets(topic)) {
        const task = this.tasks.get(this.taskOf(p.partition));
        const processed = task
          ? task.processor.processedOffset(topic, p.partition)
          : Number(
              committed.find((c) => c.topic === topic)?.partitions.find((c) => c.partition === p.partition)
                ?.offset ?? -1,
            ) - 1;
        lag += Math.max(0, Number(p.high) - 1 - Math.max(-1, processed));
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

/** kafkajs errors that mean "this member's generation is over: rejoin". */
function isGenerationOver(error: unknown): boolean {
  const type = (error as { type?: string } | null)?.type;
  return type === 'REBALANCE_IN_PROGRESS' || type === 'ILLEGAL_GENERATION' || type === 'UNKNOWN_MEMBER_ID';
}

/** The upstream position an output record carries in its header, for the processor. */
function sourceOf(header: Buffer | string | (Buffer | string)[] | undefined) {
  const raw = Array.isArray(header) ? header[0] : header;
  const source = raw === undefined ? null : parseSource(raw.toString());
  return source ? { source } : {};
}
