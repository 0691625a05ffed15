// The replicated log as one node sees it: a snapshot (everything up to `snapshot.index`,
// compacted away) followed by the entries after it, all held in memory. `stabled` marks how
// much of it the caller has made durable; `committed` and `applied` are the usual Raft
// indexes (Figure 2). Invariant: snapshot.index <= applied <= committed <= lastIndex.
//
// The entries are held as columns (a term array, a type array and the data), not as an Entry
// object each: a member keeps up to --snapshot-entries of them, and as objects (with their
// index and term boxed as heap numbers) they were half of a busy kv-store member's heap, for
// every garbage collection to mark. Entry objects are made when asked for, and die young.
import { assert } from '@ddia/common/core';
import {
  ENTRY_TYPE_CODE,
  ENTRY_TYPES,
  type Entry,
  type EntryType,
  type Snapshot,
  type SnapshotMeta,
} from './types.js';

/** Entries the columns hold at first; they double when full. */
const INITIAL_ENTRIES = 1024;

export class RaftLog {
  /** Metadata of the snapshot the log starts after (index 0, term 0 for a fresh log). */
  snapshotMeta: SnapshotMeta;
  /** A snapshot received from the leader and not yet persisted by the caller. */
  unstableSnapshot: Snapshot | null = null;
  /** Entry snapshotMeta.index + 1 + i is (terms[i], ENTRY_TYPES[types[i]], datas[i]). */
  private terms = new Float64Array(INITIAL_ENTRIES);
  private types = new Uint8Array(INITIAL_ENTRIES);
  private datas: Uint8Array[] = [];
  committed: number;
  applied: number;
  /** The highest index the caller has persisted. */
  stabled: number;

  constructor(snapshotMeta: SnapshotMeta, entries: Entry[], committed: number) {
    this.snapshotMeta = snapshotMeta;
    for (let i = 0; i < entries.length; i++) {
      assert(entries[i].index === snapshotMeta.index + 1 + i, 'log entries must be dense after the snapshot');
      this.push(entries[i]);
    }
    this.stabled = this.lastIndex();
    this.committed = Math.max(committed, snapshotMeta.index);
    assert(this.committed <= this.lastIndex(), `commit ${this.committed} beyond last ${this.lastIndex()}`);
    this.applied = snapshotMeta.index;
  }

  firstIndex(): number {
    return this.snapshotMeta.index + 1;
  }

