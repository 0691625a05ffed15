// Sorted runs and their merge. A map task sorts its output by (key, value) before it spills a
// run; the reduce side merges the runs of every map task with a k-way merge on a heap (the
// "merge" in sort-merge, DDIA ch. 10 "Sort-merge joins"). Ordering by value as well as key is
// a secondary sort: values reach the reducer in a fixed order, so output is the same whichever
// map attempt produced which run, and a join can tag its records to see one side first.
import { compareStrings } from './partition.js';

/** A key-value pair, the unit of map output. */
export type Pair = readonly [key: string, value: string];

export function comparePairs(a: Pair, b: Pair): number {
  return compareStrings(a[0], b[0]) || compareStrings(a[1], b[1]);
}

export function sortPairs(pairs: Pair[]): Pair[] {
  return pairs.sort(comparePairs);
}

interface Head {
  pair: Pair;
  source: Iterator<Pair>;
}

/** Merges sorted runs into one sorted sequence. */
export function* mergeRuns(runs: Iterable<Pair>[]): Generator<Pair> {
  const heap: Head[] = [];
  for (const run of runs) {
    const source = run[Symbol.iterator]();
    const first = source.next();
    if (!first.done) heap.push({ pair: first.value, source });
  }
  for (let i = (heap.length >>> 1) - 1; i >= 0; i--) siftDown(heap, i);
  while (heap.length > 0) {
    const top = heap[0]!;
    yield top.pair;
    const next = top.source.next();
    if (next.done) {
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        siftDown(heap, 0);
      }
    } else {
      top.pair = next.value;
      siftDown(heap, 0);
    }
  }
}

function siftDown(heap: Head[], i: number): void {
  for (;;) {
    const left = 2 * i + 1;
    const right = left + 1;
    let least = i;
    if (left < heap.length && comparePairs(heap[left]!.pair, heap[least]!.pair) < 0) least = left;
    if (right < heap.length && comparePairs(heap[right]!.pair, heap[least]!.pair) < 0) least = right;
    if (least === i) return;
    const tmp = heap[i]!;
    heap[i] = heap[least]!;
    heap[least] = tmp;
    i = least;
  }
}

/** Groups a sorted sequence into (key, values) with all values of one key together. */
export function* groupByKey(pairs: Iterable<Pair>): Generator<[string, string[]]> {
  let key: string | null = null;
  let values: string[] = [];
  for (const [k, v] of pairs) {
    if (k !== key) {
      if (key !== null) yield [key, values];
      key = k;
      values = [];
    }
    values.push(v);
  }
  if (key !== null) yield [key, values];
}
