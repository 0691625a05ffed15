// Where a map task keeps its output until it spills: one buffer per reduce partition, sized
// in (estimated) bytes. Without a combiner the pairs are kept as emitted and sorted at the
// spill (Hadoop's sort-and-spill). With one, each partition is a hash table of key → pending
// values that the combiner folds as they pile up (Spark's map-side combine for reduceByKey):
// memory holds one entry per distinct key instead of one per record, and a spill sorts only
// the keys, not every record.
import { comparePairs, groupByKey, type Pair } from './core/merge.js';
import { compareStrings } from './core/partition.js';
import type { Aggregator, JobModule, TaskContext } from './job.js';
import type { Counters } from './task-protocol.js';

/** Bytes charged per buffered pair on top of its strings (array and tuple overhead). */
const PAIR_OVERHEAD_BYTES = 48;
/** Bytes charged per distinct key in a hash table (map entry and values array). */
const KEY_ENTRY_OVERHEAD_BYTES = 96;
/** Bytes charged per pending value in a hash table (array slot and string header). */
const VALUE_OVERHEAD_BYTES = 16;
/** A key's pending values are folded by the combiner once this many have gathered. */
export const COMBINE_EVERY_VALUES = 64;

export interface MapOutputBuffer {
  /** Estimated bytes held (UTF-16 strings plus per-entry overhead). */
  readonly bytes: number;
  add(partition: number, key: string, value: string | number): void;
  /**
   * add() for a key whose partition is computed only when needed: the combining buffer looks
   * the key up first and calls `partitionOf` only for a key it has not seen (word count emits
   * the same few thousand words millions of times; hashing each costs about a tenth of a map task).
   */
  addKeyed(key: string, value: string | number, partitionOf: (key: string) => number): void;
  /** Partition p's pairs sorted by (key, value) and combined, emptying the partition. */
  drain(partition: number): Pair[];
}

/** The combiner applied to a sorted sequence: one pair per key (what a spill of sorted pairs writes). */
export function combineSorted(
  pairs: Iterable<Pair>,
  job: JobModule,
  ctx: TaskContext,
  counters: Counters,
): Pair[] {
  const out: Pair[] = [];
  if (!job.combine) {
    for (const pair of pairs) out.push(pair);
    return out;
  }
  for (const [key, values] of groupByKey(pairs)) {
    counters.combineInputRecords! += values.length;
    out.push([key, values.length === 1 ? values[0]! : String(job.combine(key, values, ctx))]);
  }
  counters.combineOutputRecords! += out.length;
  return out;
}

/** The buffer for a job: a hash table per partition when the job has a combiner, else sorted lists. */
export function mapOutputBuffer(
  partitions: number,
  job: JobModule,
  ctx: TaskContext,
  counters: Counters,
): MapOutputBuffer {
  if (job.combine && job.aggregator) return new AggregatingBuffer(partitions, job.aggregator, counters);
  return job.combine
    ? new CombiningBuffer(partitions, job.combine, ctx, counters)
    : new SortingBuffer(partitions, job, ctx, counters);
}

class SortingBuffer implements MapOutputBuffer {
  bytes = 0;
  private readonly lists: Pair[][];
  private readonly listBytes: number[];

  constructor(
    partitions: number,
    private readonly job: JobModule,
    private readonly ctx: TaskContext,
    private readonly counters: Counters,
  ) {
    this.lists = Array.from({ length: partitions }, () => []);
    this.listBytes = new Array(partitions).fill(0);
  }

  addKeyed(key: string, value: string | number, partitionOf: (key: string) => number): void {
    this.add(partitionOf(key), key, value);
  }

  add(partition: number, key: string, emitted: string | number): void {
    const value = String(emitted);
    this.lists[partition]!.push([key, value]);
    const bytes = 2 * (key.length + value.length) + PAIR_OVERHEAD_BYTES;
    this.listBytes[partition]! += bytes;
    this.bytes += bytes;
  }

  drain(partition: number): Pair[] {
    const pairs = this.lists[partition]!;
    this.lists[partition] = [];
    this.bytes -= this.listBytes[partition]!;
    this.listBytes[partition] = 0;
    return combineSorted(pairs.sort(comparePairs), this.job, this.ctx, this.counters);
  }
}

type Combine = NonNullable<JobModule['combine']>;

