// Reading a split's records: text lines, CSV rows (objects keyed by the file's header), JSON
// lines, or Parquet rows (objects keyed by column; a split is a run of row groups); or, for a
// job that declares the columns it reads, objects of just those columns, typed. Each record
// carries its index within the split, so that an error can name the file and line (or row) it
// came from.
import type { Split } from './core/splits.js';
import { CsvCursor, Interner } from './csv.js';
import { readFirstLine, readSplitBytes } from './disk.js';
import type { ColumnType, InputColumns, JobModule, TaskContext } from './job.js';

/** What a record that cannot be parsed turns into with onMalformed: 'pass' (the ETL's dead letters). */
export interface MalformedRecord {
  $malformed: string;
  $raw: string;
}

export type OnMalformed = 'fail' | 'pass';

/** A record that cannot be parsed with onMalformed: 'fail': the task fails naming it. */
export class MalformedRecordError extends Error {
  override name = 'MalformedRecordError';
  constructor(
    message: string,
    readonly lineIndex: number,
  ) {
    super(message);
  }
}

export interface SplitRecords {
  /** The byte offset of the split's first line in its file (Parquet: its first row). */
  from: number;
  /** The records, in order. */
  records: unknown[];
  /**
   * lineIndexes[i]: the line records[i] starts on, counted from `from` (two arrays rather than
   * an object per record: a 4 MiB split has some 200,000 records, and every object is garbage).
   */
  lineIndexes: number[];
}

/** Parquet INT64 comes back as a bigint: a number when it fits, else its decimal string. */
function plainValue(value: unknown): unknown {
  if (typeof value === 'bigint') {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value.toString();
  }
  return value;
}

/** The rows [start, end) of a Parquet file as objects keyed by column name. */
async function readParquetRows(split: Split): Promise<SplitRecords> {
  // Imported on first use: every task thread loads this module, most never read Parquet,
  // and hyparquet costs a thread some 100+ ms to load.
  const { asyncBufferFromFile, parquetReadObjects } = await import('hyparquet');
  const file = await asyncBufferFromFile(split.path);
  const rows = (await parquetReadObjects({ file, rowStart: split.start, rowEnd: split.end })) as Record<
    string,
    unknown
  >[];
  for (const row of rows) for (const column of Object.keys(row)) row[column] = plainValue(row[column]);
  return { from: split.start, records: rows, lineIndexes: rows.map((_, i) => i) };
}

/** Records per batch of readSplitBatches: small enough that a batch dies young in V8's nursery. */
export const BATCH_RECORDS = 4096;

/** Every record of a split at once (the sampler, side inputs, the ETL: small splits). */
export async function readSplit(
  split: Split,
  onMalformed: OnMalformed,
  columns?: InputColumns,
): Promise<SplitRecords> {
  let from = split.start;
  const records: unknown[] = [];
  const lineIndexes: number[] = [];
  for await (const batch of readSplitBatches(split, onMalformed, columns)) {
    from = batch.from;
    for (let i = 0; i < batch.records.length; i++) {
      records.push(batch.records[i]);
      lineIndexes.push(batch.lineIndexes[i]!);
    }
  }
  return { from, records, lineIndexes };
}

/** A job's declared input columns (job.ts), once its setup has run; undefined for whole rows. */
export function jobColumns(job: JobModule, ctx: TaskContext): InputColumns | undefined {
  return typeof job.columns === 'function' ? job.columns(ctx) : job.columns;
}

/** Collects a split's records into batches of up to BATCH_RECORDS. */
class Batcher {
  records: unknown[] = [];
  lineIndexes: number[] = [];
  yielded = false;

  constructor(
    readonly from: number,
    private readonly onMalformed: OnMalformed,
  ) {}

  push(record: unknown, lineIndex: number): void {
    this.records.push(record);
    this.lineIndexes.push(lineIndex);
  }

  malformed(lineIndex: number, line: string, reason: string): void {
    if (this.onMalformed === 'fail') throw new MalformedRecordError(reason, lineIndex);
    this.push({ $malformed: reason, $raw: line } satisfies MalformedRecord, lineIndex);
  }

  /** The batch when it is full (or `last` and not empty, or the split's only one), emptied. */
  take(last: boolean): SplitRecords | null {
    const n = this.records.length;
    if (n < BATCH_RECORDS && !(last && (n > 0 || !this.yielded))) return null;
    const batch = { from: this.from, records: this.records, lineIndexes: this.lineIndexes };
    this.records = [];
    this.lineIndexes = [];
    this.yielded = true;
    return batch;
  }
}

