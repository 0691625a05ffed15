// The engine's isolation behaviour, named after the book's stories (DDIA ch. 7).
import { DdiaError, ManualClock } from '@ddia/common';
import { describe, expect, it } from 'vitest';
import { Database } from '../src/engine/database.js';
import type { Isolation } from '../src/engine/transaction.js';

async function bank(
  clock = new ManualClock(),
  opts: { lockTimeoutMs?: number; idleTimeoutMs?: number } = {},
) {
  const db = new Database({ clock, ...opts });
  await db.createTable('accounts', 'id');
  await db.transact('read-committed', async (s) => {
    await s.insert('accounts', { id: 1, balance: 500 });
    await s.insert('accounts', { id: 2, balance: 500 });
  });
  return db;
}

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof DdiaError) return e.code;
    throw e;
  }
};
const tick = () => new Promise((r) => setImmediate(r));

describe('dirty writes and dirty reads', () => {
  it('read-uncommitted sees an uncommitted write, read-committed does not', async () => {
    const db = await bank();
    const w = await db.begin('read-committed');
    await db.update(w, 'accounts', 'id = 1', { balance: '0' });
    const ru = await db.begin('read-uncommitted');
    const rc = await db.begin('read-committed');
    expect((await db.query(ru, 'accounts', 'id = 1'))[0]!.balance).toBe(0);
    expect((await db.query(rc, 'accounts', 'id = 1'))[0]!.balance).toBe(500);
  });

  it('no level allows dirty writes: the second writer waits for the first to finish', async () => {
    const db = await bank();
    const a = await db.begin('read-uncommitted');
    const b = await db.begin('read-uncommitted');
    await db.update(a, 'accounts', 'id = 1', { balance: '1' });
    let done = false;
    const second = db.update(b, 'accounts', 'id = 1', { balance: '2' }).then((n) => {
      done = true;
      return n;
    });
    await tick();
    expect(done).toBe(false);
    await db.commit(a);
    expect(await second).toBe(1);
    await db.commit(b);
    expect(db.committedRows('accounts')[0]!.balance).toBe(2);
  });
});

describe('Figure 7-1 lost update: two clients increment a counter', () => {
  async function increments(level: Isolation, atomic: boolean) {
    const db = await bank();
    const a = await db.begin(level);
    const b = await db.begin(level);
    const readA = (await db.query(a, 'accounts', 'id = 1'))[0]!.balance as number;
    const readB = (await db.query(b, 'accounts', 'id = 1'))[0]!.balance as number;
    const set = (read: number) => ({ balance: atomic ? 'balance + 1' : String(read + 1) });
    const ua = codeOf(db.update(a, 'accounts', 'id = 1', set(readA)));
    const ub = codeOf(db.update(b, 'accounts', 'id = 1', set(readB)));
    await tick();
    const ca = await codeOf(ua.then(() => db.commit(a)));
    const cb = (await ub) === 'ok' ? await codeOf(db.commit(b)) : await ub;
    return { final: db.committedRows('accounts')[0]!.balance, ca, cb, ub: await ub };
  }

  it('read-committed loses an update made by read-modify-write in the application', async () => {
    const r = await increments('read-committed', false);
    expect(r.final).toBe(501);
    expect([r.ca, r.cb]).toEqual(['ok', 'ok']);
  });

  it('read-committed keeps both atomic increments (the write re-reads the row it waited for)', async () => {
    expect((await increments('read-committed', true)).final).toBe(502);
  });

  it('repeatable-read detects the lost update: first updater wins, the other gets 40001', async () => {
    const r = await increments('repeatable-read', false);
    expect(r.ub).toBe('DDIA_ERR_TX_SERIALIZATION');
    expect(r.final).toBe(501);
  });

  it('serializable-2pl: both hold read locks, both want to write: a deadlock aborts one', async () => {
    const r = await increments('serializable-2pl', false);
    expect(r.ub).toBe('DDIA_ERR_TX_DEADLOCK');
    expect(r.final).toBe(501);
  });
});

