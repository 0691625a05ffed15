// The transaction manager: tables of versioned JSON rows, statements (query, insert,
// update, delete) run inside transactions at one of six isolation levels, commits made
// durable through a CommitLog before they are acknowledged. Pure: time comes from an
// injected TimerClock, durability from an injected CommitLog.
//
// How each level behaves (DDIA ch. 7; PostgreSQL's documented semantics, as recorded by
// the Hermitage suite):
// - read-uncommitted: reads see the newest version, committed or not; writes still take
//   row locks, so dirty writes are prevented.
// - read-committed: a fresh snapshot per statement; a write to a row another in-flight
//   transaction wrote waits for it, then re-checks the newest version against the where
//   clause (PostgreSQL's EvalPlanQual) and writes that.
// - repeatable-read: one snapshot per transaction (snapshot isolation); a write to a row
//   that changed since the snapshot fails (first updater wins).
// - serializable: repeatable read plus SSI conflict tracking (ssi.ts).
// - serializable-2pl: strict two-phase locking; reads take predicate locks held to the end,
//   writes take the row's exclusive lock (locking.ts); deadlocks are detected (deadlock.ts).
// - serial: one transaction at a time, in arrival order (VoltDB / H-Store).
import { assert, CommonErrors, DdiaError, type TimerClock } from '@ddia/common/core';
import { TxError, TxErrors } from '../errors.js';
import type { CheckpointImage } from './checkpoint-image.js';
import { type Compiled, evaluate, matches, type Row } from './expression.js';
import { LockManager } from './locking.js';
import { type ReplayHost, replayRecord, restoreImage } from './replay.js';
import { SsiTracker } from './ssi.js';
import {
  chainsFor,
  collectGarbage,
  committedRow,
  keyOf,
  otherWriter,
  type ReadMode,
  Table,
  visibleIndex,
} from './table.js';
import {
  ISOLATION_LEVELS,
  type Isolation,
  isIsolation,
  Tx,
  type TxTable,
  type TxVersion,
} from './transaction.js';
import { PreparedTransactions } from './two-phase.js';
import { checkName, checkRow, compile, compileSet, toDdiaError } from './validation.js';
import type { CommitLog, WalRecord, WalWrite } from './wal-record.js';

export { pinnedKey } from './table.js';
export { NAME_CHARS_MAX, ROW_BYTES_MAX } from './validation.js';

export const LOCK_TIMEOUT_DEFAULT_MS = 5_000;
export const IDLE_TIMEOUT_DEFAULT_MS = 60_000;
/** Open transactions at once; more get 429 rather than exhausting memory. */
export const TRANSACTIONS_MAX = 10_000;
export const TABLES_MAX = 256;
/** Finished transaction ids remembered, so a late statement learns why its transaction ended. */
export const FINISHED_REMEMBERED_MAX = 4096;
/** Every this many commits, all chains are vacuumed, not only the ones just written. */
export const VACUUM_EVERY_COMMITS = 512;

export interface DatabaseOptions {
  clock: TimerClock;
  wal?: CommitLog;
  lockTimeoutMs?: number;
  idleTimeoutMs?: number;
  /**
   * First transaction id. A restarted node must not reuse the ids of its previous life: a
   * coordinator still holding an old id would otherwise act on someone else's transaction.
   */
  firstTxId?: number;
}

export interface Statements {
  query(table: string, where?: string): Promise<Row[]>;
  insert(table: string, row: unknown): Promise<number>;
  update(table: string, where: string, set: Record<string, string>): Promise<number>;
  delete(table: string, where: string): Promise<number>;
}

export interface DatabaseStats {
  begun: number;
  commits: number;
  aborts: number;
  serializationFailures: number;
  deadlocks: number;
  lockTimeouts: number;
  waits: number;
  versions: number;
  active: number;
}

function comparePk(a: Row, b: Row, pk: string): number {
  const x = a[pk] as number | string;
  const y = b[pk] as number | string;
  if (typeof x === typeof y) return x < y ? -1 : x > y ? 1 : 0;
  return typeof x === 'number' ? -1 : 1;
}

const ABORTING_CODES: ReadonlySet<string> = new Set([
  TxErrors.serialization.code,
  TxErrors.deadlock.code,
  TxErrors.lockTimeout.code,
]);

