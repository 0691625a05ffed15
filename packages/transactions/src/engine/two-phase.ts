// Two-phase commit, the participant side (DDIA ch. 9 "Atomic commit and two-phase commit"):
// PREPARE makes a transaction's writes durable while keeping its locks, and from then on
// only the coordinator's decision (COMMIT PREPARED / ROLLBACK PREPARED, by global id)
// finishes it. A prepared transaction survives a restart: replay restores it from its
// `prepare` record, locks included (replay.ts).
import { CommonErrors, DdiaError } from '@ddia/common/core';
import { TxError, TxErrors } from '../errors.js';
import type { Tx } from './transaction.js';
import type { CommitLog, WalWrite } from './wal-record.js';

/** What the participant side needs from the transaction manager. */
export interface PreparedHost {
  txOrThrow(txId: number): Tx;
  checkIdle(tx: Tx): void;
  /** Throws (aborting `tx`) if it may not commit: doomed, or failing SSI's pre-commit check. */
  checkCommittable(tx: Tx): void;
  commitNow(tx: Tx, log: boolean): Promise<void>;
  abort(tx: Tx, reason: string): void;
  walWrites(tx: Tx): WalWrite[];
  wal(): CommitLog | undefined;
}

export class PreparedTransactions {
  private readonly byGid = new Map<string, Tx>();

  constructor(private readonly host: PreparedHost) {}

  /** Phase 1: makes the writes durable as "prepared"; the locks stay until the decision. */
  async prepare(txId: number, gid: string): Promise<void> {
    const tx = this.host.txOrThrow(txId);
    this.host.checkIdle(tx);
    if (this.byGid.has(gid)) throw new DdiaError(CommonErrors.conflict, `global id ${gid} is already in use`);
    this.host.checkCommittable(tx);
    tx.prepared = true;
    tx.idleTimer?.cancel();
    this.byGid.set(gid, tx);
    await this.host.wal()?.append({ type: 'prepare', gid, writes: this.host.walWrites(tx) });
  }

  ids(): string[] {
    return [...this.byGid.keys()];
  }

  /** The undecided prepared transactions by global id (a checkpoint records their writes). */
  entries(): [string, Tx][] {
    return [...this.byGid.entries()];
  }

  async commit(gid: string): Promise<void> {
    const tx = this.take(gid);
    // The decision is numbered in the WAL in the same turn as the versions become committed,
    // so a checkpoint taken in between cannot hold the commit without the record (or the
    // record without the commit).
    const committed = this.host.commitNow(tx, false);
    const logged = this.host.wal()?.append({ type: 'commit-prepared', gid });
    await committed;
    await logged;
  }

  async rollback(gid: string): Promise<void> {
    const tx = this.take(gid);
    this.host.abort(tx, `rolled back prepared ${gid}`);
    await this.host.wal()?.append({ type: 'rollback-prepared', gid });
  }

  /** Recovery: a transaction rebuilt from its `prepare` record waits for its decision again. */
  restore(gid: string, tx: Tx): void {
    tx.prepared = true;
    this.byGid.set(gid, tx);
  }

  /** Recovery: the prepared transaction of `gid`, removed, or undefined if none is known. */
  takeRecovered(gid: string): Tx | undefined {
    const tx = this.byGid.get(gid);
    if (!tx) return undefined;
    this.byGid.delete(gid);
    tx.prepared = false;
    return tx;
  }

  private take(gid: string): Tx {
    const tx = this.takeRecovered(gid);
    if (!tx) throw new TxError(TxErrors.txNotFound, `no prepared transaction ${gid}`);
    return tx;
  }
}
