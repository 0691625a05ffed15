// The iterator seeks past a key's older versions once it has stepped over SEQUENTIAL_SKIPS_MAX
// of them (RocksDB's max_sequential_skip_in_iterations). Keys overwritten far more often than
// that, with deletes, across the memtable and tables, read at the latest state, at an explicit
// snapshot and while writes land after the iterator was made, must list exactly what a Map says.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '@ddia/common';
import { afterAll, expect, it } from 'vitest';
import { SEQUENTIAL_SKIPS_MAX } from '../src/db-iterator.js';
import { LsmLevel } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'lsm-skips-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function list(db: LsmLevel, options: object = {}): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const [k, v] of db.iterator({ ...options, keyEncoding: 'utf8', valueEncoding: 'utf8' }))
    out.push([k as string, v as string]);
  return out;
}

const sorted = (m: Map<string, string>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

it.each([1, 2, 3])(
  'lists hot keys exactly, at the latest state and at a snapshot (seed %i)',
  async (seed) => {
    const random = new SeededRandom(seed);
    // A small memtable, so that versions of one key sit in the memtable and in several tables.
    const db = new LsmLevel(join(root, `db-${seed}`), { writeBufferBytes: 64 * 1024 });
    await db.open();
    const model = new Map<string, string>();
    const keys = Array.from({ length: 12 }, (_, i) => `key${String(i).padStart(2, '0')}`);
    const write = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const key = keys[random.int(0, keys.length - 1)] as string;
        if (random.next() < 0.1) {
          await db.del(key);
          model.delete(key);
        } else {
          const value = `${key}-${i}-${'x'.repeat(random.int(0, 299))}`;
          await db.put(key, value);
          model.set(key, value);
        }
      }
    };
    // Some 40 versions of each key: well past the point where the iterator seeks.
    await write(keys.length * 5 * SEQUENTIAL_SKIPS_MAX);
    const snapshot = db.snapshot();
    const atSnapshot = sorted(model);
    const iterator = db.iterator({ keyEncoding: 'utf8', valueEncoding: 'utf8' });
    // Written after the snapshot and after the iterator was made: neither may see them.
    await write(keys.length * 3 * SEQUENTIAL_SKIPS_MAX);
    const seen: [string, string][] = [];
    for await (const [k, v] of iterator) seen.push([k as string, v as string]);
    expect(seen).toEqual(atSnapshot);
    expect(await list(db, { snapshot })).toEqual(atSnapshot);
    expect(await list(db)).toEqual(sorted(model));
    expect(await list(db, { gte: 'key03', lt: 'key09' })).toEqual(
      sorted(model).filter(([k]) => k >= 'key03' && k < 'key09'),
    );
    await snapshot.close();
    await db.close();
  },
);