  lastIndex(): number {
    return this.snapshotMeta.index + this.datas.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) as number;
  }

  /** The term of the entry at `index`, or undefined if compacted away or not yet present. */
  term(index: number): number | undefined {
    if (index === this.snapshotMeta.index) return this.snapshotMeta.term;
    if (index < this.snapshotMeta.index || index > this.lastIndex()) return undefined;
    return this.terms[index - this.snapshotMeta.index - 1];
  }

  /** A fresh Entry object for `index` (the log keeps none). */
  entry(index: number): Entry | undefined {
    if (index <= this.snapshotMeta.index || index > this.lastIndex()) return undefined;
    return this.at(index - this.snapshotMeta.index - 1);
  }

  /** The type of the entry at `index`, without making an Entry; undefined if not held. */
  typeOf(index: number): EntryType | undefined {
    if (index <= this.snapshotMeta.index || index > this.lastIndex()) return undefined;
    return ENTRY_TYPES[this.types[index - this.snapshotMeta.index - 1]!];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: a candidate's log is at least as up-to-date as ours if its last term is higher,
   *  or the terms are equal and it is at least as long. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Entries in [lo, hi) limited to about `bytesMax` (at least one entry). */
  slice(
    lo: number,
    hi: number,
    bytesMax = Number.POSITIVE_INFINITY,
    countMax = Number.POSITIVE_INFINITY,
  ): Entry[] {
    assert(lo >= this.firstIndex(), `slice from compacted index ${lo}`);
    hi = Math.min(hi, this.lastIndex() + 1);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi && out.length < countMax; i++) {
      const at = i - this.snapshotMeta.index - 1;
      bytes += this.datas[at]!.length + 16;
      if (out.length > 0 && bytes > bytesMax) break;
      out.push(this.at(at));
    }
    return out;
  }

  private at(i: number): Entry {
    return {
      index: this.snapshotMeta.index + 1 + i,
      term: this.terms[i]!,
      type: ENTRY_TYPES[this.types[i]!]!,
      data: this.datas[i]!,
    };
  }

  private push(e: Entry): void {
    const i = this.datas.length;
    if (i === this.terms.length) {
      const terms = new Float64Array(i * 2);
      terms.set(this.terms);
      this.terms = terms;
      const types = new Uint8Array(i * 2);
      types.set(this.types);
      this.types = types;
    }
    this.terms[i] = e.term;
    this.types[i] = ENTRY_TYPE_CODE.get(e.type) as number;
    this.datas.push(e.data);
  }

  /** First index of `term` in the log, scanning back from `from` (fast back-off, §5.3). */
  firstIndexOfTerm(term: number, from: number): number {
    let i = from;
    while (i > this.firstIndex() && this.term(i - 1) === term) i--;
    return i;
  }

  /** Last index holding `term` or an older one, at or below `from`; 0 if none. */
  lastIndexOfTermAtMost(term: number, from: number): number {
    for (let i = Math.min(from, this.lastIndex()); i >= this.snapshotMeta.index; i--) {
      const t = this.term(i);
      if (t !== undefined && t <= term) return i;
    }
    return 0;
  }

  /** Appends the leader's entries after `prevIndex`, deleting a conflicting suffix first
   *  (Figure 2, AppendEntries receiver rules 3 and 4). Returns the last new index. */
  appendFromLeader(prevIndex: number, entries: Entry[]): number {
    for (const e of entries) {
      const mine = this.term(e.index);
      if (mine === e.term) continue;
      if (e.index <= this.snapshotMeta.index) continue;
      // A conflict: never truncate what is committed (that would break State Machine Safety).
      assert(e.index > this.committed, `conflict at committed index ${e.index} (commit ${this.committed})`);
      if (mine !== undefined) this.truncateFrom(e.index);
      this.appendLocal(entries.slice(entries.indexOf(e)));
      break;
    }
    return prevIndex + entries.length;
  }

  appendLocal(entries: Entry[]): void {
    for (const e of entries) {
      assert(e.index === this.lastIndex() + 1, `append out of order: ${e.index} after ${this.lastIndex()}`);
      this.push(e);
    }
  }

  private truncateFrom(index: number): void {
    this.datas.length = index - this.snapshotMeta.index - 1;
    this.stabled = Math.min(this.stabled, index - 1);
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    assert(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  /** Committed entries the application has not been handed yet. */
  nextCommitted(countMax = Number.POSITIVE_INFINITY): Entry[] {
    if (this.committed <= this.applied) return [];
    return this.slice(this.applied + 1, this.committed + 1, Number.POSITIVE_INFINITY, countMax);
  }

  unstableEntries(): Entry[] {
    if (this.stabled >= this.lastIndex()) return [];
    return this.slice(Math.max(this.stabled + 1, this.firstIndex()), this.lastIndex() + 1);
  }

  /** The caller persisted up to (index, term); ignore if the log changed underneath since. */
  stableTo(index: number, term: number): void {
    if (this.term(index) === term && index > this.stabled) this.stabled = index;
  }

  /** Replaces the whole log by a snapshot from the leader (InstallSnapshot, Figure 13). */
  restore(snapshot: Snapshot): void {
    const { index } = snapshot.meta;
    this.snapshotMeta = snapshot.meta;
    this.datas = [];
    this.committed = index;
    this.applied = index;
    this.stabled = index;
    this.unstableSnapshot = snapshot;
  }

  /** Drops entries up to `meta.index` once the caller holds a snapshot covering them (§7). */
  compact(meta: SnapshotMeta): void {
    if (meta.index <= this.snapshotMeta.index) return;
    assert(meta.index <= this.applied, `compact ${meta.index} beyond applied ${this.applied}`);
    assert(this.term(meta.index) === meta.term, 'compaction term mismatch');
    const dropped = meta.index - this.snapshotMeta.index;
    this.terms.copyWithin(0, dropped, this.datas.length);
    this.types.copyWithin(0, dropped, this.datas.length);
    this.datas = this.datas.slice(dropped);
    this.snapshotMeta = meta;
  }
}