/**
 * A split's records in batches of up to BATCH_RECORDS, parsed as they are asked for. A map
 * task that materialised a whole 4 MiB split (some 200,000 rows) before mapping kept every row
 * alive across several young-generation collections, so V8 copied them all to the old
 * generation: a third of the CPU time went to the collector. A batch is mapped and dropped
 * while it is still young. Text and JSON lines are found with indexOf on the decoded text (no
 * array of every line); CSV is cut from the bytes (csv.ts). With `columns`, each record is an
 * object of those columns only, typed (job.ts: InputColumns).
 */
export async function* readSplitBatches(
  split: Split,
  onMalformed: OnMalformed,
  columns?: InputColumns,
): AsyncGenerator<SplitRecords> {
  if (split.format === 'parquet') {
    const rows = await readParquetRows(split);
    if (columns) rows.records = typedRecords(rows, columns, onMalformed);
    yield rows;
    return;
  }
  const { bytes, from } = await readSplitBytes(split.path, split.start, split.end);
  if (split.format === 'csv') {
    yield* readCsvBatches(split, bytes, from, onMalformed, columns);
    return;
  }
  const text = bytes.toString('utf8');
  const batch = new Batcher(from, onMalformed);
  const typed = columns ? objectTyper(columns) : null;
  let start = 0;
  for (let lineIndex = 0; start < text.length; lineIndex++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const next = end + 1;
    if (end > start && text.charCodeAt(end - 1) === CR) end--;
    const line = text.slice(start, end);
    start = next;
    if (split.format === 'text') {
      batch.push(line, lineIndex);
    } else if (!isBlank(line)) {
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch (err) {
        batch.malformed(lineIndex, line, `not JSON: ${(err as Error).message}`);
        continue;
      }
      if (typed === null) batch.push(record, lineIndex);
      else {
        const row = typed(record);
        if (typeof row === 'string') batch.malformed(lineIndex, line, row);
        else batch.push(row, lineIndex);
      }
    }
    const full = batch.take(false);
    if (full) yield full;
  }
  // An empty split still yields once: its reader learns `from`.
  const last = batch.take(true);
  if (last) yield last;
}

/** A CSV split's rows: whole rows keyed by the header, or the declared columns only. */
async function* readCsvBatches(
  split: Split,
  bytes: Buffer,
  from: number,
  onMalformed: OnMalformed,
  columns: InputColumns | undefined,
): AsyncGenerator<SplitRecords> {
  const header = await csvHeader(split.path);
  const makeRow = columns ? typedRowMaker(header, columns) : rowMaker(header);
  const cursor = new CsvCursor(bytes);
  const interner = new Interner();
  const batch = new Batcher(from, onMalformed);
  if (from === 0) cursor.next();
  for (;;) {
    const step = cursor.next();
    if (step === 'end') break;
    if (step === 'blank') continue;
    if (step === 'malformed') batch.malformed(cursor.lineIndex, cursor.firstLine(), cursor.reason);
    else if (cursor.count !== header.length)
      batch.malformed(
        cursor.lineIndex,
        cursor.firstLine(),
        `expected ${header.length} CSV fields, got ${cursor.count}`,
      );
    else {
      const row = makeRow(cursor, interner);
      if (row === null) batch.malformed(cursor.lineIndex, cursor.firstLine(), cursor.reason);
      else batch.push(row, cursor.lineIndex);
    }
    const full = batch.take(false);
    if (full) yield full;
  }
  const last = batch.take(true);
  if (last) yield last;
}

/** A CSV file's column names: its first record (after a BOM). */
async function csvHeader(path: string): Promise<string[]> {
  const cursor = new CsvCursor(Buffer.from(await readFirstLine(path), 'utf8'));
  if (cursor.next() !== 'record') throw new MalformedRecordError('the CSV header cannot be parsed', 0);
  return Array.from({ length: cursor.count }, (_, i) => cursor.string(i));
}

const CR = 13;
/** Printable ASCII other than space: a line starting with one is not blank. */
const PRINTABLE_FIRST = 33;
const PRINTABLE_LAST = 126;

/** line.trim() === '' without trimming a line whose first character already says it is not. */
function isBlank(line: string): boolean {
  if (line.length === 0) return true;
  const first = line.charCodeAt(0);
  if (first >= PRINTABLE_FIRST && first <= PRINTABLE_LAST) return false;
  return line.trim() === '';
}

