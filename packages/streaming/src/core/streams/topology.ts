// A small Kafka-Streams-like DSL (DDIA ch. 11 "Processing Streams"): a topology of operators
// built once, then fed records one at a time. Pure: `Processor.process` takes a decoded record
// and returns the records to produce; the keyed state lives in StateStores, whose changes the
// runner (src/streams/runner.ts) appends to a changelog topic together with the input offsets
// they reflect, so state and progress are saved in one atomic append.
//
//   const b = new StreamBuilder();
//   b.stream<Click>('clicks')
//     .filter((v) => v.kind === 'view')
//     .selectKey((v) => v.page)
//     .groupByKey()
//     .windowedBy(tumbling(60_000, { graceMs: 5_000 }))
//     .count('views-per-minute', { emit: 'final' })
//     .to('page-views');
//
// Time is event time: each record's timestamp (or `timestamp(value)` given to `stream`).
// Stream time is the largest timestamp seen; a window closes when stream time passes its end
// plus grace; late records are dropped and counted.

import { type JoinKind, streamJoinNodes } from './join.js';
import { StateStores } from './state.js';
import {
  isClosed,
  type JoinWindowSpec,
  mergeSessions,
  type Session,
  type TimeWindowSpec,
  type WindowSpec,
  windowsFor,
} from './windows.js';

export interface StreamRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: unknown;
  /** Event time, ms. */
  timestamp: number;
  /** For a record of a repartition topic: the upstream record it came from (its header). */
  source?: SourcePosition;
}

/** Where an output came from: the input record and the output's index among its outputs. */
export interface SourcePosition {
  topic: string;
  partition: number;
  offset: number;
  index: number;
}

export interface OutputRecord {
  topic: string;
  key: string | null;
  /** null: a tombstone (e.g. a session merged away). */
  value: unknown;
  timestamp: number;
  source: SourcePosition;
}

export interface ProcessResult {
  outputs: OutputRecord[];
  /** Windows this record arrived too late for (each dropped). */
  late: number;
  /** The record was already reflected in the state (a redelivery after a crash): ignored. */
  duplicate: boolean;
}

/** A value in a windowed result. */
export interface Windowed<A> {
  key: string;
  start: number;
  end: number;
  value: A;
}

/** @internal A record flowing between operators. */
export interface Rec {
  key: string | null;
  value: unknown;
  timestamp: number;
}

/** @internal What an operator sees while one input record is processed. */
export interface Ctx {
  stores: StateStores;
  streamTime: number;
  outputs: OutputRecord[];
  source: StreamRecord;
  late: number;
}

/** @internal An operator: takes a record, emits to its children. */
export type Node = (ctx: Ctx, rec: Rec) => void;

export const META_STORE = '__meta';
export const OFFSETS_STORE = '__offsets';
/** Per (repartition partition, upstream partition), the last upstream position applied. */
export const REPARTITION_SEEN_STORE = '__repartition';
/** Per source partition (`topic:partition`), the largest event time seen in it. */
export const PARTITION_TIME_STORE = '__time';

/**
 * How stream time (the watermark that closes windows and judges lateness) follows the input:
 * - 'per-partition' (the default): the smallest of the source partitions' own times (each the
 *   largest event time seen in that partition), never moving back. A partition that lags —
 *   a slow producer, a backlog still being read — holds windows open instead of having its
 *   records called late because another partition ran ahead (Flink's watermark: the minimum
 *   over its inputs; Kafka Streams keeps one stream time per partition's task). Partitions
 *   declared but not yet seen count as minus infinity; a partition read to its end (idle) is
 *   left out until its next record, or an idle input would stall every window.
 * - 'max': the largest event time seen in any partition (one global stream time). Simple, and
 *   right for one partition; with several, a partition ahead closes the others' windows.
 */
export type StreamTimeMode = 'per-partition' | 'max';

export interface BuildOptions {
  streamTime?: StreamTimeMode;
}

function fanOut(children: Node[]): Node {
  return (ctx, rec) => {
    for (const child of children) child(ctx, rec);
  };
}

