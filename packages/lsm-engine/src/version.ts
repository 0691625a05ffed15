// A Version is one immutable set of live tables, arranged in levels (LevelDB's version_set.cc).
// Level 0 holds tables in arrival order (newest first; their key ranges overlap). Levels 1+
// hold tables with disjoint user-key ranges, sorted by key. A flush or compaction never
// edits a Version: it applies a VersionEdit to get the next one, so readers holding the
// old Version keep a consistent view while the tree changes under them.
import { assert } from '@ddia/common/core';
import { compareKeys } from './internal-key.js';

export const LEVELS = 7;

export interface TableMeta {
  number: number;
  bytes: number;
  smallest: Buffer;
  largest: Buffer;
  smallestSeq: number;
  largestSeq: number;
  entries: number;
}

/** A change to the set of tables and counters, as logged in the manifest. */
export interface VersionEdit {
  walIndex?: number;
  nextFileNumber?: number;
  lastSeq?: number;
  compactPointers?: [level: number, key: Buffer][];
  removed?: [level: number, fileNumber: number][];
  added?: [level: number, table: TableMeta][];
}

export class Version {
  /** Iterators and in-flight reads holding this version (the current one holds one more). */
  refs = 0;

  constructor(readonly levels: readonly (readonly TableMeta[])[]) {
    assert(levels.length === LEVELS, 'a version has every level');
  }

  static empty(): Version {
    return new Version(Array.from({ length: LEVELS }, () => []));
  }

  /** The version after `edit`: removals first, then additions, levels re-sorted. */
  apply(edit: VersionEdit): Version {
    const removed = new Set((edit.removed ?? []).map(([level, n]) => `${level}:${n}`));
    const levels = this.levels.map((tables, level) =>
      tables.filter((t) => !removed.has(`${level}:${t.number}`)),
    );
    for (const [level, table] of edit.added ?? []) levels[level]!.push(table);
    // Level 0: newest first, by the newest sequence number a table holds.
    levels[0]!.sort((a, b) => b.largestSeq - a.largestSeq || b.number - a.number);
    for (let level = 1; level < LEVELS; level++)
      levels[level]!.sort((a, b) => compareKeys(a.smallest, b.smallest));
    return new Version(levels);
  }

  levelBytes(level: number): number {
    let sum = 0;
    for (const t of this.levels[level]!) sum += t.bytes;
    return sum;
  }

  totalBytes(): number {
    let sum = 0;
    for (let level = 0; level < LEVELS; level++) sum += this.levelBytes(level);
    return sum;
  }

  /** Tables of `level` whose user-key range intersects [smallest, largest]. */
  overlapping(level: number, smallest: Uint8Array, largest: Uint8Array): TableMeta[] {
    return this.levels[level]!.filter(
      (t) => compareKeys(t.largest, smallest) >= 0 && compareKeys(t.smallest, largest) <= 0,
    );
  }

  /** In a level >= 1, the one table whose range may hold `key`, or null (binary search). */
  tableFor(level: number, key: Uint8Array): TableMeta | null {
    const tables = this.levels[level]!;
    let lo = 0;
    let hi = tables.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareKeys(tables[mid]!.largest, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    const t = tables[lo];
    return t && compareKeys(t.smallest, key) <= 0 ? t : null;
  }

  fileNumbers(): Set<number> {
    const out = new Set<number>();
    for (const tables of this.levels) for (const t of tables) out.add(t.number);
    return out;
  }

  /** Checks the invariant of levels 1+: sorted, disjoint key ranges. */
  checkInvariants(): void {
    for (let level = 1; level < LEVELS; level++) {
      const tables = this.levels[level]!;
      for (let i = 1; i < tables.length; i++) {
        assert(
          compareKeys(tables[i - 1]!.largest, tables[i]!.smallest) < 0,
          `level ${level} tables ${tables[i - 1]!.number} and ${tables[i]!.number} overlap`,
        );
      }
    }
  }
}