/** Builds a row from the cursor's current record; null when a field is not of its type (cursor.reason says why). */
type RowMaker = (cursor: CsvCursor, interner: Interner) => Record<string, unknown> | null;

/**
 * Makers are written as one object literal per header (names quoted by JSON.stringify, so a
 * header is data, never code): every row then has the same shape from birth. Filling `{}` name
 * by name went through a megamorphic keyed store per field, about four times the cost. One
 * maker per header (and column list) for the thread's life: a new function per split would
 * give each split's rows a new hidden class, and the job's map, warm from the previous split,
 * would meet rows of a shape it has not seen.
 */
const rowMakers = new Map<string, RowMaker>();

function cachedMaker(source: string): RowMaker {
  let maker = rowMakers.get(source);
  if (maker === undefined) {
    maker = new Function('notTyped', `return function row(c, t) { ${source} };`)(notTyped) as RowMaker;
    rowMakers.set(source, maker);
  }
  return maker;
}

/**
 * The whole row keyed by the header, every field a string. A repeated name keeps its last
 * value, and a '__proto__' column sets nothing, as a name-by-name fill would.
 */
function rowMaker(header: readonly string[]): RowMaker {
  const fields = header.map((name, i) => `${JSON.stringify(name)}: c.string(${i})`).join(', ');
  return cachedMaker(`return { ${fields} };`);
}

/** The declared columns only, typed: strings interned, integers parsed from their bytes. */
function typedRowMaker(header: readonly string[], columns: InputColumns): RowMaker {
  const lines: string[] = [];
  const fields: string[] = [];
  for (const [n, [name, type]] of Object.entries(columns).entries()) {
    const i = header.lastIndexOf(name);
    if (i < 0) throw new MalformedRecordError(`the CSV header has no column '${name}'`, 0);
    const quoted = JSON.stringify(name);
    if (type === 'string') lines.push(`const v${n} = t.field(c, ${i});`);
    else {
      const read = type === 'integer' ? 'integer' : 'number';
      lines.push(
        `const v${n} = c.${read}(${i}); if (v${n} === undefined) return notTyped(c, ${quoted}, ${i}, '${type}');`,
      );
    }
    fields.push(`${quoted}: v${n}`);
  }
  return cachedMaker(`${lines.join(' ')} return { ${fields.join(', ')} };`);
}

function notTyped(cursor: CsvCursor, name: string, i: number, type: ColumnType): null {
  cursor.reason = notTypedReason(name, cursor.string(i), type);
  return null;
}

function notTypedReason(name: string, value: unknown, type: ColumnType): string {
  return `column '${name}': '${String(value)}' is not ${type === 'integer' ? 'an integer' : 'a number'}`;
}

/** A JSON or Parquet row as the declared columns, typed, or why it cannot be. */
function objectTyper(columns: InputColumns): (record: unknown) => Record<string, unknown> | string {
  const entries = Object.entries(columns);
  return (record) => {
    if (typeof record !== 'object' || record === null || Array.isArray(record)) return 'not an object';
    const row: Record<string, unknown> = {};
    for (const [name, type] of entries) {
      const value = Object.hasOwn(record, name) ? (record as Record<string, unknown>)[name] : undefined;
      const typed = typedValue(value, type);
      if (typed === undefined) return notTypedReason(name, value, type);
      row[name] = typed;
    }
    return row;
  };
}

/** A value as its column's type (as a CSV field's text is typed): null when absent, or empty and numeric. */
function typedValue(value: unknown, type: ColumnType): unknown {
  if (value === undefined || value === null) return null;
  if (type === 'string') return typeof value === 'string' ? value : String(value);
  if (value === '') return null;
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (type === 'integer') return Number.isSafeInteger(n) ? n : undefined;
  return Number.isNaN(n) ? undefined : n;
}

/** Parquet rows as the declared columns; a row that cannot be typed fails or passes on. */
function typedRecords(rows: SplitRecords, columns: InputColumns, onMalformed: OnMalformed): unknown[] {
  const typed = objectTyper(columns);
  return rows.records.map((record, i) => {
    const row = typed(record);
    if (typeof row !== 'string') return row;
    if (onMalformed === 'fail') throw new MalformedRecordError(row, rows.lineIndexes[i]!);
    return { $malformed: row, $raw: JSON.stringify(record) } satisfies MalformedRecord;
  });
}