/** Builds a topology; `build()` freezes it into a Processor. */
export class StreamBuilder {
  /** @internal source topic -> roots fed by it. */
  readonly sources = new Map<string, { roots: Node[]; timestamp?: (value: unknown) => number }>();
  /** @internal */
  readonly storeNames = new Set<string>();
  /** @internal topics written by `to`. */
  readonly sinks = new Set<string>();
  /** @internal internal topics written and read back by `repartition`. */
  readonly repartitions = new Set<string>();
  /** @internal windowed stores, for closing windows as stream time moves. */
  readonly closers: ((ctx: Ctx) => void)[] = [];
  /**
   * @internal Set when a stateful operator (an aggregation, a join) works on keys that an
   * operator changed (selectKey, flatMap) without a repartition() in between: its records of
   * one key may sit in several input partitions, so one task per input partition would count
   * a key in several places (Kafka Streams inserts a repartition topic there by itself).
   */
  rekeyedState = false;

  stream<V>(topic: string, options: { timestamp?: (value: V) => number } = {}): KStream<V> {
    const source = this.sourceOf(topic);
    if (options.timestamp) source.timestamp = options.timestamp as (value: unknown) => number;
    return new KStream<V>(this, (node) => source.roots.push(node));
  }

  /** A table: the latest value per key of a topic (null value deletes), kept in `storeName`. */
  table<V>(topic: string, storeName: string): KTable<V> {
    this.claimStore(storeName);
    const source = this.sourceOf(topic);
    const children: Node[] = [];
    source.roots.push((ctx, rec) => {
      if (rec.key === null) return;
      if (rec.value === null || rec.value === undefined) ctx.stores.delete(storeName, rec.key);
      else ctx.stores.put(storeName, rec.key, rec.value);
      fanOut(children)(ctx, rec);
    });
    return new KTable<V>(this, storeName, (node) => children.push(node));
  }

  private sourceOf(topic: string): { roots: Node[]; timestamp?: (value: unknown) => number } {
    let source = this.sources.get(topic);
    if (!source) {
      source = { roots: [] };
      this.sources.set(topic, source);
    }
    return source;
  }

  /** @internal */
  claimStore(name: string): void {
    if (name.length === 0 || name.includes('\u0000') || name.startsWith('__'))
      throw new Error(`invalid store name '${name}'`);
    if (this.storeNames.has(name)) throw new Error(`store '${name}' is defined twice`);
    this.storeNames.add(name);
  }

  build(options: BuildOptions = {}): Processor {
    return new Processor(this, options.streamTime ?? 'per-partition');
  }
}

export class KStream<V> {
  constructor(
    private readonly builder: StreamBuilder,
    /** @internal adds an operator fed by this stream. */
    readonly attach: (node: Node) => void,
    /** @internal an operator upstream changed the keys (no repartition since). */
    readonly rekeyed = false,
  ) {}

  private chain<W>(make: (emit: (ctx: Ctx, rec: Rec) => void) => Node, rekeys = false): KStream<W> {
    const children: Node[] = [];
    this.attach(make(fanOut(children)));
    return new KStream<W>(this.builder, (node) => children.push(node), this.rekeyed || rekeys);
  }

  filter(predicate: (value: V, key: string | null) => boolean): KStream<V> {
    return this.chain((emit) => (ctx, rec) => {
      if (predicate(rec.value as V, rec.key)) emit(ctx, rec);
    });
  }

  /** New value, same key. */
  map<W>(fn: (value: V, key: string | null) => W): KStream<W> {
    return this.chain((emit) => (ctx, rec) => emit(ctx, { ...rec, value: fn(rec.value as V, rec.key) }));
  }

  /** New key (repartitioning by it is the runner's job: outputs are keyed). */
  selectKey(fn: (value: V, key: string | null) => string | null): KStream<V> {
    return this.chain((emit) => (ctx, rec) => emit(ctx, { ...rec, key: fn(rec.value as V, rec.key) }), true);
  }

  flatMap<W>(fn: (value: V, key: string | null) => [string | null, W][]): KStream<W> {
    return this.chain(
      (emit) => (ctx, rec) => {
        for (const [key, value] of fn(rec.value as V, rec.key)) emit(ctx, { ...rec, key, value });
      },
      true,
    );
  }

  peek(fn: (value: V, key: string | null) => void): KStream<V> {
    return this.chain((emit) => (ctx, rec) => {
      fn(rec.value as V, rec.key);
      emit(ctx, rec);
    });
  }

