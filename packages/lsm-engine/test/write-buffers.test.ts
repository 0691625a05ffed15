// maxWriteBuffers (RocksDB's max_write_buffer_number): frozen memtables queue for their flush,
// and writes stop only when that many memtables exist. The flush is held at its table-directory
// fsync, so nothing here depends on timing: which writes wait is decided by the memtable count.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FileSystem, nodeFileSystem } from '@ddia/common';
import { afterAll, describe, expect, it } from 'vitest';
import { LsmLevel } from '../src/index.js';
import { LSM_SYNC } from '../src/sync-points.js';

const root = mkdtempSync(join(tmpdir(), 'lsm-buffers-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The real file system, with every flush held at its directory fsync until `open()`. */
function gatedFs(): { fs: FileSystem; open: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const fs: FileSystem = Object.create(nodeFileSystem);
  fs.fsyncDir = async (path, point) => {
    if (point === LSM_SYNC.tableDir) await gate;
    return nodeFileSystem.fsyncDir(path, point);
  };
  return { fs, open: release };
}

const value = 'v'.repeat(1000);
const batchOf = (start: number) =>
  Array.from({ length: 5 }, (_, i) => ({
    type: 'put' as const,
    key: `k${String(start + i).padStart(5, '0')}`,
    value,
  }));

async function fill(maxWriteBuffers: number) {
  const { fs, open } = gatedFs();
  const location = join(root, `db-${maxWriteBuffers}`);
  const db = new LsmLevel(location, { writeBufferBytes: 4096, maxWriteBuffers, fs });
  await db.open();
  // Each batch of 5 x 1 KB fills a 4 KiB memtable, so each next batch freezes it: batches
  // 1..maxWriteBuffers go in, and the one after finds maxWriteBuffers memtables and waits.
  for (let i = 0; i < maxWriteBuffers; i++) await db.batch(batchOf(5 * i));
  let settled = false;
  const pending = db.batch(batchOf(5 * maxWriteBuffers)).finally(() => {
    settled = true;
  });
  // Not a timing assertion: with the flush held, this write can never complete.
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(settled).toBe(false);
  return { db, location, written: 5 * maxWriteBuffers + 5, pending, open };
}

describe('maxWriteBuffers', () => {
  for (const buffers of [2, 4]) {
    it(`with ${buffers}, writes stop once ${buffers - 1} frozen memtable(s) wait for a flush`, async () => {
      const { db, location, written, pending, open } = await fill(buffers);
      // Memtables 1..buffers-1 are frozen, the active one is full; the next write waits.
      expect(db.stats().memtable.immutables).toBe(buffers - 1);
      // Everything written so far is readable from the frozen memtables, by get and by scan.
      expect(await db.get('k00000')).toBe(value);
      expect(await db.keys().all()).toHaveLength(written - 5);
      open();
      await pending;
      await db.flush();
      expect(db.stats().memtable.immutables).toBe(0);
      expect(await db.keys().all()).toHaveLength(written);
      await db.close();
      const again = new LsmLevel(location);
      await again.open();
      expect(await again.keys().all()).toHaveLength(written);
      expect(await again.get(`k${String(written - 1).padStart(5, '0')}`)).toBe(value);
      await again.close();
    }, 60_000);
  }
});