describe('Figure 7-8 write skew: doctors on call', () => {
  async function doctors(level: Isolation) {
    const db = new Database({ clock: new ManualClock() });
    await db.createTable('doctors', 'name');
    await db.transact('read-committed', async (s) => {
      await s.insert('doctors', { name: 'alice', onCall: true, shift: 1234 });
      await s.insert('doctors', { name: 'bob', onCall: true, shift: 1234 });
    });
    const goOffCall = async (name: string) => {
      const tx = await db.begin(level);
      const s = db.statementsOf(tx);
      return {
        check: async () => (await s.query('doctors', 'onCall = true and shift = 1234')).length,
        write: () => s.update('doctors', `name = '${name}'`, { onCall: 'false' }),
        commit: () => db.commit(tx),
      };
    };
    const alice = await goOffCall('alice');
    const bob = await goOffCall('bob');
    expect(await alice.check()).toBe(2);
    expect(await bob.check()).toBe(2);
    const wa = codeOf(alice.write());
    const wb = codeOf(bob.write());
    await tick();
    const outcomes = [await codeOf((async () => (await wa) === 'ok' && alice.commit())())];
    outcomes.push(await codeOf((async () => (await wb) === 'ok' && bob.commit())()));
    const onCall = db.committedRows('doctors').filter((d) => d.onCall).length;
    return { onCall, wa: await wa, wb: await wb, outcomes };
  }

  it('snapshot isolation lets both doctors go off call', async () => {
    expect((await doctors('repeatable-read')).onCall).toBe(0);
  });

  it('serializable snapshot isolation aborts one of them at commit', async () => {
    const r = await doctors('serializable');
    expect(r.onCall).toBe(1);
    expect(r.outcomes).toContain('DDIA_ERR_TX_SERIALIZATION');
  });

  it('two-phase locking makes one wait and then deadlock', async () => {
    const r = await doctors('serializable-2pl');
    expect(r.onCall).toBe(1);
    expect([r.wa, r.wb]).toContain('DDIA_ERR_TX_DEADLOCK');
  });
});

describe('locks, timeouts and the serial level', () => {
  it('deadlock between two read-committed writers updating rows in opposite order', async () => {
    const db = await bank();
    const a = await db.begin('read-committed');
    const b = await db.begin('read-committed');
    await db.update(a, 'accounts', 'id = 1', { balance: 'balance - 1' });
    await db.update(b, 'accounts', 'id = 2', { balance: 'balance - 1' });
    const pa = codeOf(db.update(a, 'accounts', 'id = 2', { balance: 'balance + 1' }));
    await tick();
    const err = await codeOf(db.update(b, 'accounts', 'id = 1', { balance: 'balance + 1' }));
    expect(err).toBe('DDIA_ERR_TX_DEADLOCK');
    expect(await pa).toBe('ok');
    await db.commit(a);
    expect(db.committedRows('accounts').map((r) => r.balance)).toEqual([499, 501]);
    expect(db.stats().deadlocks).toBe(1);
  });

  it('a lock wait gives up after the lock timeout, naming the holder', async () => {
    const clock = new ManualClock();
    const db = await bank(clock, { lockTimeoutMs: 1000 });
    const a = await db.begin('read-committed');
    const b = await db.begin('read-committed');
    await db.update(a, 'accounts', 'id = 1', { balance: '1' });
    const waiting = db.update(b, 'accounts', 'id = 1', { balance: '2' }).catch((e: DdiaError) => e);
    await tick();
    clock.advance(999);
    await tick();
    clock.advance(1);
    const e = (await waiting) as DdiaError;
    expect(e.code).toBe('DDIA_ERR_TX_LOCK_TIMEOUT');
    expect(e.message).toContain(`held by tx ${a}`);
    expect(await codeOf(db.query(b, 'accounts'))).toBe('DDIA_ERR_TX_ABORTED');
  });

  it('an idle transaction is rolled back and releases its locks', async () => {
    const clock = new ManualClock();
    const db = await bank(clock, { idleTimeoutMs: 5000 });
    const a = await db.begin('read-committed');
    await db.update(a, 'accounts', 'id = 1', { balance: '1' });
    clock.advance(5000);
    const e = await db.query(a, 'accounts').catch((x: DdiaError) => x);
    expect((e as DdiaError).code).toBe('DDIA_ERR_TX_ABORTED');
    expect((e as DdiaError).message).toContain('idle for more than 5000 ms');
    expect(db.committedRows('accounts')[0]!.balance).toBe(500);
    expect(await db.transact('read-committed', (s) => s.update('accounts', 'id = 1', { balance: '7' }))).toBe(
      1,
    );
  });

  it('serial: a second transaction begins only after the first finishes', async () => {
    const db = await bank();
    const a = await db.begin('serial');
    let began = false;
    const b = db.begin('serial').then((id) => {
      began = true;
      return id;
    });
    await tick();
    expect(began).toBe(false);
    await db.commit(a);
    expect(typeof (await b)).toBe('number');
  });

  it('unknown, finished and busy transactions get named errors', async () => {
    const db = await bank();
    expect(await codeOf(db.query(12345, 'accounts'))).toBe('DDIA_ERR_TX_NOT_FOUND');
    const a = await db.begin();
    await db.commit(a);
    expect(await codeOf(db.commit(a))).toBe('DDIA_ERR_TX_NOT_FOUND');
    expect(await codeOf(db.begin('snapshot'))).toBe('DDIA_ERR_VALIDATION');
  });
});