  /** Writes every record to `topic`. */
  to(topic: string): void {
    this.builder.sinks.add(topic);
    this.attach((ctx, rec) => emitOutput(ctx, topic, rec.key, rec.value, rec.timestamp));
  }

  /**
   * Moves the stream onto its current key: writes every record to the internal topic `topic`
   * (the producer partitions by key) and goes on from the records read back from it (Kafka
   * Streams' `repartition()`, DDIA's re-partitioning by a new key before a join or an
   * aggregation). After it, a key's records all sit in one partition of `topic`, so whichever
   * instance owns that partition sees all of them. A batch redone after a crash writes its
   * records to `topic` again: they come back with the upstream position they carry, and one
   * already applied is skipped (a `duplicate`), so the aggregation downstream counts it once.
   */
  repartition(topic: string): KStream<V> {
    if (this.builder.sources.has(topic)) throw new Error(`topic '${topic}' is read already`);
    this.builder.repartitions.add(topic);
    this.to(topic);
    return this.builder.stream<V>(topic);
  }

  /**
   * Stream-table join: each stream record looks up the table's current value for its key
   * (DDIA's "stream-table join (stream enrichment)"). Inner join drops records without a
   * match; `left: true` passes null instead.
   */
  join<T, R>(
    table: KTable<T>,
    joiner: (value: V, row: T, key: string) => R,
    options: { left?: boolean } = {},
  ): KStream<R> {
    if (this.rekeyed) this.builder.rekeyedState = true;
    return this.chain((emit) => (ctx, rec) => {
      if (rec.key === null) return;
      const row = ctx.stores.get<T>(table.storeName, rec.key);
      if (row === undefined && !options.left) return;
      emit(ctx, { ...rec, value: joiner(rec.value as V, (row ?? null) as T, rec.key) });
    });
  }

  /**
   * Windowed stream-stream join (core/streams/join.ts): records of both streams with the same
   * key and timestamps within the join windows are paired, each pair once. `kind` 'left' and
   * 'outer' also emit records that found no partner (null for the other side) once no partner
   * can arrive any more. Buffers live in the stores `<name>-left` and `<name>-right`.
   */
  joinStream<W, R>(
    other: KStream<W>,
    joiner: (left: V, right: W, key: string) => R,
    windows: JoinWindowSpec,
    options: { name: string; kind?: 'inner' },
  ): KStream<R>;
  joinStream<W, R>(
    other: KStream<W>,
    joiner: (left: V, right: W | null, key: string) => R,
    windows: JoinWindowSpec,
    options: { name: string; kind: 'left' },
  ): KStream<R>;
  joinStream<W, R>(
    other: KStream<W>,
    joiner: (left: V | null, right: W | null, key: string) => R,
    windows: JoinWindowSpec,
    options: { name: string; kind: 'outer' },
  ): KStream<R>;
  joinStream<W, R>(
    other: KStream<W>,
    joiner: (left: V, right: W, key: string) => R,
    windows: JoinWindowSpec,
    options: { name: string; kind?: JoinKind },
  ): KStream<R> {
    if (this.rekeyed || other.rekeyed) this.builder.rekeyedState = true;
    this.builder.claimStore(`${options.name}-left`);
    this.builder.claimStore(`${options.name}-right`);
    const children: Node[] = [];
    const nodes = streamJoinNodes(
      options.name,
      windows,
      options.kind ?? 'inner',
      joiner as (l: unknown, r: unknown, key: string) => unknown,
      fanOut(children),
    );
    this.attach(nodes.left);
    other.attach(nodes.right);
    this.builder.closers.push(nodes.closer);
    return new KStream<R>(this.builder, (node) => children.push(node));
  }

  groupByKey(): KGroupedStream<V> {
    if (this.rekeyed) this.builder.rekeyedState = true;
    return new KGroupedStream<V>(this.builder, this.attach);
  }
}

export class KGroupedStream<V> {
  constructor(
    private readonly builder: StreamBuilder,
    private readonly attach: (node: Node) => void,
  ) {}

