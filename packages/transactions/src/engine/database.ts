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
//   writes take the row's exclusive lock; deadlocks are detected (waits.ts).
// - serial: one transaction at a time, in arrival order (VoltDB / H-Store).
import { CommonErrors, DdiaError, type TimerClock } from '@ddia/common/core';
import { TxErrors } from '../errors.js';
import {
  type Compiled,
  ExpressionSyntaxError,
  ExpressionTypeError,
  evaluate,
  matches,
  parseExpression,
  type Row,
} from './expression.js';
import { SsiTracker } from './ssi.js';
import {
  collectGarbage,
  committedRow,
  keyOf,
  otherWriter,
  type ReadMode,
  Table,
  type Version,
  visibleIndex,
} from './table.js';
import { ISOLATION_LEVELS, type Isolation, isIsolation, Tx } from './transaction.js';
import { waitFor } from './waits.js';
import type { CommitLog, WalRecord, WalWrite } from './wal-record.js';

export const LOCK_TIMEOUT_DEFAULT_MS = 5_000;
export const IDLE_TIMEOUT_DEFAULT_MS = 60_000;
/** Open transactions at once; more get 429 rather than exhausting memory. */
export const TRANSACTIONS_MAX = 10_000;
export const TABLES_MAX = 256;
export const ROW_BYTES_MAX = 64 * 1024;
export const NAME_CHARS_MAX = 64;
/** Finished transaction ids remembered, so a late statement learns why its transaction ended. */
export const FINISHED_REMEMBERED_MAX = 4096;
/** Every this many commits, all chains are vacuumed, not only the ones just written. */
export const VACUUM_EVERY_COMMITS = 512;

const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;

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

function compile(source: unknown, role: string): Compiled {
  if (source === undefined) return parseExpression('true');
  if (typeof source !== 'string') {
    throw new DdiaError(TxErrors.badExpression, `${role} must be a string expression, got ${typeof source}`);
  }
  try {
    return parseExpression(source);
  } catch (e) {
    throw toDdiaError(e, role);
  }
}

