// Partitioning by key range (Bigtable, HBase, MongoDB, CockroachDB; DDIA ch. 6 "Partitioning
// by Key Range"): partitions are contiguous, sorted key ranges, so a range scan touches only the
// partitions it overlaps. Boundaries are not fixed: a partition that grows past a threshold is
// split at its median key, and adjacent small ones merge ("Dynamic partitioning").
// A range is [start, end) in UTF-16 code-unit order (JavaScript string order); '' as the start
// means "from the beginning", null as the end means "to the end".
import { assert } from '@ddia/common/core';

export interface KeyRange {
  start: string;
  end: string | null;
}

/** Pre-splitting (HBase): boundaries spread evenly over the first character 0x00-0xff. */
export function initialRanges(partitions: number): KeyRange[] {
  assert(
    Number.isInteger(partitions) && partitions >= 1 && partitions <= 256,
    'range pre-split: 1..256 partitions',
  );
  const starts = Array.from({ length: partitions }, (_, i) =>
    i === 0 ? '' : String.fromCharCode(Math.floor((i * 256) / partitions)),
  );
  return starts.map((start, i) => ({ start, end: i + 1 < partitions ? (starts[i + 1] as string) : null }));
}

export function rangeContains(range: KeyRange, key: string): boolean {
  return key >= range.start && (range.end === null || key < range.end);
}

/** Index of the range holding `key` (binary search; ranges sorted and contiguous). */
export function findRange(ranges: readonly KeyRange[], key: string): number {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if ((ranges[mid] as KeyRange).start <= key) lo = mid;
    else hi = mid - 1;
  }
  assert(rangeContains(ranges[lo] as KeyRange, key), 'ranges do not cover the key space');
  return lo;
}

/** Whether `range` overlaps the scan [start, end) (end null = unbounded). */
export function rangeOverlaps(range: KeyRange, start: string, end: string | null): boolean {
  const beforeEnd = end === null || range.start < end;
  const afterStart = range.end === null || range.end > start;
  return beforeEnd && afterStart;
}

/** Splits ranges[index] at `at`: [start, at) and [at, end). `at` must fall strictly inside. */
export function splitRanges(ranges: readonly KeyRange[], index: number, at: string): KeyRange[] {
  const range = ranges[index];
  assert(range !== undefined, 'no such range');
  assert(at > range.start && (range.end === null || at < range.end), 'split point outside the range');
  return [
    ...ranges.slice(0, index),
    { start: range.start, end: at },
    { start: at, end: range.end },
    ...ranges.slice(index + 1),
  ];
}

/** Merges ranges[index] with its right neighbour. */
export function mergeRanges(ranges: readonly KeyRange[], index: number): KeyRange[] {
  const left = ranges[index];
  const right = ranges[index + 1];
  assert(left !== undefined && right !== undefined, 'merge needs a right neighbour');
  return [...ranges.slice(0, index), { start: left.start, end: right.end }, ...ranges.slice(index + 2)];
}

/** Checks that ranges are sorted, contiguous and cover everything. */
export function rangesCoverAll(ranges: readonly KeyRange[]): boolean {
  if (ranges.length === 0 || (ranges[0] as KeyRange).start !== '') return false;
  for (let i = 0; i + 1 < ranges.length; i++) {
    const a = ranges[i] as KeyRange;
    const b = ranges[i + 1] as KeyRange;
    if (a.end === null || a.end !== b.start || !(a.start < a.end)) return false;
  }
  return ranges[ranges.length - 1]?.end === null;
}