  aggregate<A>(storeName: string, init: () => A, add: (agg: A, value: V, key: string) => A): KTable<A> {
    this.builder.claimStore(storeName);
    const children: Node[] = [];
    this.attach((ctx, rec) => {
      if (rec.key === null) return;
      const before = ctx.stores.get<A>(storeName, rec.key);
      const after = add(before === undefined ? init() : before, rec.value as V, rec.key);
      ctx.stores.put(storeName, rec.key, after);
      fanOut(children)(ctx, { ...rec, value: after });
    });
    return new KTable<A>(this.builder, storeName, (node) => children.push(node));
  }

  count(storeName: string): KTable<number> {
    return this.aggregate(
      storeName,
      () => 0,
      (n) => n + 1,
    );
  }

  reduce(storeName: string, fn: (a: V, b: V) => V): KTable<V> {
    return this.aggregate<V>(
      storeName,
      () => undefined as V,
      (agg, value) => (agg === undefined ? value : fn(agg, value)),
    );
  }

  windowedBy(spec: WindowSpec): KWindowedStream<V> {
    return new KWindowedStream<V>(this.builder, this.attach, spec);
  }
}

export interface WindowedOptions<A> {
  /** 'update' (default): every change is emitted; 'final': one result when the window closes. */
  emit?: 'update' | 'final';
  /** Sessions only: combines two sessions' aggregates when a record bridges them. */
  merge?: (a: A, b: A) => A;
}

/** Key of a windowed result in the output topic and the store: `<key>@<start>`. */
export function windowedKey(key: string, start: number): string {
  return `${key}@${start}`;
}

export class KWindowedStream<V> {
  constructor(
    private readonly builder: StreamBuilder,
    private readonly attach: (node: Node) => void,
    private readonly spec: WindowSpec,
  ) {}

  count(storeName: string, options: WindowedOptions<number> = {}): KStream<Windowed<number>> {
    return this.aggregate(
      storeName,
      () => 0,
      (n) => n + 1,
      { merge: (a, b) => a + b, ...options },
    );
  }

  aggregate<A>(
    storeName: string,
    init: () => A,
    add: (agg: A, value: V, key: string) => A,
    options: WindowedOptions<A> = {},
  ): KStream<Windowed<A>> {
    this.builder.claimStore(storeName);
    const children: Node[] = [];
    const emit = fanOut(children);
    const mode = options.emit ?? 'update';
    const spec = this.spec;
    // In-memory hint, rebuilt lazily after a restore: no open window closes before it.
    let nextCloseAt = Number.NEGATIVE_INFINITY;
    const out = (ctx: Ctx, key: string, w: { start: number; end: number }, value: A | null, ts: number) =>
      emit(ctx, {
        key: windowedKey(key, w.start),
        value: value === null ? null : ({ key, start: w.start, end: w.end, value } satisfies Windowed<A>),
        timestamp: ts,
      });

    if (spec.kind === 'session') {
      if (!options.merge) throw new Error(`session window '${storeName}' needs a merge function`);
      const merge = options.merge;
      this.attach((ctx, rec) => {
        if (rec.key === null) return;
        const ts = rec.timestamp;
        if (isClosed(spec, { start: ts, end: ts }, ctx.streamTime)) {
          ctx.late++;
          return;
        }
        const sessions = (ctx.stores.get<Session<A>[]>(storeName, rec.key) ?? []).filter(
          (s) => !isClosed(spec, s, ctx.streamTime),
        );
        const fresh = add(init(), rec.value as V, rec.key);
        const { merged, result, kept } = mergeSessions(spec, sessions, ts, fresh, merge);
        ctx.stores.put(storeName, rec.key, kept);
        nextCloseAt = Math.min(nextCloseAt, result.end + spec.gapMs + spec.graceMs);
        if (mode === 'update') {
          for (const m of merged) if (m.start !== result.start) out(ctx, rec.key, m, null, ts);
          out(ctx, rec.key, result, result.agg, ts);
        }
      });
      this.builder.closers.push((ctx) => {
        if (ctx.streamTime < nextCloseAt) return;
        nextCloseAt = Number.POSITIVE_INFINITY;
        for (const [key, sessions] of ctx.stores.entries<Session<A>[]>(storeName)) {
          const open: Session<A>[] = [];
          for (const s of sessions) {
            if (isClosed(spec, s, ctx.streamTime)) {
              if (mode === 'final') out(ctx, key, s, s.agg, s.end);
            } else {
              open.push(s);
              nextCloseAt = Math.min(nextCloseAt, s.end + spec.gapMs + spec.graceMs);
            }
          }
          if (open.length === 0) ctx.stores.delete(storeName, key);
          else if (open.length !== sessions.length) ctx.stores.put(storeName, key, open);
        }
      });
    } else {
      const timeSpec: TimeWindowSpec = spec;
      this.attach((ctx, rec) => {
        if (rec.key === null) return;
        let accepted = 0;
        for (const w of windowsFor(timeSpec, rec.timestamp)) {
          if (isClosed(timeSpec, w, ctx.streamTime)) continue;
          accepted++;
          const slot = windowedKey(rec.key, w.start);
          const before = ctx.stores.get<Windowed<A>>(storeName, slot);
          const value = add(before === undefined ? init() : before.value, rec.value as V, rec.key);
          ctx.stores.put(storeName, slot, { key: rec.key, start: w.start, end: w.end, value });
          nextCloseAt = Math.min(nextCloseAt, w.end + timeSpec.graceMs);
          if (mode === 'update') out(ctx, rec.key, w, value, rec.timestamp);
        }
        if (accepted === 0) ctx.late++;
      });
      this.builder.closers.push((ctx) => {
        if (ctx.streamTime < nextCloseAt) return;
        nextCloseAt = Number.POSITIVE_INFINITY;
        for (const [slot, w] of ctx.stores.entries<Windowed<A>>(storeName)) {
          if (isClosed(timeSpec, w, ctx.streamTime)) {
            if (mode === 'final') out(ctx, w.key, w, w.value, w.end - 1);
            ctx.stores.delete(storeName, slot);
          } else {
            nextCloseAt = Math.min(nextCloseAt, w.end + timeSpec.graceMs);
          }
        }
      });
    }
    return new KStream<Windowed<A>>(this.builder, (node) => children.push(node));
  }
}

