// LevelDB's write slowdown: once level 0 holds l0SlowdownTrigger tables, each write (group)
// waits 1 ms before it goes in; below that, and at or above the stop trigger, it does not.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LsmLevel } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'lsm-slowdown-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function level0With(files: number, slowdown: number) {
  // Compaction would only start at 20 level-0 tables: the count stays where the test puts it.
  const db = new LsmLevel(join(root, `db-${files}-${slowdown}`), {
    l0CompactionTrigger: 20,
    l0SlowdownTrigger: slowdown,
    l0StopTrigger: 30,
  });
  await db.open();
  // Every table spans [a, z]: the first flush finds no overlap and goes to level 2, the second
  // overlaps it and goes to level 1 (LevelDB's placement of flushes, db.ts levelForFlush);
  // from the third on each overlaps level 1 and stays in level 0.
  for (let i = 0; i < files + 2; i++) {
    await db.batch([
      { type: 'put', key: 'a', value: `v${i}` },
      { type: 'put', key: 'z', value: `v${i}` },
    ]);
    await db.flush();
  }
  expect(db.stats().levels[2]!.files).toBe(1);
  expect(db.stats().levels[1]!.files).toBe(1);
  expect(db.stats().levels[0]!.files).toBe(files);
  return db;
}

describe('level-0 slowdown trigger', () => {
  it('delays each write by 1 ms once level 0 reaches the trigger, and none before', async () => {
    const db = await level0With(2, 3);
    for (let i = 0; i < 20; i++) await db.put(`a${i}`, 'v');
    expect(db.stats().slowdowns).toBe(0);
    await db.flush();
    expect(db.stats().levels[0]!.files).toBe(3);
    const start = performance.now();
    for (let i = 0; i < 20; i++) await db.put(`b${i}`, 'v');
    await db.batch([{ type: 'put', key: 'c', value: 'v' }]);
    const elapsed = performance.now() - start;
    expect(db.stats().slowdowns).toBe(21);
    expect(elapsed).toBeGreaterThanOrEqual(20);
    expect(await db.get('b19')).toBe('v');
    await db.close();
  }, 60_000);

  it('does not apply when the trigger is at or above the stop trigger', async () => {
    const db = await level0With(3, 30);
    for (let i = 0; i < 20; i++) await db.put(`b${i}`, 'v');
    expect(db.stats().slowdowns).toBe(0);
    await db.close();
  }, 60_000);
});
