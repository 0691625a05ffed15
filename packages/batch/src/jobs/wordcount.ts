// Word count, MapReduce's "hello world" (paper §2.1, 6.5840 lab 1's wc): words are maximal runs
// of letters, lower-cased; the combiner sums counts on the map side before the shuffle.
import type { Emit } from '../job.js';

const WORD = /\p{L}+/gu;

export function map(line: string, emit: Emit): void {
  for (const match of line.matchAll(WORD)) emit(match[0].toLowerCase(), '1');
}

/** Counts folded as they are emitted: the map side keeps a number per word, not a list of "1"s. */
export const aggregator = {
  create: (value: string | number): number => Number(value),
  add: (count: number, value: string | number): number => count + Number(value),
  result: (count: number): string => String(count),
};

function sum(values: string[]): string {
  let total = 0;
  for (const v of values) total += Number(v);
  return String(total);
}

export function combine(_key: string, values: string[]): string {
  return sum(values);
}

export function reduce(_key: string, values: string[]): string {
  return sum(values);
}

/** Parquet output (outputFormat 'parquet'). */
export const outputColumns = [
  { name: 'word', type: 'STRING' },
  { name: 'count', type: 'INT64' },
] as const;

export function outputRow(word: string, count: string): unknown[] {
  return [word, Number(count)];
}