export class Database {
  private readonly tables = new Map<string, TxTable>();
  private readonly active = new Map<number, Tx>();
  private readonly finishedTx = new Map<number, string>();
  private readonly ssi = new SsiTracker();
  private readonly locks: LockManager;
  private readonly prepared: PreparedTransactions;
  private lastCommitSeq = 0;
  private nextTxId = 1;
  private commitsSinceVacuum = 0;
  readonly clock: TimerClock;
  readonly lockTimeoutMs: number;
  readonly idleTimeoutMs: number;
  private wal: CommitLog | undefined;
  private readonly counters = {
    begun: 0,
    commits: 0,
    aborts: 0,
    serializationFailures: 0,
    deadlocks: 0,
    lockTimeouts: 0,
    waits: 0,
  };

  constructor(options: DatabaseOptions) {
    this.clock = options.clock;
    this.wal = options.wal;
    this.lockTimeoutMs = options.lockTimeoutMs ?? LOCK_TIMEOUT_DEFAULT_MS;
    this.idleTimeoutMs = options.idleTimeoutMs ?? IDLE_TIMEOUT_DEFAULT_MS;
    this.nextTxId = options.firstTxId ?? 1;
    this.locks = new LockManager(this.clock, this.lockTimeoutMs, () => {
      this.counters.waits++;
    });
    this.prepared = new PreparedTransactions({
      txOrThrow: (id) => this.txOrThrow(id),
      checkIdle: (tx) => this.checkIdle(tx),
      checkCommittable: (tx) => this.checkCommittable(tx),
      commitNow: (tx, log) => this.commitNow(tx, log),
      abort: (tx, reason) => this.abort(tx, reason),
      walWrites: (tx) => this.walWrites(tx),
      wal: () => this.wal,
    });
  }

  /** Attaches the log after recovery has replayed it (replay must not log again). */
  attachWal(wal: CommitLog): void {
    this.wal = wal;
  }

  // ---- tables (DDL is not transactional here: it applies and is logged at once) ----

  async createTable(name: unknown, primaryKey: unknown): Promise<void> {
    checkName(name, 'table name');
    checkName(primaryKey, 'primaryKey');
    if (this.tables.has(name)) throw new TxError(TxErrors.tableExists, `table ${name} already exists`);
    if (this.tables.size >= TABLES_MAX) {
      throw new DdiaError(CommonErrors.conflict, `at most ${TABLES_MAX} tables may exist`);
    }
    this.tables.set(name, new Table<Tx>(name, primaryKey));
    await this.wal?.append({ type: 'create-table', name, primaryKey });
  }

  async dropTable(name: string): Promise<void> {
    const table = this.tableOrThrow(name);
    table.dropped = true;
    this.tables.delete(name);
    await this.wal?.append({ type: 'drop-table', name });
  }

  listTables(): { name: string; primaryKey: string; rows: number }[] {
    return [...this.tables.values()].map((t) => ({
      name: t.name,
      primaryKey: t.primaryKey,
      rows: [...t.chains.values()].filter((c) => committedRow(c) !== null).length,
    }));
  }

  /** The newest committed rows of a table, outside any transaction (for tests and tools). */
  committedRows(name: string): Row[] {
    const table = this.tableOrThrow(name);
    const rows: Row[] = [];
    for (const chain of table.chains.values()) {
      const row = committedRow(chain);
      if (row) rows.push(structuredClone(row));
    }
    return rows.sort((a, b) => comparePk(a, b, table.primaryKey));
  }

  // ---- transactions ----

  async begin(isolation: unknown = 'read-committed'): Promise<number> {
    if (!isIsolation(isolation)) {
      throw new DdiaError(
        CommonErrors.validation,
        `isolation must be one of ${ISOLATION_LEVELS.join(', ')}; got ${JSON.stringify(isolation)}`,
      );
    }
    if (this.active.size >= TRANSACTIONS_MAX) {
      throw new TxError(TxErrors.tooManyTransactions, `${TRANSACTIONS_MAX} transactions are open`);
    }
    const tx = new Tx(this.nextTxId++, isolation, this.lastCommitSeq);
    this.active.set(tx.id, tx);
    this.counters.begun++;
    if (isolation === 'serial') await this.locks.acquireSerialToken(tx);
    this.armIdleTimer(tx);
    return tx.id;
  }

