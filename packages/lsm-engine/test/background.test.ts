// The write path's moving parts added for speed, each checked against what it must keep:
// the synchronous WAL appender writes records common's Log reads back; a non-sync write is
// in the page cache when put() resolves, so it survives a SIGKILL (LevelDB's promise);
// flushes and compactions on worker threads lose nothing, and closing mid-compaction
// leaves a database that opens; the LOCK file keeps a second opener out.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Log, SeededRandom } from '@ddia/common';
import { afterAll, describe, expect, it } from 'vitest';
import { DatabaseLockedError, LsmLevel } from '../src/index.js';
import { INLINE_JOB_BYTES_MAX } from '../src/table-workers.js';
import { decodeBatch } from '../src/wal.js';

const root = mkdtempSync(join(tmpdir(), 'lsm-background-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `db-${n++}`);
const key = (i: number) => `k${String(i).padStart(9, '0')}`;
const value = (i: number) => `v${i}-`.repeat(12).padEnd(100, '.');

function unwrap(err: unknown): unknown {
  // abstract-level wraps open errors in LEVEL_DATABASE_NOT_OPEN with the cause inside.
  return (err as { cause?: unknown })?.cause ?? err;
}

describe('synchronous WAL appender', () => {
  it("writes records that common's Log reads back, in order", async () => {
    const dir = fresh();
    const db = new LsmLevel(dir, { walSegmentBytes: 4096 });
    await db.open();
    for (let i = 0; i < 300; i++) await db.put(key(i), value(i));
    await db.batch([
      { type: 'put', key: 'b1', value: 'x' },
      { type: 'del', key: key(0) },
    ]);
    // Read the WAL with common's Log while the engine holds it open: every record decodes
    // and the sequence numbers run without a gap (segments rolled at 4 KiB along the way).
    expect(readdirSync(join(dir, 'wal')).length).toBeGreaterThan(3);
    const log = await Log.open({ dir: join(dir, 'wal'), fsync: 'never' });
    let expected = -1;
    let ops = 0;
    for await (const { record } of log.entries()) {
      const { firstSeq, count } = decodeBatch(record, () => {});
      if (expected >= 0) expect(firstSeq).toBe(expected);
      expected = firstSeq + count;
      ops += count;
    }
    await log.close();
    expect(ops).toBe(302);
    await db.close();
  });

  const child = fileURLToPath(new URL('../dist/tools/nosync-writer.js', import.meta.url));
  it.skipIf(!existsSync(child))(
    'a non-sync write acknowledged before a SIGKILL is there after it',
    async () => {
      const dir = fresh();
      const proc = spawn(process.execPath, [child, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise((resolve) => proc.on('exit', resolve));
      let acknowledged = -1;
      await new Promise<void>((resolve, reject) => {
        let out = '';
        proc.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const lines = out.split('\n');
          const done = lines.filter((l) => l.startsWith('acked ')).pop();
          if (done) acknowledged = Number(done.slice(6));
          if (acknowledged >= 20_000) resolve();
        });
        proc.on('exit', (code) => reject(new Error(`writer exited with ${code}`)));
      });
      proc.kill('SIGKILL');
      await exited;
      const db = new LsmLevel(dir);
      await db.open();
      const keys = Array.from({ length: acknowledged }, (_, i) => key(i));
      const values = await db.getMany(keys);
      const missing = keys.filter((_, i) => values[i] !== value(i));
      expect(missing.slice(0, 5)).toEqual([]);
      await db.close();
    },
    120_000,
  );
});

describe('flush and compaction on worker threads', () => {
  it('keeps every write through worker flushes, compactions and a split major compaction, and across a reopen', async () => {
    const dir = fresh();
    const options = {
      writeBufferBytes: 2 * INLINE_JOB_BYTES_MAX,
      targetFileBytes: 2 * INLINE_JOB_BYTES_MAX,
      levelBaseBytes: 8 * INLINE_JOB_BYTES_MAX,
      // Uncompressed, so that the tables reach the split size below (the values compress).
      compression: 'none' as const,
    };
    const db = new LsmLevel(dir, options);
    await db.open();
    const random = new SeededRandom(11);
    const model = new Map<string, string>();
    for (let j = 0; j < 80_000; j++) {
      const i = random.int(0, 69_999);
      if (random.chance(0.1)) {
        await db.del(key(i));
        model.delete(key(i));
      } else {
        await db.put(key(i), value(j));
        model.set(key(i), value(j));
      }
    }
    await db.lsm.waitForIdle();
    const stats = db.stats();
    expect(stats.flushes).toBeGreaterThan(2);
    expect(stats.compactions).toBeGreaterThan(0);
    const check = async (d: LsmLevel) => {
      const seen = new Map<string, string>();
      for await (const [k, v] of d.iterator()) seen.set(k, v);
      expect(seen).toEqual(model);
    };
    await check(db);
    // A major compaction of more than SUBCOMPACTION_BYTES_MIN: split between two workers.
    expect(db.stats().bytes.tables).toBeGreaterThan(4 * 1024 * 1024);
    await db.compact();
    expect(db.stats().subcompactions).toBeGreaterThan(0);
    await check(db);
    await db.close();
    const again = new LsmLevel(dir, options);
    await again.open();
    await check(again);
    await again.close();
  }, 120_000);

  it('closes in the middle of a major compaction and opens again with every key', async () => {
    const dir = fresh();
    const options = { writeBufferBytes: 2 * INLINE_JOB_BYTES_MAX, targetFileBytes: 2 * INLINE_JOB_BYTES_MAX };
    const db = new LsmLevel(dir, options);
    await db.open();
    for (let i = 0; i < 30_000; i++) await db.put(key(i), value(i));
    const compacting = db.compact().catch((err: unknown) => err);
    await db.close();
    await compacting;
    const again = new LsmLevel(dir, options);
    await again.open();
    const values = await again.getMany([key(0), key(14_999), key(29_999)]);
    expect(values).toEqual([value(0), value(14_999), value(29_999)]);
    let count = 0;
    for await (const _ of again.keys()) count++;
    expect(count).toBe(30_000);
    await again.close();
  }, 120_000);
});

describe('LOCK file', () => {
  it('refuses a second open of the same directory in this process', async () => {
    const dir = fresh();
    const first = new LsmLevel(dir);
    await first.open();
    const err = unwrap(await new LsmLevel(dir).open().catch((e: unknown) => e));
    expect(err).toBeInstanceOf(DatabaseLockedError);
    expect((err as Error).message).toMatch(/locked by this process/);
    await first.close();
    const second = new LsmLevel(dir);
    await second.open(); // released on close
    await second.close();
  });

  it('refuses a directory held by another live process, naming its pid', async () => {
    const dir = fresh();
    const db = new LsmLevel(dir);
    await db.open();
    await db.close();
    // A live process that is not us: this test's parent (vitest's main process).
    writeFileSync(join(dir, 'LOCK'), `${process.ppid}\n`);
    const err = unwrap(await new LsmLevel(dir).open().catch((e: unknown) => e));
    expect(err).toBeInstanceOf(DatabaseLockedError);
    expect((err as DatabaseLockedError).ownerPid).toBe(process.ppid);
  });

  it('takes over a stale LOCK left by a dead process or a torn create', async () => {
    const dir = fresh();
    const db = new LsmLevel(dir);
    await db.open();
    await db.put('a', '1');
    await db.close();
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => dead.on('exit', resolve));
    for (const stale of [`${dead.pid}\n`, '']) {
      writeFileSync(join(dir, 'LOCK'), stale);
      const again = new LsmLevel(dir);
      await again.open();
      expect(await again.get('a')).toBe('1');
      await again.close();
      expect(existsSync(join(dir, 'LOCK'))).toBe(false);
    }
  });
});
