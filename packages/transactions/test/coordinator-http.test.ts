// The coordinator's HTTP API in process, over in-process participants.
import { createService, ManualClock, type Service } from '@ddia/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Coordinator, type DecisionRecord } from '../src/distributed/coordinator.js';
import { registerCoordinatorRoutes } from '../src/distributed/coordinator-server.js';
import { LocalParticipant, type Participant } from '../src/distributed/participant.js';
import { Database } from '../src/engine/database.js';

let service: Service;
let base: string;
const decisions: DecisionRecord[] = [];
const dbs = [0, 1].map(() => new Database({ clock: new ManualClock() }));

beforeAll(async () => {
  for (const [i, db] of dbs.entries()) {
    await db.createTable('accounts', 'id');
    await db.createTable('ledger', 'id');
    await db.transact('read-committed', async (s) => {
      for (let a = i; a < 4; a += 2) await s.insert('accounts', { id: a, balance: 100 });
    });
  }
  const participants = new Map<string, Participant>(
    dbs.map((db, i) => [`p${i}`, new LocalParticipant(`p${i}`, db)]),
  );
  const coordinator = new Coordinator('c', participants, { append: async (r) => void decisions.push(r) });
  await coordinator.start();
  service = await createService({
    name: 'coordinator',
    config: { host: '127.0.0.1', port: 0, logLevel: 'silent', id: 'c' },
    handleSignals: false,
  });
  registerCoordinatorRoutes(service.app, { coordinator, shards: ['p0', 'p1'], chaos: false, arm: () => {} });
  base = await service.listen();
});
afterAll(() => service.close());

async function post(path: string, body: unknown) {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('2PC coordinator over HTTP', () => {
  it('commits a transfer across two shards atomically and logs the decision', async () => {
    const r = await post('/transfer', { from: 0, to: 1, amount: 30 });
    expect(r.status).toBe(200);
    expect(r.body.committed).toBe(true);
    expect(dbs[0]!.committedRows('accounts')).toEqual([
      { id: 0, balance: 70 },
      { id: 2, balance: 100 },
    ]);
    expect(dbs[1]!.committedRows('accounts')[0]).toEqual({ id: 1, balance: 130 });
    expect(decisions.map((d) => d.type)).toEqual(['epoch', 'commit', 'done']);
  });

  it('aborts everywhere when one shard fails, leaving no half', async () => {
    const r = await post('/transfer', { from: 0, to: 9, amount: 5 });
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('DDIA_ERR_TX_TRANSFER_ABORTED');
    expect(r.body.detail).toContain('no account 9');
    expect(dbs[0]!.committedRows('accounts')[0]).toEqual({ id: 0, balance: 70 });
    expect(dbs.flatMap((db) => db.preparedIds())).toEqual([]);
  });

  it.each([
    [{ from: 1, to: 1, amount: 5 }, 400, 'DDIA_ERR_VALIDATION'],
    [{ from: 0, to: 1, amount: 0 }, 400, 'DDIA_ERR_VALIDATION'],
    [{ from: -1, to: 1, amount: 5 }, 400, 'DDIA_ERR_VALIDATION'],
    [{ to: 1, amount: 5 }, 400, 'DDIA_ERR_VALIDATION'],
  ])('rejects %j', async (body, status, code) => {
    const r = await post('/transfer', body);
    expect(r.status).toBe(status);
    expect(r.body.code).toBe(code);
  });

  it('has no fault injection unless started with --chaos', async () => {
    const r = await post('/chaos/crash-at', { point: 'after-decision' });
    expect(r.status).toBe(404);
    expect(r.body.code).toBe('DDIA_ERR_CHAOS_DISABLED');
  });
});