  isolationOf(txId: number): Isolation {
    return this.txOrThrow(txId).isolation;
  }

  query(txId: number, tableName: string, where?: string): Promise<Row[]> {
    const predicate = compile(where, 'where');
    return this.statement(txId, async (tx) => {
      const table = this.tableOrThrow(tableName);
      const rows = (await this.predicateRead(tx, table, predicate)).map((hit) =>
        structuredClone(hit.seen.row!),
      );
      return rows.sort((a, b) => comparePk(a, b, table.primaryKey));
    });
  }

  insert(txId: number, tableName: string, row: unknown): Promise<number> {
    return this.statement(txId, async (tx) => {
      const table = this.tableOrThrow(tableName);
      const checked = checkRow(table, row);
      const key = keyOf(checked[table.primaryKey]);
      for (;;) {
        const writerDone = this.waitForRowWriter(tx, table, key);
        if (writerDone) {
          await writerDone;
          continue;
        }
        const head = table.chains.get(key)?.at(-1);
        if (head && head.row !== null) {
          const snapshotSeq = tx.snapshotSeq ?? this.lastCommitSeq;
          if (tx.usesSsi && head.creator !== tx && (head.commitSeq ?? 0) > snapshotSeq) {
            // PostgreSQL 9.6+: a unique violation caused by a concurrent, invisible insert
            // is reported as a serialization failure at SERIALIZABLE.
            throw new TxError(
              TxErrors.serialization,
              `could not serialize access due to concurrent insert of ${table.primaryKey}=${key} in ${table.name}`,
              { txId: tx.id },
            );
          }
          throw new TxError(
            TxErrors.duplicateKey,
            `duplicate key value violates primary key: ${table.primaryKey}=${key} already exists in ${table.name}`,
          );
        }
        const locked = this.writeUnlessPredicateLocked(tx, table, key, null, checked);
        if (locked) {
          await locked;
          continue;
        }
        return 1;
      }
    });
  }

  update(txId: number, tableName: string, where: string, set: unknown): Promise<number> {
    const predicate = compile(where, 'where');
    const assignments = compileSet(set);
    return this.statement(txId, async (tx) => {
      const table = this.tableOrThrow(tableName);
      if (assignments.some(([column]) => column === table.primaryKey)) {
        throw new TxError(TxErrors.badRow, `set may not change the primary key ${table.primaryKey}`);
      }
      return this.writeWhere(tx, table, predicate, (row) => {
        const next = structuredClone(row);
        for (const [column, expr] of assignments) {
          try {
            next[column] = evaluate(expr, row);
          } catch (e) {
            throw toDdiaError(e, `set ${column}`);
          }
        }
        return checkRow(table, next);
      });
    });
  }

  delete(txId: number, tableName: string, where: string): Promise<number> {
    const predicate = compile(where, 'where');
    return this.statement(txId, async (tx) => {
      const table = this.tableOrThrow(tableName);
      return this.writeWhere(tx, table, predicate, () => null);
    });
  }

  async commit(txId: number): Promise<void> {
    const tx = this.txOrThrow(txId);
    this.checkIdle(tx);
    if (tx.prepared) {
      throw new DdiaError(CommonErrors.conflict, `tx ${tx.id} is prepared: commit it with its global id`);
    }
    this.checkCommittable(tx);
    await this.commitNow(tx, true);
  }

  rollback(txId: number): void {
    const tx = this.active.get(txId);
    if (!tx) {
      // Rolling back a transaction the server already aborted is how a client acknowledges it.
      if (this.finishedTx.has(txId) && this.finishedTx.get(txId) !== 'committed') return;
      if (this.finishedTx.get(txId) === 'committed') {
        throw new TxError(TxErrors.txNotFound, `tx ${txId} has already committed`);
      }
      throw new TxError(TxErrors.txNotFound, `no transaction ${txId}`);
    }
    if (tx.prepared) {
      throw new DdiaError(CommonErrors.conflict, `tx ${tx.id} is prepared: roll it back with its global id`);
    }
    this.abort(tx, 'rolled back by the client');
  }

