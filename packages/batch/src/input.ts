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

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.endsWith('\r')) lines[i] = line.slice(0, -1);
  }
  return lines;
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

export async function readSplit(split: Split, onMalformed: OnMalformed): Promise<SplitRecords> {
  if (split.format === 'parquet') return readParquetRows(split);
  const { bytes, from } = await readSplitBytes(split.path, split.start, split.end);
  const text = bytes.toString('utf8');
  const lines = splitLines(text);
  const records: unknown[] = [];
  const lineIndexes: number[] = [];
  const malformed = (lineIndex: number, reason: string) => {
    if (onMalformed === 'fail') throw new MalformedRecordError(reason, lineIndex);
    records.push({ $malformed: reason, $raw: lines[lineIndex] ?? '' } satisfies MalformedRecord);
    lineIndexes.push(lineIndex);
  };
  switch (split.format) {
    case 'text':
      for (let i = 0; i < lines.length; i++) {
        records.push(lines[i]);
        lineIndexes.push(i);
      }
      break;
    case 'jsonl':
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!;
        if (line.trim() === '') continue;
        try {
          records.push(JSON.parse(line));
          lineIndexes.push(i);
        } catch (err) {
          malformed(i, `not JSON: ${(err as Error).message}`);
        }
      }
      break;
    case 'csv': {
      parseCsv ??= (await import('csv-parse/sync')).parse;
      const header = parseCsvLine(await readFirstLine(split.path));
      if (header === null) throw new MalformedRecordError('the CSV header cannot be parsed', 0);
      for (let i = from === 0 ? 1 : 0; i < lines.length; i++) {
        const line = lines[i]!;
        if (line.trim() === '') continue;
        const fields = parseCsvLine(line);
        if (fields === null) {
          malformed(i, 'not CSV (unbalanced quotes)');
          continue;
        }
        if (fields.length !== header.length) {
          malformed(i, `expected ${header.length} CSV fields, got ${fields.length}`);
          continue;
        }
        const row: Record<string, string> = {};
        for (let c = 0; c < header.length; c++) row[header[c]!] = fields[c]!;
        records.push(row);
        lineIndexes.push(i);
      }
      break;
    }
  }
  return { from, records, lineIndexes };
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
