// nextv() and all() (LsmIterator's _nextv/_all), db.keys()/db.values() (the values: false
// path), clear() and batch() (encoded straight into one WAL record) against a sorted-array
// model, on a database whose entries lie in the memtable, level-0 tables and deeper levels
// at once: bounds, reverse, limits, a mix of next()/nextv()/all(), explicit and implicit
// snapshots, a reopen (WAL replay of batch records).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '@ddia/common';
import { afterAll, describe, expect, it } from 'vitest';
import { LsmLevel } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'lsm-nextv-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const key = (i: number) => `k${String(i).padStart(5, '0')}`;

type Entry = [string, string];
type Range = { gt?: string; gte?: string; lt?: string; lte?: string; reverse?: boolean; limit?: number };

function inRange(k: string, o: { gt?: string; gte?: string; lt?: string; lte?: string }): boolean {
  if (o.gt !== undefined && k <= o.gt) return false;
  if (o.gte !== undefined && k < o.gte) return false;
  if (o.lt !== undefined && k >= o.lt) return false;
  if (o.lte !== undefined && k > o.lte) return false;
  return true;
}

function expected(model: Map<string, string>, o: Range): Entry[] {
  const rows = [...model.entries()].filter(([k]) => inRange(k, o)).sort(([a], [b]) => (a < b ? -1 : 1));
  if (o.reverse) rows.reverse();
  return o.limit !== undefined && o.limit >= 0 ? rows.slice(0, o.limit) : rows;
}

async function openFilled(name: string, random: SeededRandom) {
  // A small write buffer: the 3,000 writes below make level-0 tables and deeper levels.
  const db = new LsmLevel(join(root, name), { writeBufferBytes: 16 * 1024 });
  await db.open();
  const model = new Map<string, string>();
  for (let round = 0; round < 6; round++) {
    const ops: ({ type: 'put'; key: string; value: string } | { type: 'del'; key: string })[] = [];
    for (let j = 0; j < 500; j++) {
      const k = key(random.int(0, 1999));
      if (random.int(0, 9) === 0) {
        ops.push({ type: 'del', key: k });
        model.delete(k);
      } else {
        const v = `v${round}-${j}-${'x'.repeat(random.int(0, 40))}`;
        ops.push({ type: 'put', key: k, value: v });
        model.set(k, v);
      }
    }
    // Ascending runs (the memtable's splice path) in half the rounds, random order otherwise.
    if (round % 2 === 0) {
      const last = new Map(ops.map((op) => [op.key, op]));
      ops.splice(0, ops.length, ...[...last.values()].sort((a, b) => (a.key < b.key ? -1 : 1)));
    }
    await db.batch(ops);
  }
  return { db, model };
}

describe('nextv() and all()', () => {
  it('return what the model holds, for bounds, reverse, limits and chunk sizes', async () => {
    const random = new SeededRandom(11);
    const { db, model } = await openFilled('ranges', random);
    expect(db.stats().levels.some((l) => l.files > 0)).toBe(true);
    for (let trial = 0; trial < 40; trial++) {
      const a = key(random.int(0, 2100));
      const b = key(random.int(0, 2100));
      const [lo, hi] = a < b ? [a, b] : [b, a];
      const o: Range = {};
      if (random.int(0, 2) > 0) o[random.int(0, 1) === 0 ? 'gt' : 'gte'] = lo;
      if (random.int(0, 2) > 0) o[random.int(0, 1) === 0 ? 'lt' : 'lte'] = hi;
      o.reverse = random.int(0, 1) === 1;
      if (random.int(0, 2) === 0) o.limit = random.int(0, 300);
      const want = expected(model, o);
      expect(await db.iterator(o).all()).toEqual(want);
      const size = random.int(1, 700);
      const it = db.iterator(o);
      const got: Entry[] = [];
      for (;;) {
        const chunk = await it.nextv(size);
        expect(chunk.length).toBeLessThanOrEqual(size);
        if (chunk.length === 0) break;
        got.push(...chunk);
      }
      expect(await it.nextv(size)).toEqual([]);
      await it.close();
      expect(got).toEqual(want);
      expect(await db.keys(o).all()).toEqual(want.map(([k]) => k));
      expect(await db.values(o).all()).toEqual(want.map(([, v]) => v));
    }
    await db.close();
  }, 60_000);

  it('continue where next() left off, count toward the limit, and see their snapshot only', async () => {
    const random = new SeededRandom(12);
    const { db, model } = await openFilled('mixed', random);
    const want = expected(model, { limit: 250 });
    const it = db.iterator({ limit: 250 });
    const first = await it.next();
    const chunk = await it.nextv(100);
    const rest = await it.all();
    expect([first, ...chunk, ...rest]).toEqual(want);
    expect(chunk.length).toBe(100);

    // Implicit snapshot: an iterator made before a write does not see it.
    const before = expected(model, {});
    const implicit = db.iterator();
    const snapshot = db.snapshot();
    await db.batch([
      { type: 'del', key: before[0]![0] },
      { type: 'put', key: 'k99999', value: 'late' },
    ]);
    await db.clear({ gte: before[1]![0], lte: before[10]![0] });
    expect(await implicit.all()).toEqual(before);
    expect(await db.iterator({ snapshot }).all()).toEqual(before);
    await snapshot.close();
    model.delete(before[0]![0]);
    for (const [k] of before.slice(1, 11)) model.delete(k);
    model.set('k99999', 'late');
    expect(await db.iterator().all()).toEqual(expected(model, {}));
    await db.close();
  }, 60_000);

  it('clear() with bounds, reverse and a limit removes exactly what the model says, across a reopen', async () => {
    const random = new SeededRandom(13);
    const { db, model } = await openFilled('clear', random);
    for (const o of [
      { gte: key(100), lt: key(400) },
      { gt: key(900), lte: key(1300), reverse: true, limit: 50 },
      { lt: key(50), limit: 7 },
    ]) {
      for (const [k] of expected(model, o)) model.delete(k);
      await db.clear(o);
      expect(await db.iterator().all()).toEqual(expected(model, {}));
    }
    await db.close();
    const again = new LsmLevel(db.location);
    await again.open();
    expect(await again.iterator().all()).toEqual(expected(model, {}));
    await again.close();
  }, 60_000);
});
