// The first flush big enough for a worker must find one ready: a flush that ran on the main
// thread while its worker was still loading held every request for hundreds of milliseconds.
// (Its own file: the workers are per process, and another test may have started them.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { LsmLevel } from '../src/index.js';
import { tableWorkersReady } from '../src/table-workers.js';

const root = mkdtempSync(join(tmpdir(), 'lsm-prewarm-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('starts the flush worker once the memtable is half full, before its flush; no compaction worker yet', async () => {
  const writeBufferBytes = 2 * 1024 * 1024;
  const db = new LsmLevel(join(root, 'db'), { writeBufferBytes });
  await db.open();
  expect(tableWorkersReady()).toEqual({ flush: false, compaction: false, subcompaction: false });
  const value = 'v'.repeat(1000);
  // Some 60 % of the memtable: past half, short of a flush.
  for (let i = 0; i < 1_200; i++) await db.put(`k${i}`, value);
  expect(db.stats().flushes).toBe(0);
  const deadline = Date.now() + 20_000;
  while (!tableWorkersReady().flush && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  // The compaction lanes start with their first job: a database that never compacts pays
  // for one worker, not three.
  expect(tableWorkersReady()).toEqual({ flush: true, compaction: false, subcompaction: false });
  expect(db.stats().flushes).toBe(0);
  await db.close();
});
