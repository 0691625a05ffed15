// The locks of the lock-based levels: strict two-phase locking's predicate (shared) locks,
// held to the end of the transaction (DDIA ch. 7 "Predicate locks"), and the single token
// of serial execution (VoltDB / H-Store: one transaction at a time, in arrival order).
// Row (exclusive) locks need no table here: an uncommitted version at the head of a
// chain is the row's lock (table.ts). Every wait goes through deadlock detection.
import type { TimerClock } from '@ddia/common/core';
import { TxError, TxErrors } from '../errors.js';
import { waitFor } from './deadlock.js';
import { type Compiled, coveredBy, type Row } from './expression.js';
import { chainsFor, committedRow, otherWriter } from './table.js';
import type { Tx, TxTable } from './transaction.js';

export class LockManager {
  private readonly predicateLocks = new Map<TxTable, { tx: Tx; predicate: Compiled }[]>();
  private readonly serialQueue: (() => void)[] = [];
  private serialHolder: Tx | null = null;

  constructor(
    private readonly clock: TimerClock,
    readonly lockTimeoutMs: number,
    /** Called once per wait, for the engine's statistics. */
    private readonly onWait: () => void,
  ) {}

  /**
   * Sleeps until a blocker finishes (or throws on deadlock or lock timeout); the caller
   * looks at the row again afterwards.
   */
  async wait(tx: Tx, blockers: Set<Tx>, what: string): Promise<void> {
    this.onWait();
    await waitFor(tx, blockers, this.clock, this.lockTimeoutMs, what);
    if (tx.status === 'aborted') {
      throw new TxError(TxErrors.txAborted, `tx ${tx.id} was aborted while waiting: ${tx.abortReason}`);
    }
  }

  /** Strict 2PL read: wait until no other transaction holds an uncommitted write the predicate covers. */
  async lockPredicate(tx: Tx, table: TxTable, predicate: Compiled): Promise<void> {
    for (;;) {
      const blockers = new Set<Tx>();
      for (const [, chain] of chainsFor(table, predicate)) {
        const writer = otherWriter(chain, tx);
        if (!writer) continue;
        const head = chain[chain.length - 1]!;
        if (coveredBy(predicate, head.row) || coveredBy(predicate, committedRow(chain))) blockers.add(writer);
      }
      if (blockers.size === 0) break;
      await this.wait(tx, blockers, `rows of ${table.name} matching ${predicate.source}`);
    }
    let list = this.predicateLocks.get(table);
    if (!list) this.predicateLocks.set(table, (list = []));
    list.push({ tx, predicate });
    tx.predicateLocks.push({ table, predicate });
  }

  /** Holders of 2PL predicate locks that cover the row before or after a write. */
  predicateLockBlockers(tx: Tx, table: TxTable, before: Row | null, after: Row | null): Set<Tx> {
    const blockers = new Set<Tx>();
    for (const lock of this.predicateLocks.get(table) ?? []) {
      if (lock.tx === tx || lock.tx.finished) continue;
      if (coveredBy(lock.predicate, before) || coveredBy(lock.predicate, after)) blockers.add(lock.tx);
    }
    return blockers;
  }

  async acquireSerialToken(tx: Tx): Promise<void> {
    while (this.serialHolder !== null) {
      await new Promise<void>((resolve) => this.serialQueue.push(resolve));
      if (tx.status === 'aborted') throw new TxError(TxErrors.txAborted, `tx ${tx.id} was aborted`);
    }
    this.serialHolder = tx;
  }

  /** Releases everything `tx` holds: its predicate locks and, if it has it, the serial token. */
  releaseAll(tx: Tx): void {
    for (const { table } of tx.predicateLocks) {
      const kept = (this.predicateLocks.get(table) ?? []).filter((l) => l.tx !== tx);
      if (kept.length === 0) this.predicateLocks.delete(table);
      else this.predicateLocks.set(table, kept);
    }
    if (this.serialHolder === tx) {
      this.serialHolder = null;
      this.serialQueue.shift()?.();
    }
  }
}
