// Serializable snapshot isolation (Cahill, Röhm, Fekete, SIGMOD 2008; Ports & Grittner,
// VLDB 2012 for PostgreSQL's refinements). Transactions run on snapshots as in repeatable
// read; in addition every read leaves a SIREAD marker, and each rw-antidependency
// ("T1 read a version that T2 overwrote, concurrently") becomes an edge T1 -rw-> T2.
// Every cycle in a snapshot-isolation history contains a "dangerous structure"
// Tin -rw-> Tpivot -rw-> Tout where Tout commits first; we abort one transaction of any
// such structure. Markers of committed transactions stay until no concurrent transaction
// is left, because a later write can still complete a structure through them.
import { TxError, TxErrors } from '../errors.js';
import { type Compiled, coveredBy, type Row } from './expression.js';
import type { Tx, TxTable, TxVersion } from './transaction.js';

function committedSeq(t: Tx): number {
  return t.commitSeq ?? Number.POSITIVE_INFINITY;
}

function isCommitted(t: Tx): boolean {
  return t.commitSeq !== undefined && t.status !== 'aborted';
}

/** Two transactions overlap unless one committed before the other took its snapshot. */
export function concurrent(a: Tx, b: Tx): boolean {
  if (a === b) return false;
  if (a.commitSeq !== undefined && b.snapshotSeq !== undefined && a.commitSeq <= b.snapshotSeq) return false;
  if (b.commitSeq !== undefined && a.snapshotSeq !== undefined && b.commitSeq <= a.snapshotSeq) return false;
  return true;
}

export class SsiTracker {
  private readonly items = new Map<TxTable, Map<string, Set<Tx>>>();
  private readonly predicates = new Map<TxTable, { tx: Tx; predicate: Compiled }[]>();
  private readonly retained = new Set<Tx>();
  private readonly readKeys = new Map<Tx, { table: TxTable; key: string }[]>();

  /** `reader` saw the version at `visible` in `chain`; any newer one is an rw-antidependency. */
  onRead(reader: Tx, table: TxTable, key: string, chain: TxVersion[], visible: number): void {
    let keys = this.readKeys.get(reader);
    if (!keys) this.readKeys.set(reader, (keys = []));
    let byKey = this.items.get(table);
    if (!byKey) this.items.set(table, (byKey = new Map()));
    let readers = byKey.get(key);
    if (!readers) byKey.set(key, (readers = new Set()));
    if (!readers.has(reader)) {
      readers.add(reader);
      keys.push({ table, key });
    }
    for (let i = visible + 1; i < chain.length; i++) {
      const writer = chain[i]!.creator;
      if (writer && writer !== reader && writer.usesSsi && writer.status !== 'aborted') {
        this.addEdge(reader, writer, reader);
      }
    }
  }

  /** A predicate read: phantoms (rows inserted later that match) become conflicts too. */
  onPredicateRead(reader: Tx, table: TxTable, predicate: Compiled): void {
    let list = this.predicates.get(table);
    if (!list) this.predicates.set(table, (list = []));
    list.push({ tx: reader, predicate });
  }

  /** The newer, invisible versions of a chain whose rows match a predicate the reader used. */
  onPredicateScan(reader: Tx, chain: TxVersion[], visible: number, predicate: Compiled): void {
    for (let i = visible + 1; i < chain.length; i++) {
      const v = chain[i]!;
      const writer = v.creator;
      if (!writer || writer === reader || !writer.usesSsi || writer.status === 'aborted') continue;
      const before = visible >= 0 ? chain[visible]!.row : null;
      if (coveredBy(predicate, v.row) || coveredBy(predicate, before)) {
        this.addEdge(reader, writer, reader);
      }
    }
  }

  /** `writer` replaced `before` by `after` in row `key`: every concurrent reader of it gains an edge. */
  onWrite(writer: Tx, table: TxTable, key: string, before: Row | null, after: Row | null): void {
    const readers = this.items.get(table)?.get(key);
    if (readers) {
      for (const reader of [...readers]) {
        if (reader !== writer && reader.status !== 'aborted' && concurrent(reader, writer)) {
          this.addEdge(reader, writer, writer);
        }
      }
    }
    for (const { tx: reader, predicate } of this.predicates.get(table) ?? []) {
      if (reader === writer || reader.status === 'aborted' || !concurrent(reader, writer)) continue;
      if (coveredBy(predicate, before) || coveredBy(predicate, after)) {
        this.addEdge(reader, writer, writer);
      }
    }
  }