  /** Runs `body` as one transaction, committing on success and rolling back on failure. */
  async transact<T>(isolation: Isolation, body: (s: Statements) => Promise<T>): Promise<T> {
    const id = await this.begin(isolation);
    try {
      const result = await body(this.statementsOf(id));
      await this.commit(id);
      return result;
    } catch (e) {
      if (this.active.has(id)) this.rollback(id);
      throw e;
    }
  }

  statementsOf(txId: number): Statements {
    return {
      query: (t, w) => this.query(txId, t, w),
      insert: (t, r) => this.insert(txId, t, r),
      update: (t, w, s) => this.update(txId, t, w, s),
      delete: (t, w) => this.delete(txId, t, w),
    };
  }

  // ---- two-phase commit, participant side (two-phase.ts) ----

  /** Phase 1: makes the writes durable as "prepared"; the locks stay until the decision. */
  prepare(txId: number, gid: string): Promise<void> {
    return this.prepared.prepare(txId, gid);
  }

  preparedIds(): string[] {
    return this.prepared.ids();
  }

  commitPrepared(gid: string): Promise<void> {
    return this.prepared.commit(gid);
  }

  rollbackPrepared(gid: string): Promise<void> {
    return this.prepared.rollback(gid);
  }

  // ---- recovery ----

  /** Re-applies one logged record (replay.ts). Called in log order before the WAL is attached. */
  replay(record: WalRecord): void {
    replayRecord(this.replayHost(), record);
  }

  /** Loads a checkpoint's image (replay.ts). Called on an empty database, before any replay. */
  restoreCheckpoint(image: CheckpointImage): void {
    assert(
      this.tables.size === 0 && this.active.size === 0,
      'a checkpoint is restored into an empty database',
    );
    restoreImage(this.replayHost(), image);
  }

  /**
   * The committed state now, labelled with `walIndex`, the next WAL index: synchronous, so it
   * holds exactly the effects of the records numbered below that index. (A commit is numbered
   * in the same turn as its versions get their commit sequence, a prepare in the same turn as
   * it is registered, so nothing can fall between the image and the index.)
   */
  checkpointImage(walIndex: number): CheckpointImage {
    const tables: CheckpointImage['tables'] = [];
    for (const table of this.tables.values()) {
      const rows: Row[] = [];
      for (const chain of table.chains.values()) {
        const row = committedRow(chain);
        if (row !== null) rows.push(row);
      }
      tables.push({ name: table.name, primaryKey: table.primaryKey, rows });
    }
    const prepared = this.prepared.entries().map(([gid, tx]) => ({ gid, writes: this.walWrites(tx) }));
    return { walIndex, tables, prepared };
  }

  private replayHost(): ReplayHost {
    return {
      tables: this.tables,
      prepared: this.prepared,
      newTable: (name, primaryKey) => new Table<Tx>(name, primaryKey),
      nextCommitSeq: () => ++this.lastCommitSeq,
      beginRecovered: () => {
        const tx = new Tx(this.nextTxId++, 'read-committed', this.lastCommitSeq);
        this.active.set(tx.id, tx);
        return tx;
      },
      pushVersion: (tx, table, key, row) => this.pushVersion(tx, table, key, row),
      commitRecovered: (tx) => {
        this.assignCommitSeq(tx);
        tx.status = 'committed';
        this.finish(tx, 'committed');
      },
      abort: (tx, reason) => this.abort(tx, reason),
      collectGarbage: (table, key) => {
        collectGarbage(table, key, this.horizonSeq());
      },
    };
  }

  stats(): DatabaseStats {
    let versions = 0;
    for (const t of this.tables.values()) for (const c of t.chains.values()) versions += c.length;
    return { ...this.counters, versions, active: this.active.size };
  }

  /** Counts of retained SSI state, for tests that check it is bounded. */
  ssiRetained(): number {
    return this.ssi.retainedCount;
  }

  /** Removes every version no active snapshot can see. */
  vacuumAll(): number {
    const horizon = this.horizonSeq();
    let removed = 0;
    for (const table of this.tables.values()) {
      for (const key of [...table.chains.keys()]) removed += collectGarbage(table, key, horizon);
    }
    return removed;
  }

