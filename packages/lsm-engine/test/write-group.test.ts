// Un-awaited writes issued in one turn of the microtask queue share one WAL write (db.ts
// writeRecord's tick group, as LevelDB's writer queue merges waiting writers): a burst of
// 200 puts costs one write(2), not 200, and each is acknowledged only after that write.
import { FaultFileSystem } from '@ddia/testkit';
import { expect, it } from 'vitest';
import { LsmLevel } from '../src/index.js';

it('appends a burst of un-awaited puts with one file-system write, then acknowledges them all', async () => {
  const fs = new FaultFileSystem({ seed: 1 });
  const db = new LsmLevel('/data/group', { fs });
  await db.open();
  await db.put('warm', 'up');
  const before = fs.opCount;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < 200; i++) pending.push(db.put(`key-${i}`, `value-${i}`));
  // Nothing written yet: the group is appended when this turn of the microtask queue ends.
  expect(fs.opCount).toBe(before);
  await Promise.all(pending);
  expect(fs.opCount - before).toBe(1);
  for (let i = 0; i < 200; i += 37) expect(await db.get(`key-${i}`)).toBe(`value-${i}`);
  // A sync write after a burst goes after it (one group, then the writer queue's fsync).
  const burst = Array.from({ length: 10 }, (_, i) => db.put(`late-${i}`, 'x'));
  await db.put('synced', 'y', { sync: true } as object);
  await Promise.all(burst);
  expect(await db.get('late-9')).toBe('x');
  await db.close();
  // After a power cut everything acknowledged before the synced write is there.
  const after = fs.crash();
  const again = new LsmLevel('/data/group', { fs: after });
  await again.open();
  expect(await again.get('late-9')).toBe('x');
  expect(await again.get('synced')).toBe('y');
  await again.close();
});
