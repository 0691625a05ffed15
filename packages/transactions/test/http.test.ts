// The HTTP API in process: routes, held-open lock waits, problem+json for bad input.
import { createService, type Service, SystemClock } from '@ddia/common';
import { FaultFileSystem } from '@ddia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/durability/wal.js';
import { Database } from '../src/engine/database.js';
import { registerRoutes } from '../src/server.js';

let service: Service;
let base: string;

beforeAll(async () => {
  const db = new Database({ clock: new SystemClock(), lockTimeoutMs: 2000, idleTimeoutMs: 1500 });
  service = await createService({
    name: 'transactions',
    config: { host: '127.0.0.1', port: 0, logLevel: 'silent', id: 't1' },
    handleSignals: false,
  });
  registerRoutes(service.app, db, service.registry);
  base = await service.listen();
});
afterAll(() => service.close());

async function post(path: string, body?: unknown) {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as any };
}

describe('transactions over HTTP', () => {
  it('creates a table, runs a transaction, commits, lists tables', async () => {
    expect((await post('/tables', { name: 'kv', primaryKey: 'k' })).status).toBe(201);
    const tx = await post('/tx', { isolation: 'repeatable-read' });
    expect(tx.status).toBe(201);
    const id = tx.body.id;
    expect((await post(`/tx/${id}/insert`, { table: 'kv', row: { k: 'a', n: 1 } })).body).toEqual({
      count: 1,
    });
    expect((await post(`/tx/${id}/insert`, { table: 'kv', row: { k: 'b', n: 2 } })).body).toEqual({
      count: 1,
    });
    expect(
      (await post(`/tx/${id}/update`, { table: 'kv', where: "k = 'a'", set: { n: 'n * 10' } })).body,
    ).toEqual({
      count: 1,
    });
    expect((await post(`/tx/${id}/query`, { table: 'kv', where: 'n > 1' })).body.rows).toEqual([
      { k: 'a', n: 10 },
      { k: 'b', n: 2 },
    ]);
    expect((await post('/query', { table: 'kv' })).body.rows).toEqual([]);
    expect((await post(`/tx/${id}/commit`)).status).toBe(200);
    expect((await post('/query', { table: 'kv' })).body.rows).toHaveLength(2);
    const tables = (await (await fetch(`${base}/tables`)).json()) as { tables: unknown[] };
    expect(tables.tables).toContainEqual({ name: 'kv', primaryKey: 'k', rows: 2 });
  });

  it('POST /transaction runs a whole transaction in one request, and rolls all of it back on a failure', async () => {
    expect((await post('/tables', { name: 'acct', primaryKey: 'id' })).status).toBe(201);
    const setup = await post('/transaction', {
      statements: [
        { op: 'insert', table: 'acct', row: { id: 1, balance: 10 } },
        { op: 'insert', table: 'acct', row: { id: 2, balance: 10 } },
      ],
    });
    expect(setup.body).toEqual({ results: [{ count: 1 }, { count: 1 }] });
    const transfer = await post('/transaction', {
      isolation: 'serializable',
      statements: [
        { op: 'query', table: 'acct', where: 'id = 1' },
        { op: 'update', table: 'acct', where: 'id = 1', set: { balance: 'balance - 3' } },
        { op: 'update', table: 'acct', where: 'id = 2', set: { balance: 'balance + 3' } },
        { op: 'query', table: 'acct' },
      ],
    });
    expect(transfer.status).toBe(200);
    expect(transfer.body.results).toEqual([
      { rows: [{ id: 1, balance: 10 }] },
      { count: 1 },
      { count: 1 },
      {
        rows: [
          { id: 1, balance: 7 },
          { id: 2, balance: 13 },
        ],
      },
    ]);
    // The third statement fails (a duplicate key): the first two must not survive either.
    const failed = await post('/transaction', {
      statements: [
        { op: 'update', table: 'acct', where: 'id = 1', set: { balance: '0' } },
        { op: 'delete', table: 'acct', where: 'id = 2' },
        { op: 'insert', table: 'acct', row: { id: 1, balance: 99 } },
      ],
    });
    expect(failed.status).toBe(409);
    expect(failed.type).toContain('application/problem+json');
    expect(failed.body.code).toBe('DDIA_ERR_TX_DUPLICATE_KEY');
    expect((await post('/query', { table: 'acct' })).body.rows).toEqual([
      { id: 1, balance: 7 },
      { id: 2, balance: 13 },
    ]);
    for (const bad of [
      { statements: [] },
      { statements: [{ op: 'merge', table: 'acct' }] },
      { statements: Array.from({ length: 65 }, () => ({ op: 'query', table: 'acct' })) },
      { isolation: 'snapshot', statements: [{ op: 'query', table: 'acct' }] },
    ]) {
      const res = await post('/transaction', bad);
      expect(res.status, JSON.stringify(bad).slice(0, 80)).toBe(400);
      expect(res.type).toContain('application/problem+json');
    }
  });

  it('holds a statement that must wait open until the lock holder commits', async () => {
    const a = (await post('/tx', {})).body.id;
    expect(
      (await post(`/tx/${a}/update`, { table: 'kv', where: "k = 'a'", set: { n: 'n + 1' } })).status,
    ).toBe(200);
    let answered = false;
    const waiting = post('/update', { table: 'kv', where: "k = 'a'", set: { n: 'n + 1' } }).then((r) => {
      answered = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(answered).toBe(false);
    await post(`/tx/${a}/commit`);
    expect((await waiting).body).toEqual({ count: 1 });
    expect((await post('/query', { table: 'kv', where: "k = 'a'" })).body.rows[0].n).toBe(12);
  });

  it('answers a serialization failure with 409 DDIA_ERR_TX_SERIALIZATION naming the conflict', async () => {
    const a = (await post('/tx', { isolation: 'repeatable-read' })).body.id;
    const b = (await post('/tx', { isolation: 'repeatable-read' })).body.id;
    await post(`/tx/${a}/query`, { table: 'kv' });
    await post(`/tx/${b}/query`, { table: 'kv' });
    await post(`/tx/${a}/update`, { table: 'kv', where: "k = 'b'", set: { n: '0' } });
    const waiting = post(`/tx/${b}/update`, { table: 'kv', where: "k = 'b'", set: { n: '1' } });
    await post(`/tx/${a}/commit`);
    const r = await waiting;
    expect(r.status).toBe(409);
    expect(r.type).toContain('application/problem+json');
    expect(r.body.code).toBe('DDIA_ERR_TX_SERIALIZATION');
    // The code before the TX_ infix, kept for one release so old clients still match.
    expect(r.body.deprecatedCode).toBe('DDIA_ERR_SERIALIZATION');
    expect(r.body.retriable).toBe(true);
    expect(r.body.detail).toContain('concurrent update');
    expect((await post(`/tx/${b}/rollback`)).status).toBe(200);
  });

  it('rolls back an idle transaction', async () => {
    const a = (await post('/tx', {})).body.id;
    await new Promise((r) => setTimeout(r, 2000));
    const r = await post(`/tx/${a}/query`, { table: 'kv' });
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('DDIA_ERR_TX_ABORTED');
    expect(r.body.detail).toContain('idle');
  });

  it.each([
    ['/tx/999999/query', { table: 'kv' }, 404, 'DDIA_ERR_TX_NOT_FOUND'],
    ['/tx/abc/query', { table: 'kv' }, 400, 'DDIA_ERR_VALIDATION'],
    ['/tx', { isolation: 'snapshot' }, 400, 'DDIA_ERR_VALIDATION'],
    ['/query', { table: 'kv', where: 'n >' }, 400, 'DDIA_ERR_TX_BAD_EXPRESSION'],
    ['/query', { table: 'kv', where: "n * 'x' = 1" }, 400, 'DDIA_ERR_TX_WRONG_TYPE'],
    ['/query', { table: 'kv', where: 'n + 1' }, 400, 'DDIA_ERR_TX_WRONG_TYPE'],
    ['/query', { table: 'nope' }, 404, 'DDIA_ERR_TX_TABLE_NOT_FOUND'],
    ['/query', {}, 400, 'DDIA_ERR_VALIDATION'],
    ['/insert', { table: 'kv', row: { n: 1 } }, 400, 'DDIA_ERR_TX_BAD_ROW'],
    ['/insert', { table: 'kv', row: { k: 'a' } }, 409, 'DDIA_ERR_TX_DUPLICATE_KEY'],
    ['/update', { table: 'kv', where: 'true', set: {} }, 400, 'DDIA_ERR_VALIDATION'],
    ['/update', { table: 'kv', where: 'true', set: { n: 'n +' } }, 400, 'DDIA_ERR_TX_BAD_EXPRESSION'],
    ['/tables', { name: 'kv', primaryKey: 'k' }, 409, 'DDIA_ERR_TX_TABLE_EXISTS'],
    ['/tables', { name: '1 bad', primaryKey: 'k' }, 400, 'DDIA_ERR_VALIDATION'],
    ['/query', '{"table":', 400, 'DDIA_ERR_BAD_JSON'],
  ])('POST %s %j -> %i %s', async (path, body, status, code) => {
    const r = await post(path, body);
    expect(r.status).toBe(status);
    expect(r.type).toContain('application/problem+json');
    expect(r.body.code).toBe(code);
  });

  it('reports the position of a bad expression', async () => {
    const r = await post('/query', { table: 'kv', where: 'n = = 1' });
    expect(r.body.position).toBe(4);
    expect(r.body.detail).toContain('position 4');
  });
});

describe('WAL metrics', () => {
  it('exports appends and O_DSYNC writes: concurrent commits share writes (group commit)', async () => {
    const fs = new FaultFileSystem({ seed: 1 });
    await fs.mkdir('/data');
    const opened = await openDatabase({ clock: new SystemClock(), dataDir: '/data', fs });
    const svc = await createService({
      name: 'transactions',
      config: { host: '127.0.0.1', port: 0, logLevel: 'silent', id: 't2' },
      handleSignals: false,
      onClose: () => opened.close(),
    });
    registerRoutes(svc.app, opened.db, svc.registry, { walStats: () => opened.walStats() });
    const url = await svc.listen();
    try {
      await opened.db.createTable('t', 'id');
      await Promise.all(
        Array.from({ length: 20 }, (_, id) =>
          opened.db.transact('read-committed', (s) => s.insert('t', { id })),
        ),
      );
      const text = await (await fetch(`${url}/metrics`)).text();
      const gauge = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1]);
      expect(gauge('ddia_tx_wal_appends')).toBe(21);
      expect(gauge('ddia_tx_wal_writes')).toBeGreaterThanOrEqual(2);
      expect(gauge('ddia_tx_wal_writes')).toBeLessThan(21);
    } finally {
      await svc.close();
    }
  });
});
