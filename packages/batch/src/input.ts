// Reading a split's records: text lines, CSV rows (objects keyed by the file's header), JSON
// lines, or Parquet rows (objects keyed by column; a split is a run of row groups). Each record
// carries its index within the split, so that an error can name the file and line (or row) it
// came from.
import type { parse as ParseCsv } from 'csv-parse/sync';
import type { Split } from './core/splits.js';
import { readFirstLine, readSplitBytes } from './disk.js';

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
  // and hyparquet (like csv-parse) costs a thread some 100+ ms to load.
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
export async function readSplit(split: Split, onMalformed: OnMalformed): Promise<SplitRecords> {
  let from = split.start;
  const records: unknown[] = [];
  const lineIndexes: number[] = [];
  for await (const batch of readSplitBatches(split, onMalformed)) {
    from = batch.from;
    for (let i = 0; i < batch.records.length; i++) {
      records.push(batch.records[i]);
      lineIndexes.push(batch.lineIndexes[i]!);
    }
  }
  return { from, records, lineIndexes };
}

/**
 * A split's records in batches of up to BATCH_RECORDS, parsed as they are asked for. A map
 * task that materialised a whole 4 MiB split (some 200,000 rows) before mapping kept every row
 * alive across several young-generation collections, so V8 copied them all to the old
 * generation: a third of the CPU time went to the collector. A batch is mapped and dropped
 * while it is still young. Lines are found with indexOf on the decoded text (no array of every
 * line), and a CSV line without quotes is cut at its commas the same way.
 */
export async function* readSplitBatches(
  split: Split,
  onMalformed: OnMalformed,
): AsyncGenerator<SplitRecords> {
  if (split.format === 'parquet') {
    yield await readParquetRows(split);
    return;
  }
  const { bytes, from } = await readSplitBytes(split.path, split.start, split.end);
  const text = bytes.toString('utf8');
  let header: string[] | null = null;
  let makeRow: RowMaker | null = null;
  if (split.format === 'csv') {
    parseCsv ??= (await import('csv-parse/sync')).parse;
    header = parseCsvLine(await readFirstLine(split.path));
    if (header === null) throw new MalformedRecordError('the CSV header cannot be parsed', 0);
    makeRow = rowMaker(header);
  }
  let records: unknown[] = [];
  let lineIndexes: number[] = [];
  const push = (record: unknown, lineIndex: number) => {
    records.push(record);
    lineIndexes.push(lineIndex);
  };
  const malformed = (lineIndex: number, line: string, reason: string) => {
    if (onMalformed === 'fail') throw new MalformedRecordError(reason, lineIndex);
    push({ $malformed: reason, $raw: line } satisfies MalformedRecord, lineIndex);
  };
  const fields: string[] = [];
  let yielded = false;
  let start = 0;
  for (let lineIndex = 0; start < text.length; lineIndex++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const next = end + 1;
    if (end > start && text.charCodeAt(end - 1) === CR) end--;
    const line = text.slice(start, end);
    start = next;
    switch (split.format) {
      case 'text':
        push(line, lineIndex);
        break;
      case 'jsonl':
        if (isBlank(line)) break;
        try {
          push(JSON.parse(line), lineIndex);
        } catch (err) {
          malformed(lineIndex, line, `not JSON: ${(err as Error).message}`);
        }
        break;
      case 'csv': {
        if ((lineIndex === 0 && from === 0) || isBlank(line)) break;
        const columns = header!;
        if (!cutCsvLine(line, fields)) {
          malformed(lineIndex, line, 'not CSV (unbalanced quotes)');
          break;
        }
        if (fields.length !== columns.length) {
          malformed(lineIndex, line, `expected ${columns.length} CSV fields, got ${fields.length}`);
          break;
        }
        push(makeRow!(fields), lineIndex);
        break;
      }
    }
    if (records.length >= BATCH_RECORDS) {
      yield { from, records, lineIndexes };
      yielded = true;
      records = [];
      lineIndexes = [];
    }
  }
  // An empty split still yields once: its reader learns `from`.
  if (records.length > 0 || !yielded) yield { from, records, lineIndexes };
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

type RowMaker = (fields: readonly string[]) => Record<string, string>;

/**
 * A function that turns a CSV line's fields into the row object keyed by the header, written as
 * one object literal for this header (names quoted by JSON.stringify, so a header is data, never
 * code): every row then has the same shape from birth. Filling `{}` name by name went through
 * a megamorphic keyed store per field, about four times the cost (some 90 ns a row of three
 * fields on this machine, a tenth of the group-by's parsing). A repeated name keeps its last
 * value, and a '__proto__' column sets nothing, as the name-by-name fill did.
 */
function rowMaker(columns: readonly string[]): RowMaker {
  const fields = columns.map((name, i) => `${JSON.stringify(name)}: f[${i}]`).join(', ');
  let maker = rowMakers.get(fields);
  if (maker === undefined) {
    maker = new Function('f', `return { ${fields} };`) as RowMaker;
    rowMakers.set(fields, maker);
  }
  return maker;
}

/**
 * One maker per header for the thread's life: a new function per split would give each
 * split's rows a new hidden class, and the job's map, warm from the previous split, would
 * meet rows of a shape it has not seen.
 */
const rowMakers = new Map<string, RowMaker>();

/** Cuts one CSV line into `fields` (reused); false when its quotes do not balance. */
function cutCsvLine(line: string, fields: string[]): boolean {
  fields.length = 0;
  if (line.includes('"')) {
    const parsed = parseCsvLine(line);
    if (parsed === null) return false;
    for (const field of parsed) fields.push(field);
    return true;
  }
  let start = 0;
  for (;;) {
    const comma = line.indexOf(',', start);
    if (comma < 0) break;
    fields.push(line.slice(start, comma));
    start = comma + 1;
  }
  fields.push(line.slice(start));
  return true;
}

/** csv-parse's parser for quoted lines, loaded by the first CSV split a thread reads. */
let parseCsv: typeof ParseCsv | undefined;

/** One CSV line (RFC 4180 quoting, no line breaks inside fields), or null when malformed. */
function parseCsvLine(line: string): string[] | null {
  if (!line.includes('"')) return line.split(',');
  try {
    const rows = parseCsv!(line, { relax_column_count: true }) as string[][];
    return rows[0] ?? [];
  } catch {
    return null;
  }
}