export class KTable<V> {
  constructor(
    private readonly builder: StreamBuilder,
    readonly storeName: string,
    private readonly attach: (node: Node) => void,
  ) {}

  /** The table's changes as a stream (each update of a key). */
  toStream(): KStream<V> {
    return new KStream<V>(this.builder, this.attach);
  }
}

function emitOutput(ctx: Ctx, topic: string, key: string | null, value: unknown, timestamp: number): void {
  ctx.outputs.push({
    topic,
    key,
    value,
    timestamp,
    source: {
      topic: ctx.source.topic,
      partition: ctx.source.partition,
      offset: ctx.source.offset,
      index: ctx.outputs.length,
    },
  });
}

/** The built topology plus its state: feed it records with `process`. */
export class Processor {
  readonly stores = new StateStores();
  /** Source partitions announced by the runner: unseen ones hold stream time back. */
  private readonly declared = new Set<string>();
  /** Partitions read to their end: left out of the minimum until their next record. */
  private readonly idle = new Set<string>();

  constructor(
    private readonly builder: StreamBuilder,
    readonly streamTimeMode: StreamTimeMode = 'per-partition',
  ) {}

  /** A new processor of the same topology with empty state (one per task: runner.ts). */
  fresh(): Processor {
    return new Processor(this.builder, this.streamTimeMode);
  }

  /** Announces the source partitions this processor reads (their records may come later). */
  declarePartitions(topic: string, partitions: readonly number[]): void {
    for (const p of partitions) this.declared.add(`${topic}:${p}`);
  }

  /** The partition has been read to its end: it does not hold stream time back while idle. */
  markIdle(topic: string, partition: number): void {
    this.idle.add(`${topic}:${partition}`);
  }

  /** The largest event time seen in one source partition. */
  partitionTime(topic: string, partition: number): number {
    return this.stores.get<number>(PARTITION_TIME_STORE, `${topic}:${partition}`) ?? Number.NEGATIVE_INFINITY;
  }

