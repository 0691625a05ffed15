// Hermitage against a real PostgreSQL: one connection per transaction, the same steps.
import pg from 'pg';
import type { HermitageDriver } from './runner.js';
import type { Op, StepResult, TestRow } from './scenarios.js';

/** How long a PostgreSQL statement may take before we call it blocked (loopback, idle server). */
const PG_SETTLE_MS = 150;

const LEVELS: Record<string, string> = {
  'read-uncommitted': 'read uncommitted',
  'read-committed': 'read committed',
  'repeatable-read': 'repeatable read',
  serializable: 'serializable',
};

export class PostgresDriver implements HermitageDriver {
  readonly name = 'postgresql';
  private admin: pg.Client | null = null;
  private sessions = new Map<string, pg.Client>();

  constructor(private readonly url: string) {}

  static levels(): string[] {
    return Object.keys(LEVELS);
  }

  async reset(): Promise<void> {
    if (!this.admin) {
      this.admin = new pg.Client({ connectionString: this.url });
      await this.admin.connect();
    }
    await this.admin.query('drop table if exists test');
    await this.admin.query('create table test (id int primary key, value int)');
    await this.admin.query('insert into test (id, value) values (1, 10), (2, 20)');
  }

  async exec(tx: string, op: Op, isolation: string): Promise<Omit<StepResult, 'blocked'>> {
    try {
      if (op.op === 'begin') {
        const client = new pg.Client({ connectionString: this.url });
        client.on('error', () => {});
        await client.connect();
        this.sessions.set(tx, client);
        const level = LEVELS[op.isolation ?? isolation];
        if (!level) throw new Error(`PostgreSQL has no level ${isolation}`);
        await client.query(`begin transaction isolation level ${level}`);
        return {};
      }
      const client = this.sessions.get(tx)!;
      switch (op.op) {
        case 'select': {
          const r = await client.query<TestRow>(`select id, value from test where ${op.where} order by id`);
          return { rows: r.rows };
        }
        case 'insert':
          return {
            count:
              (await client.query('insert into test (id, value) values ($1, $2)', [op.id, op.value]))
                .rowCount ?? 0,
          };
        case 'update':
          return {
            count: (await client.query(`update test set value = ${op.set} where ${op.where}`)).rowCount ?? 0,
          };
        case 'delete':
          return { count: (await client.query(`delete from test where ${op.where}`)).rowCount ?? 0 };
        case 'commit': {
          // COMMIT of a failed transaction answers ROLLBACK rather than an error.
          const r = await client.query('commit');
          if ((r as unknown as { command: string }).command === 'ROLLBACK') {
            return { error: { code: 'rolled-back', message: 'commit of a failed transaction rolled back' } };
          }
          return {};
        }
        case 'abort':
          await client.query('rollback');
          return {};
      }
    } catch (e) {
      const err = e as { code?: string; message: string };
      return { error: { code: err.code ?? 'error', message: err.message } };
    }
  }

  async settle(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, PG_SETTLE_MS));
  }

  async cleanup(): Promise<void> {
    for (const client of this.sessions.values()) await client.end().catch(() => {});
    this.sessions.clear();
  }

  async close(): Promise<void> {
    await this.cleanup();
    await this.admin?.end();
    this.admin = null;
  }
}
