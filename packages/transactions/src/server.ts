// HTTP routes of the transactions service: validate, call the engine, answer. Every error
// the engine throws is a DdiaError, which createService turns into problem+json. A statement
// that must wait for a lock simply awaits: its request stays open until it can proceed.
import { CommonErrors, DdiaError, type ServiceApp } from '@ddia/common';
import { Gauge, type Registry } from 'prom-client';
import { type Static, Type } from 'typebox';
import type { Database, Statements } from './engine/database.js';
import { ISOLATION_LEVELS } from './engine/transaction.js';
import { TxError, TxErrors } from './errors.js';

const Isolation = Type.Union(
  ISOLATION_LEVELS.map((l) => Type.Literal(l)),
  { description: 'isolation level; default read-committed' },
);
const Name = Type.String({ minLength: 1, maxLength: 64 });
const Expression = Type.String({ maxLength: 4096, description: 'e.g. "value % 3 = 0 and id != 2"' });
const SetClause = Type.Record(Type.String({ maxLength: 64 }), Expression, {
  description: 'column -> expression, e.g. {"value": "value + 10"}',
});
const TxParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });
const GidParams = Type.Object({
  gid: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:-]+$' }),
});

const QueryBody = Type.Object({ table: Name, where: Type.Optional(Expression) });
const InsertBody = Type.Object({ table: Name, row: Type.Record(Type.String(), Type.Unknown()) });
const UpdateBody = Type.Object({ table: Name, where: Expression, set: SetClause });
const DeleteBody = Type.Object({ table: Name, where: Expression });
const WithIsolation = { isolation: Type.Optional(Isolation) };
/** Statements in one `POST /transaction`: a bound, like every body. */
export const BATCH_STATEMENTS_MAX = 64;
const StatementBodies = { query: QueryBody, insert: InsertBody, update: UpdateBody, delete: DeleteBody };
const STATEMENT_OPS = ['query', 'insert', 'update', 'delete'] as const;
const Statement = Type.Union([
  Type.Object({ op: Type.Literal('query'), ...QueryBody.properties }),
  Type.Object({ op: Type.Literal('insert'), ...InsertBody.properties }),
  Type.Object({ op: Type.Literal('update'), ...UpdateBody.properties }),
  Type.Object({ op: Type.Literal('delete'), ...DeleteBody.properties }),
]);
type StatementBody = Static<typeof Statement>;
type StatementResult = { rows: unknown[] } | { count: number };
const BatchBody = Type.Object({
  ...WithIsolation,
  statements: Type.Array(Statement, { minItems: 1, maxItems: BATCH_STATEMENTS_MAX }),
});

export interface RouteOptions {
  /** Fault injection (--chaos): crash right after a durable 2PC step, before answering. */
  chaos?: boolean;
  crash?: () => void;
  /** The WAL's counters, exported as ddia_tx_wal_appends and ddia_tx_wal_writes. */
  walStats?: () => { appends: number; writes: number } | null;
}

export const PARTICIPANT_CRASH_POINTS = ['prepare', 'commit-prepared'] as const;

