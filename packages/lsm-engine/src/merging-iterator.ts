// Merges sorted sources into one sorted stream (book ch. 3: "like the merge step of
// mergesort"). A read sees memtables, level-0 tables and one iterator per deeper level at
// once. The direction is fixed when the iterator is made, as every abstract-level iterator's
// is; seek() may be called any number of times. A linear scan picks the smallest (or
// largest) child: with the dozen sources an LSM has, it beats a heap's bookkeeping.
import { compareKeys, type InternalIterator } from './internal-key.js';
import type { Table } from './table.js';
import type { TableMeta } from './version.js';

export class MergingIterator {
  private current: InternalIterator | null = null;
  private runnerUp: InternalIterator | null = null;

  constructor(
    private readonly children: InternalIterator[],
    readonly reverse: boolean,
  ) {}

  valid(): boolean {
    return this.current !== null;
  }

  /** Forward: the first entry. Reverse: the last entry. */
  start(): void {
    for (const c of this.children) {
      if (this.reverse) c.seekToLast();
      else c.seekToFirst();
    }
    this.pick();
  }

  /** Forward: first entry >= (key, seq). Reverse: last entry < (key, seq). */
  seek(key: Uint8Array, seq: number): void {
    for (const c of this.children) {
      c.seek(key, seq);
      if (this.reverse) {
        if (c.valid()) c.prev();
        else c.seekToLast();
      }
    }
    this.pick();
  }

  advance(): void {
    const c = this.current!;
    if (this.reverse) c.prev();
    else c.next();
    // No other child moved: the current one stays ahead while it still beats the runner-up,
    // one comparison instead of one per child (a scan mostly reads long runs of one source).
    const r = this.runnerUp;
    if (c.valid() && (r === null || (this.reverse ? compareChildren(c, r) > 0 : compareChildren(c, r) < 0)))
      return;
    this.pick();
  }

  key(): Buffer {
    return this.current!.key();
  }
  seq(): number {
    return this.current!.seq();
  }
  kind(): number {
    return this.current!.kind();
  }
  value(): Buffer {
    return this.current!.value();
  }

  /** Finds the child ahead (the current one) and the next best (the runner-up). */
  private pick(): void {
    let best: InternalIterator | null = null;
    let second: InternalIterator | null = null;
    const sign = this.reverse ? -1 : 1;
    for (const c of this.children) {
      if (!c.valid()) continue;
      if (best === null) {
        best = c;
        continue;
      }
      if (compareChildren(c, best) * sign < 0) {
        second = best;
        best = c;
      } else if (second === null || compareChildren(c, second) * sign < 0) second = c;
    }
    this.current = best;
    this.runnerUp = second;
  }
}

/** Internal order of two children's current entries; the sequence is read only on a tie. */
function compareChildren(a: InternalIterator, b: InternalIterator): number {
  const c = compareKeys(a.key(), b.key());
  if (c !== 0) return c;
  const as = a.seq();
  const bs = b.seq();
  return as > bs ? -1 : as < bs ? 1 : 0;
}

/** Concatenates the disjoint, sorted tables of one level >= 1, opening each on demand. */
export class LevelIterator implements InternalIterator {
  private index = -1;
  private it: InternalIterator | null = null;

  constructor(
    private readonly tables: readonly TableMeta[],
    private readonly open: (meta: TableMeta) => Table,
    private readonly fillCache: boolean,
  ) {}

  valid(): boolean {
    return this.it?.valid() === true;
  }
  seekToFirst(): void {
    this.load(0);
    this.it?.seekToFirst();
    this.skipForward();
  }
  seekToLast(): void {
    this.load(this.tables.length - 1);
    this.it?.seekToLast();
    this.skipBackward();
  }
  seek(userKey: Uint8Array, seq: number): void {
    // The first table whose largest key is >= userKey.
    let lo = 0;
    let hi = this.tables.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareKeys(this.tables[mid]!.largest, userKey) < 0) lo = mid + 1;
      else hi = mid;
    }
    this.load(lo);
    this.it?.seek(userKey, seq);
    this.skipForward();
  }
  next(): void {
    this.it!.next();
    this.skipForward();
  }
  prev(): void {
    this.it!.prev();
    this.skipBackward();
  }
  key(): Buffer {
    return this.it!.key();
  }
  seq(): number {
    return this.it!.seq();
  }
  kind(): number {
    return this.it!.kind();
  }
  value(): Buffer {
    return this.it!.value();
  }

  private load(index: number): void {
    this.index = index;
    this.it =
      index >= 0 && index < this.tables.length
        ? this.open(this.tables[index]!).iterator(this.fillCache)
        : null;
  }

  private skipForward(): void {
    while (this.it !== null && !this.it.valid()) {
      this.load(this.index + 1);
      this.it?.seekToFirst();
    }
  }

  private skipBackward(): void {
    while (this.it !== null && !this.it.valid()) {
      this.load(this.index - 1);
      this.it?.seekToLast();
    }
  }
}