  /** Aborts every open transaction (shutdown). Prepared ones stay in the log for recovery. */
  abortAll(reason: string): void {
    for (const tx of [...this.active.values()]) if (!tx.prepared) this.abort(tx, reason);
  }

  // ---- internals ----

  private async statement<T>(txId: number, body: (tx: Tx) => Promise<T>): Promise<T> {
    const tx = this.txOrThrow(txId);
    this.checkIdle(tx);
    if (tx.prepared)
      throw new DdiaError(CommonErrors.conflict, `tx ${tx.id} is prepared; no more statements`);
    this.failIfDoomed(tx);
    tx.busy = true;
    tx.idleTimer?.cancel();
    const mark = tx.writes.length;
    try {
      const result = await body(tx);
      this.failIfDoomed(tx);
      return result;
    } catch (raw) {
      const e = toDdiaError(raw);
      if (tx.status === 'aborted') {
        if (e instanceof DdiaError && ABORTING_CODES.has(e.code)) throw e;
        throw new TxError(TxErrors.txAborted, `tx ${tx.id} was aborted: ${tx.abortReason}`);
      }
      if (e instanceof DdiaError && ABORTING_CODES.has(e.code)) {
        this.abortFor(tx, e);
      } else {
        // Statement-level atomicity: a failed statement leaves no writes behind.
        this.undoWrites(tx, mark);
      }
      throw e;
    } finally {
      tx.busy = false;
      if (!tx.finished) this.armIdleTimer(tx);
    }
  }

  /**
   * The rows of `table` that `tx` sees matching `predicate`, with the bookkeeping every
   * predicate read needs: a predicate lock under 2PL, and the reads and the predicate itself
   * recorded for SSI's rw-antidependency tracking (Cahill et al.).
   */
  private async predicateRead(
    tx: Tx,
    table: TxTable,
    predicate: Compiled,
  ): Promise<{ key: string; seen: TxVersion }[]> {
    if (tx.isolation === 'serializable-2pl') await this.locks.lockPredicate(tx, table, predicate);
    const mode = this.readMode(tx);
    const hits: { key: string; seen: TxVersion }[] = [];
    for (const [key, chain] of chainsFor(table, predicate)) {
      const i = visibleIndex(chain, tx, mode);
      const row = i >= 0 ? chain[i]!.row : null;
      const hit = row !== null && matches(predicate, row);
      if (tx.usesSsi) {
        if (hit) this.ssi.onRead(tx, table, key, chain, i);
        this.ssi.onPredicateScan(tx, chain, i, predicate);
      }
      if (hit) hits.push({ key, seen: chain[i]! });
    }
    if (tx.usesSsi) this.ssi.onPredicateRead(tx, table, predicate);
    return hits;
  }

  private async writeWhere(
    tx: Tx,
    table: TxTable,
    predicate: Compiled,
    compute: (row: Row) => Row | null,
  ): Promise<number> {
    // The rows to change are chosen by the statement's snapshot (as in PostgreSQL).
    const candidates = await this.predicateRead(tx, table, predicate);
    let count = 0;
    for (const { key, seen } of candidates) {
      if (await this.writeRow(tx, table, key, seen, predicate, compute)) count++;
    }
    return count;
  }

  /** Writes one row chosen by a where clause, waiting for its lock; false if it no longer qualifies. */
  private async writeRow(
    tx: Tx,
    table: TxTable,
    key: string,
    seen: TxVersion,
    predicate: Compiled,
    compute: (row: Row) => Row | null,
  ): Promise<boolean> {
    for (;;) {
      if (table.dropped) throw new TxError(TxErrors.tableNotFound, `table ${table.name} was dropped`);
      const writerDone = this.waitForRowWriter(tx, table, key);
      if (writerDone) {
        await writerDone;
        continue;
      }
      const head = table.chains.get(key)?.at(-1);
      if (head !== seen) {
        if (tx.isolation === 'repeatable-read' || tx.isolation === 'serializable') {
          const by = head?.creator ? `tx ${head.creator.id}` : 'another transaction';
          throw new TxError(
            TxErrors.serialization,
            `could not serialize access due to concurrent update: the row ${table.primaryKey}=${key} ` +
              `of ${table.name} was changed by ${by} after this transaction's snapshot (first updater wins)`,
            { txId: tx.id },
          );
        }
        // Read committed: re-evaluate the where clause on the newest version and write
        // that one (PostgreSQL's EvalPlanQual), or skip the row if it no longer matches.
        if (!head || head.row === null || !matches(predicate, head.row)) return false;
      }
      const before = head!.row!;
      const after = compute(before);
      const locked = this.writeUnlessPredicateLocked(tx, table, key, before, after);
      if (locked) {
        await locked;
        continue;
      }
      return true;
    }
  }

