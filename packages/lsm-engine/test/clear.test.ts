// db.clear() of ranges (lsm-level.ts _clear: the engine walks the range and writes the
// tombstones a batch at a time) against a sorted-array model, with keys spread over the
// memtable, level-0 tables and deeper levels, overwritten and deleted versions among them,
// and every bound, reverse and limit combination abstract-level allows. Then a reopen: the
// tombstones are in the WAL or the tables like any other write.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '@ddia/common';
import { afterAll, describe, expect, it } from 'vitest';
import { LsmLevel } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'lsm-clear-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const KEYS = 3_000;
const key = (i: number) => `k${String(i).padStart(5, '0')}`;
const options = { writeBufferBytes: 16 * 1024, targetFileBytes: 16 * 1024, l0CompactionTrigger: 2 };

interface Range {
  gt?: string;
  gte?: string;
  lt?: string;
  lte?: string;
  reverse?: boolean;
  limit?: number;
}

function inRange(k: string, r: Range): boolean {
  if (r.gt !== undefined && k <= r.gt) return false;
  if (r.gte !== undefined && k < r.gte) return false;
  if (r.lt !== undefined && k >= r.lt) return false;
  if (r.lte !== undefined && k > r.lte) return false;
  return true;
}

/** What abstract-level's clear() removes from the model: the first `limit` in iteration order. */
function clearModel(model: Map<string, string>, r: Range): void {
  const keys = [...model.keys()].filter((k) => inRange(k, r)).sort();
  if (r.reverse) keys.reverse();
  const limit = r.limit === undefined || r.limit < 0 ? keys.length : r.limit;
  for (const k of keys.slice(0, limit)) model.delete(k);
}

function randomRange(random: SeededRandom): Range {
  const a = random.int(0, KEYS);
  const b = Math.min(KEYS, a + random.int(0, 1_500));
  const r: Range = {};
  if (random.chance(0.8)) r[random.chance(0.5) ? 'gte' : 'gt'] = key(a);
  if (random.chance(0.8)) r[random.chance(0.5) ? 'lt' : 'lte'] = key(b);
  if (random.chance(0.3)) r.reverse = true;
  // Limits below and above the engine's 1,000 tombstones per batch.
  if (random.chance(0.4)) r.limit = random.pick([0, 1, 7, 999, 1_000, 1_001, 1_400, -1]);
  return r;
}

async function contents(db: LsmLevel): Promise<Map<string, string>> {
  return new Map(await db.iterator().all());
}

describe('clear() of ranges', () => {
  it('removes exactly what the model removes, over memtable and tables, and across a reopen', async () => {
    const random = new SeededRandom(Number(process.env.DDIA_SEED ?? 26));
    const dir = join(root, 'db');
    const db = new LsmLevel(dir, options);
    await db.open();
    const model = new Map<string, string>();
    const write = async () => {
      const batch = db.batch();
      for (let n = 0; n < 400; n++) {
        const i = random.int(0, KEYS - 1);
        if (random.chance(0.1)) {
          batch.del(key(i));
          model.delete(key(i));
        } else {
          const value = `${key(i)}:${random.int(0, 1e9)}`;
          batch.put(key(i), value);
          model.set(key(i), value);
        }
      }
      await batch.write();
    };
    for (let round = 0; round < 12; round++) {
      for (let w = 0; w < 5; w++) await write();
      const r = randomRange(random);
      await db.clear(r);
      clearModel(model, r);
      expect(await contents(db), JSON.stringify(r)).toEqual(model);
    }
    // A clear of everything with no bounds, on a fresh fill.
    for (let w = 0; w < 5; w++) await write();
    expect(db.stats().flushes).toBeGreaterThan(3);
    await db.close();
    const again = new LsmLevel(dir, options);
    await again.open();
    expect(await contents(again)).toEqual(model);
    await again.clear();
    expect(await contents(again)).toEqual(new Map());
    await again.close();
  }, 60_000);

  it('leaves a snapshot taken before it untouched', async () => {
    const db = new LsmLevel(join(root, 'snap'), options);
    await db.open();
    await db.batch(
      Array.from({ length: 2_500 }, (_, i) => ({ type: 'put' as const, key: key(i), value: 'v' })),
    );
    const snapshot = db.snapshot();
    await db.clear({ gte: key(100), lt: key(2_200) });
    expect((await db.keys().all()).length).toBe(400);
    expect((await db.keys({ snapshot }).all()).length).toBe(2_500);
    await snapshot.close();
    await db.close();
  });
});
