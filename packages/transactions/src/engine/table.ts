// A table: rows of JSON keyed by their primary key, each row a chain of versions
// (multi-version concurrency control, DDIA ch. 7 "Implementing snapshot isolation").
// A version is committed once it has a commit sequence number; uncommitted versions sit
// at the head of a chain and act as the row's write lock.
//
// Storage is generic over the writer's identity `W`: it only compares writers for
// identity (is this my own write? is the head someone else's?), so it needs to know
// nothing of transactions, and transaction.ts can depend on it without a cycle.
import type { Compiled, Row } from './expression.js';

export interface Version<W> {
  /** null once the creator is forgotten (recovered from the WAL, or long committed). */
  creator: W | null;
  /** Null row = a deletion marker (tombstone). */
  row: Row | null;
  commitSeq: number | undefined;
}

export type ReadMode =
  | { kind: 'snapshot'; seq: number }
  /** Read uncommitted: the newest version, whoever wrote it. */
  | { kind: 'dirty' }
  /** Lock-based levels read the newest committed version (locks keep it stable). */
  | { kind: 'latest' };

export class Table<W> {
  readonly chains = new Map<string, Version<W>[]>();
  dropped = false;
  constructor(
    readonly name: string,
    readonly primaryKey: string,
  ) {}

  chain(key: string): Version<W>[] {
    let c = this.chains.get(key);
    if (!c) {
      c = [];
      this.chains.set(key, c);
    }
    return c;
  }
}

/** The primary key's encoding in the version map: 1 and "1" are different keys. */
export function keyOf(value: unknown): string {
  return JSON.stringify(value);
}

/** Index of the version `reader` sees in `chain` under `mode`, or -1 when it sees none. */
export function visibleIndex<W>(chain: Version<W>[], reader: W, mode: ReadMode): number {
  for (let i = chain.length - 1; i >= 0; i--) {
    const v = chain[i]!;
    if (v.creator === reader) return i;
    switch (mode.kind) {
      case 'dirty':
        return i;
      case 'latest':
        if (v.commitSeq !== undefined) return i;
        break;
      case 'snapshot':
        if (v.commitSeq !== undefined && v.commitSeq <= mode.seq) return i;
        break;
    }
  }
  return -1;
}

/** The uncommitted head of a chain written by someone other than `me`: the row's lock holder. */
export function otherWriter<W>(chain: Version<W>[], me: W): W | null {
  const head = chain[chain.length - 1];
  if (!head || head.commitSeq !== undefined || head.creator === me) return null;
  return head.creator;
}

/** The newest committed row before any uncommitted head: the "before image" of a pending write. */
export function committedRow<W>(chain: Version<W>[]): Row | null {
  for (let i = chain.length - 1; i >= 0; i--) {
    if (chain[i]!.commitSeq !== undefined) return chain[i]!.row;
  }
  return null;
}

/**
 * Drops versions nobody can see any more: everything older than the newest version
 * committed at or below `horizonSeq` (the oldest snapshot still in use). Returns the
 * number of versions removed.
 */
export function collectGarbage<W>(table: Table<W>, key: string, horizonSeq: number): number {
  const chain = table.chains.get(key);
  if (!chain) return 0;
  let keep = -1;
  for (let i = chain.length - 1; i >= 0; i--) {
    const v = chain[i]!;
    if (v.commitSeq !== undefined && v.commitSeq <= horizonSeq) {
      keep = i;
      break;
    }
  }
  let removed = 0;
  if (keep > 0) {
    chain.splice(0, keep);
    removed = keep;
  }
  const first = chain[0];
  if (first && first.commitSeq !== undefined && first.commitSeq <= horizonSeq) {
    // Everyone sees this version, so its creator's identity no longer matters.
    first.creator = null;
    if (first.row === null && chain.length === 1) {
      table.chains.delete(key);
      removed++;
    }
  }
  if (chain.length === 0) table.chains.delete(key);
  return removed;
}

/**
 * The primary key a predicate pins down (`id = 3`, `3 = id`, or such a term inside an
 * `and`), so that the statement reads one chain instead of scanning the table: the
 * primary-key index lookup of a real database.
 */
export function pinnedKey(predicate: Compiled, primaryKey: string): string | undefined {
  const visit = (e: Compiled['ast']): string | undefined => {
    if (e.kind !== 'binary') return undefined;
    if (e.op === 'and') return visit(e.left) ?? visit(e.right);
    if (e.op !== '=') return undefined;
    const [col, lit] = e.left.kind === 'column' ? [e.left, e.right] : [e.right, e.left];
    if (col.kind !== 'column' || col.name !== primaryKey || lit.kind !== 'literal') return undefined;
    return typeof lit.value === 'number' || typeof lit.value === 'string' ? keyOf(lit.value) : undefined;
  };
  return visit(predicate.ast);
}

/** The chains a predicate can match: one when it pins the primary key, else all. */
export function chainsFor<W>(table: Table<W>, predicate: Compiled): Iterable<[string, Version<W>[]]> {
  const key = pinnedKey(predicate, table.primaryKey);
  if (key === undefined) return table.chains;
  const chain = table.chains.get(key);
  return chain ? [[key, chain]] : [];
}