  /**
   * No dirty writes at any level: if another transaction holds an uncommitted version of the
   * row, the wait for it to commit or abort; undefined if the row is free. Synchronous on
   * purpose: a caller that finds the row free reads its head and writes in the same turn of the
   * event loop, so no other statement can slip in between (an `await` there loses updates).
   */
  private waitForRowWriter(tx: Tx, table: TxTable, key: string): Promise<void> | undefined {
    const writer = otherWriter(table.chains.get(key) ?? [], tx);
    return writer ? this.locks.wait(tx, new Set([writer]), `the row ${key} of ${table.name}`) : undefined;
  }

  /**
   * Writes `after` over `before` unless another transaction's predicate lock covers the row as
   * it was or as it would be: then the wait for the lock's holders, after which the caller
   * looks at the row again. Synchronous when it writes, for the reason waitForRowWriter gives.
   */
  private writeUnlessPredicateLocked(
    tx: Tx,
    table: TxTable,
    key: string,
    before: Row | null,
    after: Row | null,
  ): Promise<void> | undefined {
    const blockers = this.locks.predicateLockBlockers(tx, table, before, after);
    if (blockers.size > 0) return this.locks.wait(tx, blockers, `a predicate lock on ${table.name}`);
    if (tx.usesSsi) this.ssi.onWrite(tx, table, key, before, after);
    this.pushVersion(tx, table, key, after);
    return undefined;
  }

  private pushVersion(tx: Tx, table: TxTable, key: string, row: Row | null): void {
    const version: TxVersion = { creator: tx, row, commitSeq: undefined };
    table.chain(key).push(version);
    tx.writes.push({ table, key, version });
  }

  private undoWrites(tx: Tx, mark: number): void {
    for (let i = tx.writes.length - 1; i >= mark; i--) {
      const { table, key, version } = tx.writes[i]!;
      const chain = table.chains.get(key);
      if (!chain) continue;
      const at = chain.lastIndexOf(version);
      if (at >= 0) chain.splice(at, 1);
      if (chain.length === 0) table.chains.delete(key);
    }
    tx.writes.length = mark;
  }

  private readMode(tx: Tx): ReadMode {
    switch (tx.isolation) {
      case 'read-uncommitted':
        return { kind: 'dirty' };
      case 'read-committed':
        tx.snapshotSeq = this.lastCommitSeq;
        return { kind: 'snapshot', seq: tx.snapshotSeq };
      case 'repeatable-read':
      case 'serializable':
        // As in PostgreSQL, the snapshot is taken by the first statement, not by BEGIN.
        tx.snapshotSeq ??= this.lastCommitSeq;
        return { kind: 'snapshot', seq: tx.snapshotSeq };
      case 'serializable-2pl':
      case 'serial':
        return { kind: 'latest' };
    }
  }

  private async commitNow(tx: Tx, log: boolean): Promise<void> {
    tx.idleTimer?.cancel();
    this.assignCommitSeq(tx);
    if (tx.usesSsi) this.ssi.onCommit(tx);
    const writes = this.walWrites(tx);
    // Acknowledged only once durable; the log orders records by commit sequence because
    // appends are numbered synchronously, in call order.
    if (log && writes.length > 0) await this.wal?.append({ type: 'commit', txId: tx.id, writes });
    tx.status = 'committed';
    this.counters.commits++;
    this.finish(tx, 'committed');
  }

  private assignCommitSeq(tx: Tx): void {
    tx.status = 'committing';
    const seq = ++this.lastCommitSeq;
    tx.commitSeq = seq;
    for (const w of tx.writes) w.version.commitSeq = seq;
  }

