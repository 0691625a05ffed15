// A random list-append workload (Elle's, Kingsbury & Alvaro 2020) run against the engine:
// concurrent clients run short transactions of reads and appends on a few keys and record
// what they saw, in the plain format testkit's checkTransactions reads. Each key is a row
// {k, list} whose list is a comma-separated string, appended with `list + ',v'`.
import { DdiaError, type Random } from '@ddia/common';
import { Database } from '../engine/database.js';
import type { Isolation } from '../engine/transaction.js';
import { TxErrors } from '../errors.js';

export type MicroOp = ['append', string, number] | ['r', string, number[] | null];

export interface RecordedTransaction {
  process: number;
  type: 'ok' | 'fail' | 'info';
  ops: MicroOp[];
  invokeMs: number;
  completeMs?: number;
}

export interface ListAppendOptions {
  isolation: Isolation;
  transactions: number;
  clients: number;
  keys: number;
  opsMax: number;
  /** Fraction of transactions the client rolls back on purpose (they must leave no trace). */
  rollbackChance: number;
  random: Random;
  clock: ConstructorParameters<typeof Database>[0]['clock'];
}

export interface ListAppendRun {
  history: RecordedTransaction[];
  committed: number;
  aborted: number;
  db: Database;
}

const ABORTS: ReadonlySet<string> = new Set([
  TxErrors.serialization.code,
  TxErrors.deadlock.code,
  TxErrors.lockTimeout.code,
  TxErrors.txAborted.code,
]);

export async function runListAppend(options: ListAppendOptions): Promise<ListAppendRun> {
  const db = new Database({ clock: options.clock, lockTimeoutMs: 2_000 });
  await db.createTable('lists', 'k');
  await db.transact('read-committed', async (s) => {
    for (let k = 0; k < options.keys; k++) await s.insert('lists', { k: `k${k}`, list: '' });
  });
  const history: RecordedTransaction[] = [];
  let nextValue = 1;
  let started = 0;
  let logicalMs = 0;
  let committed = 0;
  let aborted = 0;

  async function client(process: number): Promise<void> {
    const random = options.random.fork();
    while (started < options.transactions) {
      started++;
      const plan: ('r' | 'append')[] = [];
      const n = random.int(1, options.opsMax);
      for (let i = 0; i < n; i++) plan.push(random.chance(0.5) ? 'r' : 'append');
      const record: RecordedTransaction = { process, type: 'info', ops: [], invokeMs: logicalMs++ };
      history.push(record);
      let tx: number | undefined;
      try {
        tx = await db.begin(options.isolation);
        for (const kind of plan) {
          const key = `k${random.int(0, options.keys - 1)}`;
          if (kind === 'r') {
            const rows = await db.query(tx, 'lists', `k = '${key}'`);
            const list = String(rows[0]?.list ?? '');
            record.ops.push(['r', key, list === '' ? [] : list.split(',').filter(Boolean).map(Number)]);
          } else {
            const value = nextValue++;
            record.ops.push(['append', key, value]);
            await db.update(tx, 'lists', `k = '${key}'`, { list: `list + ',${value}'` });
          }
        }
        if (random.chance(options.rollbackChance)) {
          db.rollback(tx);
          record.type = 'fail';
          aborted++;
        } else {
          await db.commit(tx);
          record.type = 'ok';
          committed++;
        }
      } catch (e) {
        if (!(e instanceof DdiaError) || !ABORTS.has(e.code)) throw e;
        if (tx !== undefined) {
          try {
            db.rollback(tx);
          } catch {
            // already gone
          }
        }
        // A failed transaction had no effect; its unfinished reads carry no information.
        record.ops = record.ops.filter((op) => op[0] === 'append');
        record.type = 'fail';
        aborted++;
      }
      record.completeMs = logicalMs++;
    }
  }
  await Promise.all(Array.from({ length: options.clients }, (_, p) => client(p)));
  return { history, committed, aborted, db };
}