function toDdiaError(e: unknown, role?: string): unknown {
  const prefix = role ? `${role}: ` : '';
  if (e instanceof ExpressionSyntaxError) {
    return new DdiaError(TxErrors.badExpression, prefix + e.message, { position: e.position });
  }
  if (e instanceof ExpressionTypeError) {
    return new DdiaError(TxErrors.wrongType, prefix + e.message, { position: e.position });
  }
  return e;
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
  private readonly tables = new Map<string, Table>();
  private readonly active = new Map<number, Tx>();
  private readonly finishedTx = new Map<number, string>();
  private readonly predicateLocks = new Map<Table, { tx: Tx; predicate: Compiled }[]>();
  private readonly prepared = new Map<string, Tx>();
  private readonly ssi = new SsiTracker();
  private readonly serialQueue: (() => void)[] = [];
  private serialHolder: Tx | null = null;
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
  }

  /** Attaches the log after recovery has replayed it (replay must not log again). */
  attachWal(wal: CommitLog): void {
    this.wal = wal;
  }

  // ---- tables (DDL is not transactional here: it applies and is logged at once) ----

  async createTable(name: unknown, primaryKey: unknown): Promise<void> {
    this.checkName(name, 'table name');
    this.checkName(primaryKey, 'primaryKey');
    if (this.tables.has(name)) throw new DdiaError(TxErrors.tableExists, `table ${name} already exists`);
    if (this.tables.size >= TABLES_MAX) {
      throw new DdiaError(CommonErrors.conflict, `at most ${TABLES_MAX} tables may exist`);
    }
    this.tables.set(name, new Table(name, primaryKey));
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
      throw new DdiaError(TxErrors.tooManyTransactions, `${TRANSACTIONS_MAX} transactions are open`);
    }
    const tx = new Tx(this.nextTxId++, isolation, this.lastCommitSeq);
    this.active.set(tx.id, tx);
    this.counters.begun++;
    if (isolation === 'serial') await this.acquireSerialToken(tx);
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
      const checked = this.checkRow(table, row);
      const key = keyOf(checked[table.primaryKey]);
      for (;;) {
        const chain = table.chains.get(key) ?? [];
        const writer = otherWriter(chain, tx);
        if (writer) {
          await this.wait(tx, new Set([writer]), `the row ${key} of ${table.name}`);
          continue;
        }
        const head = chain[chain.length - 1];
        if (head && head.row !== null) {
          const snapshotSeq = tx.snapshotSeq ?? this.lastCommitSeq;
          if (tx.usesSsi && head.creator !== tx && (head.commitSeq ?? 0) > snapshotSeq) {
            // PostgreSQL 9.6+: a unique violation caused by a concurrent, invisible insert
            // is reported as a serialization failure at SERIALIZABLE.
            throw new DdiaError(
              TxErrors.serialization,
              `could not serialize access due to concurrent insert of ${table.primaryKey}=${key} in ${table.name}`,
              { txId: tx.id },
            );
          }
          throw new DdiaError(
            TxErrors.duplicateKey,
            `duplicate key value violates primary key: ${table.primaryKey}=${key} already exists in ${table.name}`,
          );
        }
        const blockers = this.predicateLockBlockers(tx, table, null, checked);
        if (blockers.size > 0) {
          await this.wait(tx, blockers, `a predicate lock on ${table.name}`);
          continue;
        }
        if (tx.usesSsi) this.ssi.onWrite(tx, table, key, null, checked);
        this.pushVersion(tx, table, key, checked);
        return 1;
      }
    });
  }

  update(txId: number, tableName: string, where: string, set: unknown): Promise<number> {
    const predicate = compile(where, 'where');
    const assignments = this.compileSet(set);
    return this.statement(txId, async (tx) => {
      const table = this.tableOrThrow(tableName);
      if (assignments.some(([column]) => column === table.primaryKey)) {
        throw new DdiaError(TxErrors.badRow, `set may not change the primary key ${table.primaryKey}`);
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
        return this.checkRow(table, next);
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
    this.failIfDoomed(tx);
    if (tx.usesSsi) {
      try {
        this.ssi.preCommit(tx);
      } catch (e) {
        this.abortFor(tx, e);
        throw e;
      }
    }
    await this.commitNow(tx, true);
  }

  rollback(txId: number): void {
    const tx = this.active.get(txId);
    if (!tx) {
      // Rolling back a transaction the server already aborted is how a client acknowledges it.
      if (this.finishedTx.has(txId) && this.finishedTx.get(txId) !== 'committed') return;
      if (this.finishedTx.get(txId) === 'committed') {
        throw new DdiaError(TxErrors.txNotFound, `tx ${txId} has already committed`);
      }
      throw new DdiaError(TxErrors.txNotFound, `no transaction ${txId}`);
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

  // ---- two-phase commit, participant side ----

  /** Phase 1: makes the writes durable as "prepared"; the locks stay until the decision. */
  async prepare(txId: number, gid: string): Promise<void> {
    const tx = this.txOrThrow(txId);
    this.checkIdle(tx);
    if (this.prepared.has(gid))
      throw new DdiaError(CommonErrors.conflict, `global id ${gid} is already in use`);
    this.failIfDoomed(tx);
    if (tx.usesSsi) {
      try {
        this.ssi.preCommit(tx);
      } catch (e) {
        this.abortFor(tx, e);
        throw e;
      }
    }
    tx.prepared = true;
    tx.idleTimer?.cancel();
    this.prepared.set(gid, tx);
    await this.wal?.append({ type: 'prepare', gid, writes: this.walWrites(tx) });
  }

  preparedIds(): string[] {
    return [...this.prepared.keys()];
  }

  async commitPrepared(gid: string): Promise<void> {
    const tx = this.prepared.get(gid);
    if (!tx) throw new DdiaError(TxErrors.txNotFound, `no prepared transaction ${gid}`);
    this.prepared.delete(gid);
    tx.prepared = false;
    await this.commitNow(tx, false);
    await this.wal?.append({ type: 'commit-prepared', gid });
  }

  async rollbackPrepared(gid: string): Promise<void> {
    const tx = this.prepared.get(gid);
    if (!tx) throw new DdiaError(TxErrors.txNotFound, `no prepared transaction ${gid}`);
    this.prepared.delete(gid);
    tx.prepared = false;
    this.abort(tx, `rolled back prepared ${gid}`);
    await this.wal?.append({ type: 'rollback-prepared', gid });
  }

  // ---- recovery ----

  /** Re-applies one logged record. Called in log order before the WAL is attached. */
  replay(record: WalRecord): void {
    switch (record.type) {
      case 'create-table':
        this.tables.set(record.name, new Table(record.name, record.primaryKey));
        return;
      case 'drop-table': {
        const t = this.tables.get(record.name);
        if (t) t.dropped = true;
        this.tables.delete(record.name);
        return;
      }
      case 'commit': {
        const seq = ++this.lastCommitSeq;
        for (const w of record.writes) {
          const table = this.tables.get(w.table);
          if (table) table.chain(w.key).push({ creator: null, row: w.row, commitSeq: seq });
        }
        this.vacuumAll();
        return;
      }
      case 'prepare': {
        const tx = new Tx(this.nextTxId++, 'read-committed', this.lastCommitSeq);
        tx.prepared = true;
        this.active.set(tx.id, tx);
        this.prepared.set(record.gid, tx);
        for (const w of record.writes) {
          const table = this.tables.get(w.table);
          if (table) this.pushVersion(tx, table, w.key, w.row);
        }
        return;
      }
      case 'commit-prepared': {
        const tx = this.prepared.get(record.gid);
        if (!tx) return;
        this.prepared.delete(record.gid);
        tx.prepared = false;
        this.assignCommitSeq(tx);
        tx.status = 'committed';
        this.finish(tx, 'committed');
        return;
      }
      case 'rollback-prepared': {
        const tx = this.prepared.get(record.gid);
        if (!tx) return;
        this.prepared.delete(record.gid);
        this.abort(tx, 'rolled back prepared');
        return;
      }
    }
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
        throw new DdiaError(TxErrors.txAborted, `tx ${tx.id} was aborted: ${tx.abortReason}`);
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
    table: Table,
    predicate: Compiled,
  ): Promise<{ key: string; seen: Version }[]> {
    if (tx.isolation === 'serializable-2pl') await this.lockPredicate(tx, table, predicate);
    const mode = this.readMode(tx);
    const hits: { key: string; seen: Version }[] = [];
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
    table: Table,
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
    table: Table,
    key: string,
    seen: Version,
    predicate: Compiled,
    compute: (row: Row) => Row | null,
  ): Promise<boolean> {
    for (;;) {
      if (table.dropped) throw new DdiaError(TxErrors.tableNotFound, `table ${table.name} was dropped`);
      const chain = table.chains.get(key) ?? [];
      const writer = otherWriter(chain, tx);
      if (writer) {
        // No dirty writes at any level: wait for the row's writer to commit or abort.
        await this.wait(tx, new Set([writer]), `the row ${key} of ${table.name}`);
        continue;
      }
      const head = chain[chain.length - 1];
      if (head !== seen) {
        if (tx.isolation === 'repeatable-read' || tx.isolation === 'serializable') {
          const by = head?.creator ? `tx ${head.creator.id}` : 'another transaction';
          throw new DdiaError(
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
      const blockers = this.predicateLockBlockers(tx, table, before, after);
      if (blockers.size > 0) {
        await this.wait(tx, blockers, `a predicate lock on ${table.name}`);
        continue;
      }
      if (tx.usesSsi) this.ssi.onWrite(tx, table, key, before, after);
      this.pushVersion(tx, table, key, after);
      return true;
    }
  }

  private pushVersion(tx: Tx, table: Table, key: string, row: Row | null): void {
    const version: Version = { creator: tx, row, commitSeq: undefined };
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

  /** Strict 2PL read: wait until no other transaction holds an uncommitted write the predicate covers. */
  private async lockPredicate(tx: Tx, table: Table, predicate: Compiled): Promise<void> {
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
  private predicateLockBlockers(tx: Tx, table: Table, before: Row | null, after: Row | null): Set<Tx> {
    const blockers = new Set<Tx>();
    for (const lock of this.predicateLocks.get(table) ?? []) {
      if (lock.tx === tx || lock.tx.finished) continue;
      if (coveredBy(lock.predicate, before) || coveredBy(lock.predicate, after)) blockers.add(lock.tx);
    }
    return blockers;
  }

  private async wait(tx: Tx, blockers: Set<Tx>, what: string): Promise<void> {
    this.counters.waits++;
    await waitFor(tx, blockers, this.clock, this.lockTimeoutMs, what);
    if (tx.status === 'aborted') {
      throw new DdiaError(TxErrors.txAborted, `tx ${tx.id} was aborted while waiting: ${tx.abortReason}`);
    }
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
    for (const { table } of tx.predicateLocks) {
      const kept = (this.predicateLocks.get(table) ?? []).filter((l) => l.tx !== tx);
      if (kept.length === 0) this.predicateLocks.delete(table);
      else this.predicateLocks.set(table, kept);
    }
    if (this.serialHolder === tx) {
      this.serialHolder = null;
      this.serialQueue.shift()?.();
    }
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

  private async acquireSerialToken(tx: Tx): Promise<void> {
    while (this.serialHolder !== null) {
      await new Promise<void>((resolve) => this.serialQueue.push(resolve));
      if (tx.status === 'aborted') throw new DdiaError(TxErrors.txAborted, `tx ${tx.id} was aborted`);
    }
    this.serialHolder = tx;
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

  private failIfDoomed(tx: Tx): void {
    if (tx.doomed === undefined) return;
    const e = new DdiaError(TxErrors.serialization, tx.doomed, { txId: tx.id });
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
    if (outcome === 'committed') throw new DdiaError(TxErrors.txNotFound, `tx ${txId} has already committed`);
    if (outcome !== undefined) {
      throw new DdiaError(TxErrors.txAborted, `tx ${txId} was aborted: ${outcome}`, { txId });
    }
    throw new DdiaError(TxErrors.txNotFound, `no transaction ${txId}`);
  }

  private tableOrThrow(name: string): Table {
    const table = typeof name === 'string' ? this.tables.get(name) : undefined;
    if (!table) throw new DdiaError(TxErrors.tableNotFound, `no table ${JSON.stringify(name)}`);
    return table;
  }

  private checkName(name: unknown, role: string): asserts name is string {
    if (typeof name !== 'string' || !NAME_PATTERN.test(name) || name.length > NAME_CHARS_MAX) {
      throw new DdiaError(
        CommonErrors.validation,
        `${role} must be 1-${NAME_CHARS_MAX} letters, digits, _ or -, starting with a letter; got ${JSON.stringify(name)}`,
      );
    }
  }

  private checkRow(table: Table, row: unknown): Row {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      throw new DdiaError(TxErrors.badRow, `a row must be a JSON object, got ${JSON.stringify(row)}`);
    }
    const pk = (row as Row)[table.primaryKey];
    if (typeof pk !== 'number' && typeof pk !== 'string') {
      throw new DdiaError(
        TxErrors.badRow,
        `the primary key ${table.primaryKey} of ${table.name} must be a number or a string; got ${JSON.stringify(pk)}`,
      );
    }
    if (typeof pk === 'number' && !Number.isFinite(pk)) {
      throw new DdiaError(TxErrors.badRow, `the primary key ${table.primaryKey} must be finite`);
    }
    const json = JSON.stringify(row);
    if (json.length > ROW_BYTES_MAX) {
      throw new DdiaError(TxErrors.badRow, `row of ${json.length} bytes exceeds ${ROW_BYTES_MAX}`);
    }
    return JSON.parse(json) as Row;
  }

  private compileSet(set: unknown): [string, Compiled][] {
    if (typeof set !== 'object' || set === null || Array.isArray(set) || Object.keys(set).length === 0) {
      throw new DdiaError(
        CommonErrors.validation,
        'set must be an object of column -> expression, e.g. {"value": "value + 10"}',
      );
    }
    return Object.entries(set as Record<string, unknown>).map(([column, source]) => {
      this.checkName(column, 'a set column');
      return [column, compile(source, `set ${column}`)];
    });
  }
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
function chainsFor(table: Table, predicate: Compiled): Iterable<[string, Version[]]> {
  const key = pinnedKey(predicate, table.primaryKey);
  if (key === undefined) return table.chains;
  const chain = table.chains.get(key);
  return chain ? [[key, chain]] : [];
}

/** Whether a lock's predicate covers a row; one it cannot evaluate is taken to cover it. */
function coveredBy(predicate: Compiled, row: Row | null): boolean {
  if (row === null) return false;
  try {
    return matches(predicate, row);
  } catch {
    return true;
  }
}
