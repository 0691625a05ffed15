// The interface of a job module: an ES module that exports `map` and `reduce`, and optionally
// `combine`, `partition` and `setup`. It has the shape of Hadoop's Mapper/Reducer and of a
// Spark job's `flatMap` + `reduceByKey` (README: "How a job maps onto Spark").

/**
 * Emits one key-value pair of output. Keys are strings; values are strings (encode structure as
 * JSON) or numbers: a job's aggregator folds a number as emitted, anywhere else it is shuffled
 * and handed to `combine`/`reduce` as String(value), so a map need not format a number only
 * for the fold to parse it back.
 */
export type Emit = (key: string, value: string | number) => void;

export interface TaskContext {
  jobId: string;
  kind: 'map' | 'reduce';
  /** The task's index: a map task's split, a reduce task's partition. */
  taskIndex: number;
  reduces: number;
  /** Parameters given when the job was submitted (e.g. grep's pattern). */
  params: Readonly<Record<string, string>>;
  /**
   * Hot keys the planner found in a sample of the map output, each with the number of reducers
   * it should be spread over (empty unless the job exports `hotKeys = 'sample'`).
   */
  hotKeys: Readonly<Record<string, number>>;
  /** Map tasks: which input the split belongs to ("events", "users", ...) and its file. */
  input: string;
  file: string;
  /** Reads every record of a side input (a broadcast join's small table): a file or a directory. */
  readSideInput(path: string, format: 'text' | 'csv' | 'jsonl' | 'parquet'): Promise<unknown[]>;
}

/** A text line (string), a CSV row (object keyed by the header), a parsed JSON line or a Parquet row. */
export type InputRecord = unknown;

/**
 * How a declared input column is typed: 'string' as read, 'integer' a safe integer (what
 * Number() makes of the field), 'number' any number. An empty field is null; a field that is
 * not of its type makes the record malformed (onMalformed decides: the task fails naming it, or
 * it is passed on as a MalformedRecord).
 */
export type ColumnType = 'string' | 'integer' | 'number';

/** The input columns a job reads, by name, with their types. */
export type InputColumns = Readonly<Record<string, ColumnType>>;

/** A column of a job's Parquet output. */
export interface OutputColumn {
  name: string;
  type: 'STRING' | 'INT64' | 'DOUBLE' | 'BOOLEAN';
}

/**
 * A combiner in incremental form (Spark's `combineByKey`: createCombiner, mergeValue): the map
 * side folds each emitted value into one accumulator per key as it arrives, instead of keeping
 * the values as strings and parsing them back in batches for `combine`. `add` must accept what
 * `result` returns as well as what `map` emits (a spilled or fetched run holds combined values),
 * and folding must give what `combine` gives. A job that exports an aggregator and no `combine`
 * gets one derived from it.
 */
export interface Aggregator<A = unknown> {
  /** The accumulator of a key's first value. */
  create(value: string | number): A;
  /** Folds one more value in; may update `acc` in place and return it. */
  add(acc: A, value: string | number): A;
  /** The accumulator as a value: what is spilled, shuffled and given to `reduce`. */
  result(acc: A): string;
}

export interface JobModule {
  map(record: InputRecord, emit: Emit, ctx: TaskContext): void | Promise<void>;
  /**
   * The columns `map` reads from CSV, JSON-line or Parquet rows, with their types (Spark's
   * `read.schema("key STRING, amount BIGINT")` followed by `select`): each record is then an
   * object of just these columns, typed, and a CSV row is decoded field by field from the
   * split's bytes (only these fields; integers parsed in place; strings interned). Without it a
   * record is the whole row, every field a string for CSV. Called after `setup`.
   */
  columns?: InputColumns | ((ctx: TaskContext) => InputColumns);
  /** Returns the value for `key` (emitted as key<TAB>value), or emits any pairs itself. */
  reduce(key: string, values: string[], emit: Emit, ctx: TaskContext): unknown;
  /** A reduce run on map output before the shuffle; must be associative (word counts). */
  combine?(key: string, values: string[], ctx: TaskContext): string;
  /** The combiner in incremental form, for the map side's hash table (see Aggregator). */
  aggregator?: Aggregator;
  /** A function of (key, partitions), or 'range' for a sampled total-order partitioner. */
  partition?: ((key: string, partitions: number) => number) | 'range';
  /**
   * 'sample': before the job runs, the planner runs `map` over a sample of the input, counts the
   * keys, and hands the hot ones to every task as ctx.hotKeys (a skewed join spreads them).
   */
  hotKeys?: 'sample';
  /**
   * Typed Parquet output (outputFormat 'parquet'): the columns, and how one output pair becomes
   * a row of them. Without these a Parquet part file has two STRING columns, key and value.
   */
  outputColumns?: readonly OutputColumn[];
  outputRow?(key: string, value: string): unknown[];
  /** Runs once per task before the first record (load a side input, compile a pattern). */
  setup?(ctx: TaskContext): void | Promise<void>;
}