  /**
   * Whether a repartition record repeats one already applied: per partition of the internal
   * topic and upstream partition, upstream positions arrive in order (one producer, batches in
   * order), so anything at or before the last applied position is a replay (IdempotentSink's
   * rule, kept in the state so that it is restored with it).
   */
  private repartitionReplay(record: StreamRecord): boolean {
    const up = record.source;
    if (!up) throw new Error(`record ${record.topic}/${record.offset} of a repartition topic has no source`);
    const slot = `${record.topic}:${record.partition}|${up.topic}:${up.partition}`;
    const seen = this.stores.get<{ offset: number; index: number }>(REPARTITION_SEEN_STORE, slot);
    if (seen && (up.offset < seen.offset || (up.offset === seen.offset && up.index <= seen.index)))
      return true;
    this.stores.put(REPARTITION_SEEN_STORE, slot, { offset: up.offset, index: up.index });
    return false;
  }

  /** The smallest partition time over the partitions that are not idle. */
  private minPartitionTime(): number {
    const names = new Set(this.declared);
    for (const [name] of this.stores.entries(PARTITION_TIME_STORE)) names.add(name);
    let min = Number.POSITIVE_INFINITY;
    for (const name of names) {
      if (this.idle.has(name)) continue;
      min = Math.min(min, this.stores.get<number>(PARTITION_TIME_STORE, name) ?? Number.NEGATIVE_INFINITY);
    }
    return min;
  }

  get sourceTopics(): string[] {
    return [...this.builder.sources.keys()];
  }

  get sinkTopics(): string[] {
    return [...this.builder.sinks];
  }

  get repartitionTopics(): string[] {
    return [...this.builder.repartitions];
  }

  get storeNames(): string[] {
    return [...this.builder.storeNames];
  }

  /**
   * Whether every stateful operator sees all records of a key within one input partition, so
   * the work can be split in one task per input partition (see StreamBuilder.rekeyedState).
   */
  get partitionLocal(): boolean {
    return !this.builder.rekeyedState;
  }

  /** Stream time, the watermark (restored with the state): see StreamTimeMode. */
  get streamTime(): number {
    return this.stores.get<number>(META_STORE, 'streamTime') ?? Number.NEGATIVE_INFINITY;
  }

  /** The last input offset reflected in the state, per `topic:partition`. */
  processedOffset(topic: string, partition: number): number {
    return this.stores.get<number>(OFFSETS_STORE, `${topic}:${partition}`) ?? -1;
  }

  process(record: StreamRecord): ProcessResult {
    const source = this.builder.sources.get(record.topic);
    if (!source) throw new Error(`topic '${record.topic}' is not a source of this topology`);
    if (record.offset <= this.processedOffset(record.topic, record.partition))
      return { outputs: [], late: 0, duplicate: true };
    if (this.builder.repartitions.has(record.topic) && this.repartitionReplay(record)) {
      this.stores.put(OFFSETS_STORE, `${record.topic}:${record.partition}`, record.offset);
      return { outputs: [], late: 0, duplicate: true };
    }
    const timestamp = source.timestamp ? source.timestamp(record.value) : record.timestamp;
    if (!Number.isFinite(timestamp))
      throw new Error(`record ${record.topic}/${record.offset}: bad timestamp`);
    const partition = `${record.topic}:${record.partition}`;
    this.idle.delete(partition);
    if (timestamp > this.partitionTime(record.topic, record.partition))
      this.stores.put(PARTITION_TIME_STORE, partition, timestamp);
    const ctx: Ctx = {
      stores: this.stores,
      // Stream time never moves back (a window once closed stays closed).
      streamTime: Math.max(
        this.streamTime,
        this.streamTimeMode === 'max' ? timestamp : this.minPartitionTime(),
      ),
      outputs: [],
      source: record,
      late: 0,
    };
    // Late is judged against stream time before this record moved it (a record cannot make
    // itself late), then windows that the new stream time closes are closed.
    const before = this.streamTime;
    const judged = { ...ctx, streamTime: before };
    for (const root of source.roots) root(judged, { key: record.key, value: record.value, timestamp });
    ctx.late = judged.late;
    ctx.outputs = judged.outputs;
    if (ctx.streamTime > before) {
      this.stores.put(META_STORE, 'streamTime', ctx.streamTime);
    }
    for (const close of this.builder.closers) close(ctx);
    this.stores.put(OFFSETS_STORE, `${record.topic}:${record.partition}`, record.offset);
    return { outputs: ctx.outputs, late: ctx.late, duplicate: false };
  }
}
