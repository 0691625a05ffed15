// Replaying the WAL rebuilds exactly the committed state, and prepared transactions come back
// holding their row locks until the coordinator decides.
import { type DdiaError, ManualClock } from '@ddia/common';
import { describe, expect, it } from 'vitest';
import { Database } from '../src/engine/database.js';
import {
  decodeWalRecord,
  encodeWalRecord,
  type WalRecord,
  WalRecordError,
} from '../src/engine/wal-record.js';

class MemoryWal {
  records: WalRecord[] = [];
  async append(r: WalRecord) {
    // Through the byte encoding, as the real log does.
    this.records.push(decodeWalRecord(encodeWalRecord(r)));
  }
}

function reopen(wal: MemoryWal, clock = new ManualClock()) {
  const db = new Database({ clock, lockTimeoutMs: 100 });
  for (const r of wal.records) db.replay(r);
  db.attachWal(wal);
  return db;
}

describe('recovery from the WAL', () => {
  it('replays committed transactions only; aborted and open ones leave nothing', async () => {
    const wal = new MemoryWal();
    const db = new Database({ clock: new ManualClock(), wal });
    await db.createTable('t', 'id');
    await db.transact('repeatable-read', async (s) => {
      await s.insert('t', { id: 1, v: 'a' });
      await s.insert('t', { id: 2, v: 'b' });
    });
    await db.transact('read-committed', (s) => s.update('t', 'id = 1', { v: "v + '!'" }));
    await db.transact('read-committed', (s) => s.delete('t', 'id = 2'));
    const aborted = await db.begin('read-committed');
    await db.insert(aborted, 't', { id: 3, v: 'gone' });
    db.rollback(aborted);
    const open = await db.begin('read-committed');
    await db.insert(open, 't', { id: 4, v: 'never committed' });
    const read = await db.begin('serializable');
    await db.query(read, 't');
    await db.commit(read);
    expect(wal.records.map((r) => r.type)).toEqual(['create-table', 'commit', 'commit', 'commit']);
    const again = reopen(wal);
    expect(again.committedRows('t')).toEqual([{ id: 1, v: 'a!' }]);
    expect(again.committedRows('t')).toEqual(db.committedRows('t'));
  });

  it('a prepared transaction survives a restart and keeps its locks until the decision', async () => {
    const wal = new MemoryWal();
    const clock = new ManualClock();
    const db = new Database({ clock, wal });
    await db.createTable('t', 'id');
    await db.transact('read-committed', (s) => s.insert('t', { id: 1, n: 0 }));
    const tx = await db.begin('repeatable-read');
    await db.update(tx, 't', 'id = 1', { n: 'n + 5' });
    await db.prepare(tx, 'g1');
    const restarted = reopen(wal, clock);
    expect(restarted.preparedIds()).toEqual(['g1']);
    expect(restarted.committedRows('t')).toEqual([{ id: 1, n: 0 }]);
    const writer = restarted.transact('read-committed', (s) => s.update('t', 'id = 1', { n: 'n + 1' }));
    const outcome = writer.catch((e: DdiaError) => e.code);
    await new Promise((r) => setImmediate(r));
    clock.advance(100);
    expect(await outcome).toBe('DDIA_ERR_TX_LOCK_TIMEOUT');
    await restarted.commitPrepared('g1');
    expect(restarted.committedRows('t')).toEqual([{ id: 1, n: 5 }]);
    expect(reopen(wal).committedRows('t')).toEqual([{ id: 1, n: 5 }]);
    expect(reopen(wal).preparedIds()).toEqual([]);
  });

  it('refuses a record that is not ours', () => {
    expect(() => decodeWalRecord(new TextEncoder().encode('{"type":"nope"}'))).toThrow(WalRecordError);
    expect(() => decodeWalRecord(new Uint8Array([0xff, 0xfe]))).toThrow(WalRecordError);
  });
});
