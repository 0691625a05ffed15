// Where a flushed table goes (db.ts levelForFlush, LevelDB's PickLevelForMemTableOutput): a
// memtable whose keys overlap nothing goes straight to level 2, so sequential loads skip
// compaction; one that overlaps a table above level 2 stops above it; one that overlaps
// level 0 stays in level 0. Reads must still see the newest version of every key.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LsmLevel } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'lsm-flush-level-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const key = (i: number) => `k${String(i).padStart(6, '0')}`;

async function flushRange(db: LsmLevel, from: number, to: number, value: string) {
  const ops = [];
  for (let i = from; i < to; i++) ops.push({ type: 'put' as const, key: key(i), value });
  await db.batch(ops);
  await db.flush();
}

const filesPerLevel = (db: LsmLevel) => db.stats().levels.map((l) => l.files);

describe('flush placement', () => {
  it('puts disjoint flushes in level 2, overlapping ones higher, and reads the newest version', async () => {
    const dir = join(root, 'placement');
    const db = new LsmLevel(dir, { l0CompactionTrigger: 20, l0SlowdownTrigger: 30, l0StopTrigger: 40 });
    await db.open();
    // Ascending, disjoint ranges: each goes to level 2, none is ever compacted.
    for (let r = 0; r < 3; r++) await flushRange(db, r * 100, r * 100 + 100, 'old');
    expect(filesPerLevel(db).slice(0, 3)).toEqual([0, 0, 3]);
    // Overlaps level 2: level 1.
    await flushRange(db, 50, 60, 'mid');
    expect(filesPerLevel(db).slice(0, 3)).toEqual([0, 1, 3]);
    // Overlaps level 1: level 0; then one overlapping only level 0 stays there too.
    await flushRange(db, 55, 56, 'new');
    await flushRange(db, 55, 56, 'newest');
    expect(filesPerLevel(db).slice(0, 3)).toEqual([2, 1, 3]);
    expect(db.stats().compactions).toBe(0);
    expect(await db.get(key(10))).toBe('old');
    expect(await db.get(key(52))).toBe('mid');
    expect(await db.get(key(55))).toBe('newest');
    const seen = new Map<string, string>();
    for await (const [k, v] of db.iterator({ gte: key(50), lt: key(60) })) seen.set(k, v);
    expect([...seen]).toEqual(
      Array.from({ length: 10 }, (_, i) => [key(50 + i), i === 5 ? 'newest' : 'mid']),
    );
    // The placement is in the manifest: the same levels and values after a reopen, and a
    // full compaction keeps the newest versions.
    await db.close();
    const again = new LsmLevel(dir);
    await again.open();
    expect(filesPerLevel(again).slice(0, 3)).toEqual([2, 1, 3]);
    expect(await again.get(key(55))).toBe('newest');
    await again.compact();
    expect(await again.get(key(55))).toBe('newest');
    expect(await again.get(key(52))).toBe('mid');
    expect(await again.get(key(299))).toBe('old');
    await again.close();
  }, 60_000);
});