export function registerRoutes(
  app: ServiceApp,
  db: Database,
  registry: Registry,
  options: RouteOptions = {},
): void {
  registerMetrics(db, registry, options.walStats);
  let crashAfter: string | null = null;
  const maybeCrash = (op: string) => {
    if (crashAfter === op) (options.crash ?? (() => process.kill(process.pid, 'SIGKILL')))();
  };
  app.post(
    '/chaos/crash-after',
    {
      schema: { body: Type.Object({ op: Type.Union(PARTICIPANT_CRASH_POINTS.map((p) => Type.Literal(p))) }) },
    },
    async (request) => {
      if (!options.chaos) throw new DdiaError(CommonErrors.chaosDisabled, 'start the node with --chaos');
      crashAfter = request.body.op;
      return { armed: crashAfter };
    },
  );

  app.post(
    '/tables',
    { schema: { body: Type.Object({ name: Name, primaryKey: Name }) } },
    async (request, reply) => {
      await db.createTable(request.body.name, request.body.primaryKey);
      return reply.status(201).send({ name: request.body.name, primaryKey: request.body.primaryKey });
    },
  );
  app.get('/tables', async () => ({ tables: db.listTables() }));
  app.delete('/tables/:name', { schema: { params: Type.Object({ name: Name }) } }, async (request) => {
    await db.dropTable(request.params.name);
    return { dropped: request.params.name };
  });

  app.post('/tx', { schema: { body: Type.Optional(Type.Object(WithIsolation)) } }, async (request, reply) => {
    const isolation = request.body?.isolation ?? 'read-committed';
    const id = await db.begin(isolation);
    return reply.status(201).send({ id, isolation });
  });
  app.post('/tx/:id/query', { schema: { params: TxParams, body: QueryBody } }, async (request) => ({
    rows: await db.query(request.params.id, request.body.table, request.body.where),
  }));
  app.post('/tx/:id/insert', { schema: { params: TxParams, body: InsertBody } }, async (request) => ({
    count: await db.insert(request.params.id, request.body.table, request.body.row),
  }));
  app.post('/tx/:id/update', { schema: { params: TxParams, body: UpdateBody } }, async (request) => ({
    count: await db.update(request.params.id, request.body.table, request.body.where, request.body.set),
  }));
  app.post('/tx/:id/delete', { schema: { params: TxParams, body: DeleteBody } }, async (request) => ({
    count: await db.delete(request.params.id, request.body.table, request.body.where),
  }));
  app.post('/tx/:id/commit', { schema: { params: TxParams } }, async (request) => {
    await db.commit(request.params.id);
    return { id: request.params.id, committed: true };
  });
  app.post('/tx/:id/rollback', { schema: { params: TxParams } }, async (request) => {
    db.rollback(request.params.id);
    return { id: request.params.id, rolledBack: true };
  });

  // Autocommit: one statement, its own transaction, committed before the answer. The body
  // was validated against its own statement's schema, so with its op it is that Statement.
  for (const op of STATEMENT_OPS) {
    app.post(
      `/${op}`,
      { schema: { body: Type.Object({ ...StatementBodies[op].properties, ...WithIsolation }) } },
      (request) =>
        db.transact(request.body.isolation ?? 'read-committed', (s) =>
          runStatement(s, { op, ...request.body } as StatementBody),
        ),
    );
  }

  // A whole transaction in one request: begin, the statements in order, commit; any error
  // rolls it back and answers as the failing statement would. One round trip instead of one
  // per statement (what a stored procedure or a multi-statement request gives PostgreSQL).
  app.post('/transaction', { schema: { body: BatchBody } }, (request) =>
    db.transact(request.body.isolation ?? 'read-committed', async (s) => {
      const results: StatementResult[] = [];
      for (const st of request.body.statements) results.push(await runStatement(s, st));
      return { results };
    }),
  );

  // Two-phase commit, participant side (the coordinator in src/distributed/ calls these).
  app.post(
    '/tx/:id/prepare',
    { schema: { params: TxParams, body: Type.Object({ gid: GidParams.properties.gid }) } },
    async (request) => {
      await db.prepare(request.params.id, request.body.gid);
      maybeCrash('prepare');
      return { id: request.params.id, gid: request.body.gid, prepared: true };
    },
  );
  app.get('/prepared', async () => ({ prepared: db.preparedIds() }));
  app.post('/prepared/:gid/commit', { schema: { params: GidParams } }, async (request) => {
    await db.commitPrepared(request.params.gid);
    maybeCrash('commit-prepared');
    return { gid: request.params.gid, committed: true };
  });
  app.post('/prepared/:gid/rollback', { schema: { params: GidParams } }, async (request) => {
    await db.rollbackPrepared(request.params.gid);
    return { gid: request.params.gid, rolledBack: true };
  });
}

function registerMetrics(db: Database, registry: Registry, walStats: RouteOptions['walStats']): void {
  // Appends per write is the group commit factor: how many commits shared one O_DSYNC write.
  for (const name of ['appends', 'writes'] as const) {
    new Gauge({
      name: `ddia_tx_wal_${name}`,
      help: `write-ahead log: ${name === 'appends' ? 'records appended' : 'O_DSYNC writes (each makes a group of appends durable)'}`,
      registers: [registry],
      collect() {
        this.set(walStats?.()?.[name] ?? 0);
      },
    });
  }
  const stats = db.stats();
  for (const name of Object.keys(stats) as (keyof typeof stats)[]) {
    new Gauge({
      name: `ddia_tx_${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`,
      help: `transactions engine: ${name}`,
      registers: [registry],
      collect() {
        this.set(db.stats()[name]);
      },
    });
  }
}

/** For tests: the error a route answers for an unknown transaction. */
export const unknownTransaction = (id: number) => new TxError(TxErrors.txNotFound, `no transaction ${id}`);

/** One statement in an open transaction: what an autocommit route and POST /transaction run. */
async function runStatement(s: Statements, st: StatementBody): Promise<StatementResult> {
  switch (st.op) {
    case 'query':
      return { rows: await s.query(st.table, st.where) };
    case 'insert':
      return { count: await s.insert(st.table, st.row) };
    case 'update':
      return { count: await s.update(st.table, st.where, st.set) };
    case 'delete':
      return { count: await s.delete(st.table, st.where) };
  }
}