  /** Before `tx` commits: is it the pivot of a structure whose Tout has already committed? */
  preCommit(tx: Tx): void {
    for (const tin of tx.inConflicts) {
      for (const tout of tx.outConflicts) {
        if (this.dangerous(tin, tx, tout)) this.resolve(tin, tx, tout, tx);
      }
    }
  }

  /** After `tx` got its commit sequence: structures in which it is Tout and commits first. */
  onCommit(tx: Tx): void {
    for (const pivot of [...tx.inConflicts]) {
      for (const tin of [...pivot.inConflicts]) {
        if (this.dangerous(tin, pivot, tx)) this.resolve(tin, pivot, tx, tx);
      }
    }
  }

  /** Forgets an aborted transaction at once and committed ones no active transaction overlaps. */
  onFinish(tx: Tx, active: Iterable<Tx>): void {
    if (tx.status === 'aborted') this.forget(tx);
    else if (tx.usesSsi) this.retained.add(tx);
    let oldestSnapshot = Number.POSITIVE_INFINITY;
    for (const a of active) {
      if (a.usesSsi && !a.finished) {
        oldestSnapshot = Math.min(oldestSnapshot, a.snapshotSeq ?? a.horizonSeq);
      }
    }
    for (const old of this.retained) {
      if ((old.commitSeq ?? 0) <= oldestSnapshot) this.forget(old);
    }
  }

  get retainedCount(): number {
    return this.retained.size;
  }

  private forget(tx: Tx): void {
    this.retained.delete(tx);
    for (const { table, key } of this.readKeys.get(tx) ?? []) {
      const readers = this.items.get(table)?.get(key);
      readers?.delete(tx);
      if (readers && readers.size === 0) this.items.get(table)!.delete(key);
    }
    this.readKeys.delete(tx);
    for (const [table, list] of this.predicates) {
      const kept = list.filter((p) => p.tx !== tx);
      if (kept.length === 0) this.predicates.delete(table);
      else this.predicates.set(table, kept);
    }
    for (const other of tx.inConflicts) other.outConflicts.delete(tx);
    for (const other of tx.outConflicts) other.inConflicts.delete(tx);
    tx.inConflicts.clear();
    tx.outConflicts.clear();
  }

  private addEdge(reader: Tx, writer: Tx, actor: Tx): void {
    if (reader.outConflicts.has(writer)) return;
    reader.outConflicts.add(writer);
    writer.inConflicts.add(reader);
    for (const tin of [...reader.inConflicts]) {
      if (this.dangerous(tin, reader, writer)) this.resolve(tin, reader, writer, actor);
    }
    for (const tout of [...writer.outConflicts]) {
      if (this.dangerous(reader, writer, tout)) this.resolve(reader, writer, tout, actor);
    }
  }

  /**
   * Tin -rw-> Tpivot -rw-> Tout can close a cycle only if Tout commits before both others
   * (Ports & Grittner §3.3), and, when Tin is read-only, only if Tout committed before Tin
   * took its snapshot (§4.1, the read-only optimisation; Fekete's read-only anomaly).
   */
  private dangerous(tin: Tx, pivot: Tx, tout: Tx): boolean {
    if (tin.status === 'aborted' || pivot.status === 'aborted' || tout.status === 'aborted') return false;
    if (!isCommitted(tout)) return false;
    const outSeq = tout.commitSeq!;
    if (committedSeq(pivot) < outSeq) return false;
    if (committedSeq(tin) < outSeq) return false;
    if (isCommitted(tin) && tin.writes.length === 0 && tin !== tout) {
      if (tin.snapshotSeq !== undefined && outSeq > tin.snapshotSeq) return false;
    }
    return true;
  }

  /** Aborts the pivot if it has not committed, else Tin: the one acting now fails at once. */
  private resolve(tin: Tx, pivot: Tx, tout: Tx, actor: Tx): void {
    const victim = !isCommitted(pivot) ? pivot : !isCommitted(tin) ? tin : null;
    if (!victim) return;
    const message =
      `could not serialize access due to read/write dependencies among transactions: ` +
      `tx ${tin.id} -rw-> tx ${pivot.id} -rw-> tx ${tout.id} and tx ${tout.id} committed first; ` +
      `tx ${victim.id} is aborted (retry it)`;
    if (victim === actor) throw new TxError(TxErrors.serialization, message, { txId: victim.id });
    victim.doomed ??= message;
  }
}