describe('statements', () => {
  it('a failing statement leaves no partial writes but the transaction lives on', async () => {
    const db = await bank();
    await db.transact('read-committed', (s) => s.insert('accounts', { id: 3, balance: 'lots' }));
    const a = await db.begin('read-committed');
    expect(await codeOf(db.update(a, 'accounts', 'true', { balance: 'balance + 1' }))).toBe(
      'DDIA_ERR_TX_WRONG_TYPE',
    );
    expect((await db.query(a, 'accounts', 'id = 1'))[0]!.balance).toBe(500);
    expect(await db.update(a, 'accounts', 'id = 1', { balance: 'balance + 1' })).toBe(1);
    await db.commit(a);
    expect(db.committedRows('accounts').map((r) => r.balance)).toEqual([501, 500, 'lots']);
  });

  it('rejects duplicate keys, bad rows, primary-key updates and unknown tables', async () => {
    const db = await bank();
    const run = (f: (s: ReturnType<typeof db.statementsOf>) => Promise<unknown>) =>
      codeOf(db.transact('read-committed', f));
    expect(await run((s) => s.insert('accounts', { id: 1, balance: 0 }))).toBe('DDIA_ERR_TX_DUPLICATE_KEY');
    expect(await run((s) => s.insert('accounts', { balance: 0 }))).toBe('DDIA_ERR_TX_BAD_ROW');
    expect(await run((s) => s.insert('accounts', [1]))).toBe('DDIA_ERR_TX_BAD_ROW');
    expect(await run((s) => s.update('accounts', 'true', { id: '5' }))).toBe('DDIA_ERR_TX_BAD_ROW');
    expect(await run((s) => s.query('nope'))).toBe('DDIA_ERR_TX_TABLE_NOT_FOUND');
    expect(await run((s) => s.query('accounts', 'id ='))).toBe('DDIA_ERR_TX_BAD_EXPRESSION');
    expect(await codeOf(db.createTable('accounts', 'id'))).toBe('DDIA_ERR_TX_TABLE_EXISTS');
    expect(await codeOf(db.createTable('bad name', 'id'))).toBe('DDIA_ERR_VALIDATION');
  });

  it('deletes and re-inserts a key; delete then insert in one transaction', async () => {
    const db = await bank();
    await db.transact('repeatable-read', async (s) => {
      expect(await s.delete('accounts', 'id = 2')).toBe(1);
      expect(await s.insert('accounts', { id: 2, balance: 1 })).toBe(1);
    });
    expect(db.committedRows('accounts')).toEqual([
      { id: 1, balance: 500 },
      { id: 2, balance: 1 },
    ]);
  });
});

describe('garbage collection of old versions', () => {
  it('keeps versions an open snapshot needs and drops them once it ends', async () => {
    const db = await bank();
    const reader = await db.begin('repeatable-read');
    expect((await db.query(reader, 'accounts', 'id = 1'))[0]!.balance).toBe(500);
    for (let i = 0; i < 100; i++) {
      await db.transact('read-committed', (s) => s.update('accounts', 'id = 1', { balance: 'balance + 1' }));
    }
    expect((await db.query(reader, 'accounts', 'id = 1'))[0]!.balance).toBe(500);
    expect(db.stats().versions).toBeGreaterThan(2);
    await db.commit(reader);
    await db.transact('read-committed', (s) => s.update('accounts', 'id = 1', { balance: 'balance + 1' }));
    db.vacuumAll();
    expect(db.stats().versions).toBe(2);
    expect(db.committedRows('accounts')[0]!.balance).toBe(601);
  });

  it('forgets SIREAD state of committed serializable transactions nobody overlaps', async () => {
    const db = await bank();
    for (let i = 0; i < 200; i++) {
      await db.transact('serializable', async (s) => {
        await s.query('accounts', 'true');
        await s.update('accounts', 'id = 1', { balance: 'balance + 1' });
      });
    }
    expect(db.ssiRetained()).toBeLessThanOrEqual(1);
  });
});