/**
 * A hash table of every partition's keys (so a repeated key costs one lookup), each entry
 * knowing its partition; a drain sorts one partition's keys and turns each entry into a value.
 */
abstract class KeyTable<E extends { partition: number }> implements MapOutputBuffer {
  bytes = 0;
  protected table = new Map<string, E>();
  /** Records added since the last drain (counted here, not in `counters`, on the per-record path). */
  protected added = 0;
  private readonly tableBytes: number[];

  constructor(
    partitions: number,
    protected readonly counters: Counters,
  ) {
    this.tableBytes = new Array(partitions).fill(0);
  }

  abstract addKeyed(key: string, value: string | number, partitionOf: (key: string) => number): void;
  /** The value a drained entry becomes. */
  protected abstract valueOf(key: string, entry: E): string;

  add(partition: number, key: string, value: string | number): void {
    this.addKeyed(key, value, () => partition);
  }

  drain(partition: number): Pair[] {
    this.counters.combineInputRecords! += this.added;
    this.added = 0;
    const keys: string[] = [];
    for (const [key, entry] of this.table) if (entry.partition === partition) keys.push(key);
    keys.sort(compareStrings);
    const out: Pair[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      out[i] = [key, this.valueOf(key, this.table.get(key)!)];
      this.table.delete(key);
    }
    if (this.table.size === 0) this.table = new Map();
    this.bytes -= this.tableBytes[partition]!;
    this.tableBytes[partition] = 0;
    this.counters.combineOutputRecords! += out.length;
    return out;
  }

  protected charge(partition: number, bytes: number): void {
    this.tableBytes[partition]! += bytes;
    this.bytes += bytes;
  }
}

/** A distinct key's entry: its partition and the values not yet folded. */
interface KeyEntry {
  partition: number;
  values: string[];
}

class CombiningBuffer extends KeyTable<KeyEntry> {
  constructor(
    partitions: number,
    private readonly combine: Combine,
    private readonly ctx: TaskContext,
    counters: Counters,
  ) {
    super(partitions, counters);
  }

  addKeyed(key: string, emitted: string | number, partitionOf: (key: string) => number): void {
    this.added++;
    const value = String(emitted);
    const entry = this.table.get(key);
    if (entry === undefined) {
      const partition = partitionOf(key);
      this.table.set(key, { partition, values: [value] });
      this.charge(partition, 2 * (key.length + value.length) + KEY_ENTRY_OVERHEAD_BYTES);
      return;
    }
    const { values, partition } = entry;
    values.push(value);
    this.charge(partition, 2 * value.length + VALUE_OVERHEAD_BYTES);
    if (values.length >= COMBINE_EVERY_VALUES) {
      let folded = 0;
      for (const v of values) folded += 2 * v.length + VALUE_OVERHEAD_BYTES;
      const combined = String(this.combine(key, values, this.ctx));
      entry.values = [combined];
      this.charge(partition, 2 * combined.length + VALUE_OVERHEAD_BYTES - folded);
    }
  }

  protected valueOf(key: string, { values }: KeyEntry): string {
    return values.length === 1 ? values[0]! : String(this.combine(key, values, this.ctx));
  }
}

/** A distinct key's entry when the job has an aggregator: its partition and accumulator. */
interface AccEntry {
  partition: number;
  acc: unknown;
}

/**
 * The combining buffer for a job with an Aggregator: each value is folded into its key's
 * accumulator the moment it is emitted, so a key holds one accumulator, never a list of value
 * strings waiting to be parsed back (on the group-by that list was most of what the young
 * generation had to copy). Memory is charged per distinct key only.
 */
class AggregatingBuffer extends KeyTable<AccEntry> {
  constructor(
    partitions: number,
    private readonly aggregator: Aggregator,
    counters: Counters,
  ) {
    super(partitions, counters);
  }

  addKeyed(key: string, value: string | number, partitionOf: (key: string) => number): void {
    this.added++;
    const entry = this.table.get(key);
    if (entry !== undefined) {
      entry.acc = this.aggregator.add(entry.acc, value);
      return;
    }
    const partition = partitionOf(key);
    this.table.set(key, { partition, acc: this.aggregator.create(value) });
    this.charge(partition, 2 * key.length + KEY_ENTRY_OVERHEAD_BYTES);
  }

  protected valueOf(_key: string, entry: AccEntry): string {
    return this.aggregator.result(entry.acc);
  }
}
