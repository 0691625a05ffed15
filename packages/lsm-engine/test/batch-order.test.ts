// db.batch() inserts its operations in key order (lsm-level.ts _batch, for the memtable's
// splice): the order must never change what a batch means. A key written several times in one
// batch keeps its last write, across the memtable, a flush and a WAL replay, and the caller's
// array is left as it was given.
import { SeededRandom } from '@ddia/common';
import { FaultFileSystem } from '@ddia/testkit';
import { expect, it } from 'vitest';
import { LsmLevel } from '../src/index.js';

type Op = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

it('keeps the last write of a key repeated in one batch, in memory, in tables and after a replay', async () => {
  const fs = new FaultFileSystem({ seed: 1 });
  const open = async () => {
    const db = new LsmLevel('/data/batch-order', { fs, writeBufferBytes: 16 * 1024 });
    await db.open();
    return db;
  };
  let db = await open();
  const random = new SeededRandom(26);
  const model = new Map<string, string>();
  for (let b = 0; b < 40; b++) {
    // 200 operations over 60 keys in random order: most keys come up several times, puts and
    // deletes mixed, so the last write of a key is often neither its first nor in key order.
    const ops: Op[] = Array.from({ length: 200 }, (_, i) => {
      const key = `k${String(random.int(0, 59)).padStart(2, '0')}`;
      return random.chance(0.2) ? { type: 'del', key } : { type: 'put', key, value: `${b}:${i}` };
    });
    const given = JSON.stringify(ops);
    await db.batch(ops);
    expect(JSON.stringify(ops), 'the caller array is untouched').toBe(given);
    for (const op of ops) {
      if (op.type === 'put') model.set(op.key, op.value);
      else model.delete(op.key);
    }
    const seen = new Map(await db.iterator().all());
    expect(seen, `after batch ${b}`).toEqual(model);
  }
  expect(db.stats().flushes).toBeGreaterThan(0);
  await db.close();
  // The last memtable comes back from the WAL: its batch records replay to the same state.
  db = await open();
  expect(new Map(await db.iterator().all())).toEqual(model);
  await db.close();
});
