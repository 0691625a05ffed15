// The LSM engine's crash test below the page cache: a child (fixtures/lazyfs-writer.mjs, run by
// testkit's runCrashChild) puts with sync: true on testkit's LazyFS, a FUSE file system that
// keeps writes in its own memory until fsync; we SIGKILL it, drop that memory (a power cut),
// remount, and reopen: every acknowledged write must be there with its exact value, and nothing
// present may be torn.
// crash.test.ts kills the process only, which the kernel's page cache survives; here the
// unsynced bytes are really gone, so a missing or misplaced sync (WAL, table, manifest, CURRENT,
// directory) shows. The negative control writes without sync and must lose acknowledged
// writes. Skips with the reason where FUSE is unavailable. Build first: npx tsc -b packages/lsm-engine
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeededRandom } from '@ddia/common';
import { type LazyFs, lazyFsSupport, mountLazyFs, runCrashChild } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { LsmLevel } from '../src/index.js';
import { expectedValue } from '../src/tools/expected-value.js';

const writer = fileURLToPath(new URL('./fixtures/lazyfs-writer.mjs', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../dist/lsm-level.js', import.meta.url)));
const support = await lazyFsSupport();
const why = !built
  ? 'lsm-engine is not built (npx tsc -b packages/lsm-engine)'
  : support.available
    ? ''
    : support.reason;
if (why) console.log(`LSM LazyFS crash tests skipped: ${why}`);
const KILLS = process.env.DDIA_LONG === '1' ? 20 : 2;

/** Runs the writer until killed after `killAfterMs`; returns the keys it acknowledged. */
async function runUntilKilled(dir: string, generation: number, mode: 'sync' | 'nosync', killAfterMs: number) {
  const { acknowledged } = await runCrashChild({
    script: writer,
    args: [dir, String(generation), mode],
    killAfterMs,
  });
  return acknowledged;
}

/** Opens the database; returns the acknowledged keys that are missing or wrong. */
async function check(dir: string, acked: string[]): Promise<string[]> {
  const db = new LsmLevel(dir);
  await db.open();
  try {
    const values = await db.getMany(acked);
    for await (const [k, v] of db.iterator()) {
      if (v !== expectedValue(k)) throw new Error(`garbled value under ${k}`);
    }
    return acked.filter((k, i) => values[i] !== expectedValue(k));
  } finally {
    await db.close();
  }
}

describe.skipIf(why !== '')(
  `LSM crash test on LazyFS (SIGKILL + lost page cache)${why ? ` (skipped: ${why})` : ''}`,
  () => {
    it(`keeps every acknowledged sync write across ${KILLS} kills and drops`, async () => {
      let fs: LazyFs = await mountLazyFs();
      const random = new SeededRandom(5);
      try {
        const dir = join(fs.dir, 'db');
        const acked: string[] = [];
        let dropped = 0;
        for (let kill = 0; kill < KILLS; kill++) {
          acked.push(...(await runUntilKilled(dir, kill, 'sync', random.int(100, 250))));
          dropped += (await fs.drop()).droppedBytes;
          fs = await fs.remount();
          const missing = await check(dir, acked);
          expect(missing.slice(0, 5), `kill ${kill}: acknowledged writes lost or wrong`).toEqual([]);
        }
        expect(acked.length).toBeGreaterThan(KILLS);
        console.log(
          `LSM on LazyFS: ${acked.length} acknowledged sync writes kept, ${dropped} unsynced bytes dropped`,
        );
      } finally {
        await fs.close();
      }
    });

    it('negative control: without sync, acknowledged writes are lost at the drop', async () => {
      const fs = await mountLazyFs();
      try {
        const dir = join(fs.dir, 'db');
        const acked = await runUntilKilled(dir, 0, 'nosync', 200);
        expect(acked.length).toBeGreaterThan(0);
        // (That a kill alone loses none of them is shown for the Log in common's
        // log-lazyfs.test.ts and for this engine in background.test.ts.)
        // The power cut: the WAL was never synced.
        await fs.drop();
        const lost = await check(dir, acked);
        expect(lost.length, 'acknowledged writes without sync must be lost at the drop').toBeGreaterThan(0);
        console.log(
          `negative control (no sync): ${lost.length} of ${acked.length} acknowledged writes lost at the drop`,
        );
      } finally {
        await fs.close();
      }
    });
  },
);
