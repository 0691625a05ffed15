// Hermitage against our engine, in process (no WAL: the scenarios are about isolation).
import { DdiaError, SystemClock } from '@ddia/common';
import { Database } from '../engine/database.js';
import type { HermitageDriver } from './runner.js';
import type { Op, StepResult, TestRow } from './scenarios.js';

/** Short, so that a scenario the engine mishandles fails fast instead of hanging. */
const HERMITAGE_LOCK_TIMEOUT_MS = 3_000;

export class EngineDriver implements HermitageDriver {
  readonly name = 'ddia-transactions';
  private db = new Database({ clock: new SystemClock() });
  private ids = new Map<string, number>();

  async reset(): Promise<void> {
    this.db = new Database({ clock: new SystemClock(), lockTimeoutMs: HERMITAGE_LOCK_TIMEOUT_MS });
    this.ids.clear();
    await this.db.createTable('test', 'id');
    await this.db.transact('read-committed', async (s) => {
      await s.insert('test', { id: 1, value: 10 });
      await s.insert('test', { id: 2, value: 20 });
    });
  }

  async exec(tx: string, op: Op, isolation: string): Promise<Omit<StepResult, 'blocked'>> {
    try {
      if (op.op === 'begin') {
        this.ids.set(tx, await this.db.begin(op.isolation ?? isolation));
        return {};
      }
      const id = this.ids.get(tx);
      if (id === undefined) throw new Error(`scenario bug: ${tx} has not begun`);
      switch (op.op) {
        case 'select':
          return { rows: (await this.db.query(id, 'test', op.where)) as unknown as TestRow[] };
        case 'insert':
          return { count: await this.db.insert(id, 'test', { id: op.id, value: op.value }) };
        case 'update':
          return { count: await this.db.update(id, 'test', op.where, { value: op.set }) };
        case 'delete':
          return { count: await this.db.delete(id, 'test', op.where) };
        case 'commit':
          await this.db.commit(id);
          return {};
        case 'abort':
          this.db.rollback(id);
          return {};
      }
    } catch (e) {
      if (e instanceof DdiaError) return { error: { code: e.code, message: e.message } };
      throw e;
    }
  }

  async settle(): Promise<void> {
    // Engine statements finish within a few turns of the event loop unless they wait.
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  }

  async cleanup(): Promise<void> {
    this.db.abortAll('scenario over');
  }

  async close(): Promise<void> {
    this.db.abortAll('closing');
  }
}
