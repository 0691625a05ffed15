// A table: rows of JSON keyed by their primary key, each row a chain of versions
// (multi-version concurrency control, DDIA ch. 7 "Implementing snapshot isolation").
// A version is committed once its creator has a commit sequence number; uncommitted
// versions sit at the head of a chain and act as the row's write lock.
import type { Row } from './expression.js';
import type { Tx } from './transaction.js';

export interface Version {
  /** null once the creator is forgotten (recovered from the WAL, or long committed). */
  creator: Tx | null;
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

export class Table {
  readonly chains = new Map<string, Version[]>();
  dropped = false;
  constructor(
    readonly name: string,
    readonly primaryKey: string,
  ) {}

  chain(key: string): Version[] {
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

/** Index of the version `tx` sees in `chain` under `mode`, or -1 when it sees none. */
export function visibleIndex(chain: Version[], tx: Tx, mode: ReadMode): number {
  for (let i = chain.length - 1; i >= 0; i--) {
    const v = chain[i]!;
    if (v.creator === tx) return i;
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

/** The uncommitted head of a chain written by someone other than `tx`: the row's lock holder. */
export function otherWriter(chain: Version[], tx: Tx): Tx | null {
  const head = chain[chain.length - 1];
  if (!head || head.commitSeq !== undefined || head.creator === tx) return null;
  return head.creator;
}

/** The newest committed row before any uncommitted head: the "before image" of a pending write. */
export function committedRow(chain: Version[]): Row | null {
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
export function collectGarbage(table: Table, key: string, horizonSeq: number): number {
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