  private walWrites(tx: Tx): WalWrite[] {
    const last = new Map<string, WalWrite>();
    for (const w of tx.writes) {
      if (w.table.dropped) continue;
      last.set(`${w.table.name}\u0000${w.key}`, { table: w.table.name, key: w.key, row: w.version.row });
    }
    return [...last.values()];
  }

  private abortFor(tx: Tx, e: unknown): void {
    if (e instanceof DdiaError) {
      if (e.code === TxErrors.serialization.code) this.counters.serializationFailures++;
      if (e.code === TxErrors.deadlock.code) this.counters.deadlocks++;
      if (e.code === TxErrors.lockTimeout.code) this.counters.lockTimeouts++;
    }
    this.abort(tx, e instanceof Error ? e.message : String(e));
  }

  private abort(tx: Tx, reason: string): void {
    if (tx.finished) return;
    this.undoWrites(tx, 0);
    tx.status = 'aborted';
    tx.abortReason = reason;
    this.counters.aborts++;
    this.finish(tx, reason);
  }

  private finish(tx: Tx, outcome: string): void {
    tx.idleTimer?.cancel();
    this.active.delete(tx.id);
    this.finishedTx.set(tx.id, outcome);
    if (this.finishedTx.size > FINISHED_REMEMBERED_MAX) {
      this.finishedTx.delete(this.finishedTx.keys().next().value!);
    }
    this.locks.releaseAll(tx);
    this.ssi.onFinish(tx, this.active.values());
    tx.markFinished();
    if (tx.status === 'committed') {
      const horizon = this.horizonSeq();
      for (const w of tx.writes) collectGarbage(w.table, w.key, horizon);
      if (++this.commitsSinceVacuum >= VACUUM_EVERY_COMMITS) {
        this.commitsSinceVacuum = 0;
        this.vacuumAll();
      }
    }
  }

  private horizonSeq(): number {
    let horizon = this.lastCommitSeq;
    for (const tx of this.active.values()) {
      horizon = Math.min(horizon, tx.snapshotSeq ?? tx.horizonSeq, tx.horizonSeq);
    }
    return horizon;
  }

  private armIdleTimer(tx: Tx): void {
    tx.idleTimer?.cancel();
    if (tx.prepared) return;
    tx.idleTimer = this.clock.setTimeout(() => {
      if (!tx.finished && !tx.busy && !tx.prepared && tx.status === 'active') {
        this.abort(tx, `idle for more than ${this.idleTimeoutMs} ms; rolled back`);
      }
    }, this.idleTimeoutMs);
  }

  /** Throws (aborting `tx`) if it may not commit: doomed, or failing SSI's pre-commit check. */
  private checkCommittable(tx: Tx): void {
    this.failIfDoomed(tx);
    if (tx.usesSsi) {
      try {
        this.ssi.preCommit(tx);
      } catch (e) {
        this.abortFor(tx, e);
        throw e;
      }
    }
  }

  private failIfDoomed(tx: Tx): void {
    if (tx.doomed === undefined) return;
    const e = new TxError(TxErrors.serialization, tx.doomed, { txId: tx.id });
    this.abortFor(tx, e);
    throw e;
  }

  private checkIdle(tx: Tx): void {
    if (tx.busy) {
      throw new DdiaError(CommonErrors.conflict, `tx ${tx.id} is still running another statement`);
    }
  }

  private txOrThrow(txId: number): Tx {
    const tx = this.active.get(txId);
    if (tx) return tx;
    const outcome = this.finishedTx.get(txId);
    if (outcome === 'committed') throw new TxError(TxErrors.txNotFound, `tx ${txId} has already committed`);
    if (outcome !== undefined) {
      throw new TxError(TxErrors.txAborted, `tx ${txId} was aborted: ${outcome}`, { txId });
    }
    throw new TxError(TxErrors.txNotFound, `no transaction ${txId}`);
  }

  private tableOrThrow(name: string): TxTable {
    const table = typeof name === 'string' ? this.tables.get(name) : undefined;
    if (!table) throw new TxError(TxErrors.tableNotFound, `no table ${JSON.stringify(name)}`);
    return table;
  }
}
