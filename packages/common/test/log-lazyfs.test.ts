// The Log's crash test below the page cache: the writer (fixtures/log-writer.mjs) appends on
// testkit's LazyFS, a FUSE file system that keeps writes in its own memory until fsync; we
// SIGKILL it, drop that memory (a power cut), remount, and reopen. Every acknowledged record
// must be there. The negative control runs the same with fsync 'never' and must lose records:
// proof that this test can fail, which the SIGKILL-only test (log-crash.test.ts) cannot, since
// the kernel's page cache survives a kill. Skips with the reason where FUSE is unavailable.
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Log, SeededRandom } from '@ddia/common';
import { type LazyFs, lazyFsSupport, mountLazyFs, runCrashChild } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';

const writer = fileURLToPath(new URL('./fixtures/log-writer.mjs', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../dist/storage/log.js', import.meta.url)));
const support = await lazyFsSupport();
const why = !built
  ? 'common is not built (npx tsc -b packages/common)'
  : support.available
    ? ''
    : support.reason;
if (why) console.log(`Log LazyFS crash tests skipped: ${why}`);
const KILLS = process.env.DDIA_LONG === '1' ? 30 : 2;
const recordFor = (i: number) => `record-${i}-${'x'.repeat(i % 97)}`;

/** Runs the writer until killed after `killAfterMs`; returns the highest acknowledged index. */
async function runUntilKilled(
  dir: string,
  start: number,
  killAfterMs: number,
  policy: string,
  io: string,
  segmentBytes = 16 * 1024,
): Promise<number> {
  const { acknowledged } = await runCrashChild({
    script: writer,
    args: [dir, String(start), policy, io, String(segmentBytes)],
    killAfterMs,
  });
  return acknowledged.reduce((max, line) => Math.max(max, Number(line)), start - 1);
}

/** Opens the log, checks every record present is intact, returns nextIndex. */
async function reopen(dir: string, segmentBytesMax = 16 * 1024): Promise<number> {
  const log = await Log.open({ dir, segmentBytesMax });
  try {
    for await (const { index, record } of log.entries(0)) {
      expect(Buffer.from(record).toString()).toBe(recordFor(index));
    }
    return log.nextIndex;
  } finally {
    await log.close();
  }
}

describe.skipIf(why !== '')(
  `Log crash test on LazyFS (SIGKILL + lost page cache)${why ? ` (skipped: ${why})` : ''}`,
  () => {
    for (const [policy, io] of [
      ['always', 'pool'],
      ['group', 'inline-preallocated'],
    ] as const) {
      it(`keeps every acknowledged record across ${KILLS} kills and drops (${policy}, ${io})`, async () => {
        let fs: LazyFs = await mountLazyFs();
        const random = new SeededRandom(11);
        try {
          const dir = join(fs.dir, 'log');
          let next = 0;
          let lostUnacked = 0;
          for (let kill = 0; kill < KILLS; kill++) {
            const acked = await runUntilKilled(dir, next, random.int(100, 300), policy, io);
            const dropped = await fs.drop();
            lostUnacked += dropped.droppedBytes;
            fs = await fs.remount();
            next = await reopen(dir);
            expect(next, `kill ${kill}: acknowledged records lost (acked up to ${acked})`).toBeGreaterThan(
              acked,
            );
          }
          expect(next).toBeGreaterThan(KILLS);
          // Logged, not asserted (it depends on timing): bytes the writer had not synced yet.
          console.log(
            `Log on LazyFS (${policy}, ${io}): ${next} records kept, ${lostUnacked} unsynced bytes dropped`,
          );
        } finally {
          await fs.close();
        }
      });
    }

    it('negative control: with fsync "never", acknowledged records survive the kill but not the drop', async () => {
      const fs = await mountLazyFs();
      const copy = await mkdtemp(join(tmpdir(), 'ddia-log-lazyfs-'));
      try {
        const dir = join(fs.dir, 'log');
        // One segment for the whole run (a sealed segment is synced even under 'never').
        const acked = await runUntilKilled(dir, 0, 200, 'never', 'pool', 64 * 1024 * 1024);
        expect(acked).toBeGreaterThan(0);
        // Killed but not yet "powered off": everything acknowledged is still there, because the
        // cache (here the file system's memory, on a real machine the kernel's page cache)
        // outlives the process. This is all that a SIGKILL-only crash test ever sees.
        await cp(dir, copy, { recursive: true });
        expect(await reopen(copy, 64 * 1024 * 1024)).toBeGreaterThan(acked);
        expect((await fs.stats()).dirtyBytes).toBeGreaterThan(0);
        // The power cut: what was acknowledged but never synced is gone.
        await fs.drop();
        const next = await reopen(dir, 64 * 1024 * 1024);
        expect(
          next,
          `records ${next}..${acked} were acknowledged and must be lost without fsync`,
        ).toBeLessThanOrEqual(acked);
        console.log(
          `negative control (fsync never): ${acked - next + 1} of ${acked + 1} acknowledged records lost at the drop`,
        );
      } finally {
        await fs.close();
        await rm(copy, { recursive: true, force: true });
      }
    });
  },
);
