// Input splits: the coordinator cuts each input file into byte ranges of about `splitBytes`
// (Hadoop's FileInputFormat). A split owns the records that *start* inside its range: a reader
// whose range does not start at 0 skips to the first line start after `start`, and reads on
// past `end` to finish the line that crosses it. Every line is read by exactly one split.
//
// A Parquet file is cut at row-group boundaries instead (a row group is the unit a Parquet
// reader can fetch and decode on its own): consecutive row groups are packed into one split
// until their compressed size reaches `splitBytes`. A Parquet split's start and end are row
// indexes, [start, end), not byte offsets.

export const INPUT_FORMATS = ['text', 'csv', 'jsonl', 'parquet'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** A Parquet row group as the planner sees it. */
export interface RowGroupInfo {
  rows: number;
  bytes: number;
}

export interface InputFile {
  path: string;
  bytes: number;
  /** The name of the input it belongs to (a join has two: e.g. "events" and "users"). */
  input: string;
  format: InputFormat;
  /** Parquet only: the file's row groups, in order. */
  rowGroups?: readonly RowGroupInfo[];
}

export interface Split {
  index: number;
  path: string;
  input: string;
  format: InputFormat;
  /** Byte offsets, or row indexes for Parquet. */
  start: number;
  end: number;
}

/** The smallest split the coordinator chooses by itself (a submission may ask for less). */
export const SPLIT_BYTES_MIN = 4 * 1024 * 1024;
/** The largest: a map task reads its whole split into memory (as bytes and as text). */
export const SPLIT_BYTES_MAX = 64 * 1024 * 1024;
/** Map tasks a job is cut into when its input lies between 8 × MIN and 8 × MAX bytes. */
export const MAP_TASKS_TARGET = 8;

/**
 * The split size for a job that does not name one: its input files cut into about MAP_TASKS_TARGET
 * tasks, within [SPLIT_BYTES_MIN, SPLIT_BYTES_MAX] (Hadoop's max(minSize, min(maxSize, block))).
 * Every map task ends by sorting, encoding and writing its distinct keys per partition, and
 * every reduce merges one run per map task: word count over 4 MiB splits spent a third of a
 * task's CPU there, since each split holds most of the vocabulary. A few large tasks per slot
 * keep that fixed cost small while still letting a faster worker take more of them.
 */
export function chooseSplitBytes(files: readonly InputFile[]): number {
  let totalBytes = 0;
  for (const file of files) totalBytes += file.bytes;
  const even = Math.ceil(totalBytes / MAP_TASKS_TARGET);
  return Math.min(SPLIT_BYTES_MAX, Math.max(SPLIT_BYTES_MIN, even));
}

export function planSplits(files: readonly InputFile[], splitBytes: number): Split[] {
  const splits: Split[] = [];
  for (const file of files) {
    if (file.format === 'parquet') {
      planRowGroupSplits(file, splitBytes, splits);
      continue;
    }
    if (file.bytes === 0) continue;
    for (let start = 0; start < file.bytes; start += splitBytes) {
      splits.push({
        index: splits.length,
        path: file.path,
        input: file.input,
        format: file.format,
        start,
        end: Math.min(file.bytes, start + splitBytes),
      });
    }
  }
  return splits;
}

function planRowGroupSplits(file: InputFile, splitBytes: number, splits: Split[]): void {
  let row = 0;
  let start = 0;
  let bytes = 0;
  const cut = () => {
    if (row > start) {
      splits.push({
        index: splits.length,
        path: file.path,
        input: file.input,
        format: 'parquet',
        start,
        end: row,
      });
    }
    start = row;
    bytes = 0;
  };
  for (const group of file.rowGroups ?? []) {
    row += group.rows;
    bytes += group.bytes;
    if (bytes >= splitBytes) cut();
  }
  cut();
}
