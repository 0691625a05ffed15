// The Log under real crashes: a child (fixtures/log-writer.mjs, through testkit's runCrashChild)
// appends and acknowledges each durable record, and is SIGKILLed at a random moment; after
// reopening, every acknowledged record must be there and intact.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Log, SeededRandom } from '@ddia/common';
import { runCrashChild } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';

const writer = fileURLToPath(new URL('./fixtures/log-writer.mjs', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../dist/storage/log.js', import.meta.url)));
const KILLS = process.env.DDIA_LONG === '1' ? 200 : 12;
const recordFor = (i: number) => `record-${i}-${'x'.repeat(i % 97)}`;

/** Runs the writer until killed after `killAfterMs`; returns the highest acknowledged index. */
async function runUntilKilled(
  dir: string,
  start: number,
  killAfterMs: number,
  policy: string,
  io: string,
): Promise<number> {
  const { acknowledged } = await runCrashChild({
    script: writer,
    args: [dir, String(start), policy, io],
    killAfterMs,
  });
  return acknowledged.reduce((max, line) => Math.max(max, Number(line)), start - 1);
}

// The four write paths run side by side: each waits on its own writer's start-up and kill delay.
describe.skipIf(!built).concurrent('Log crash test (SIGKILL)', () => {
  for (const [policy, io] of [
    ['always', 'pool'],
    ['group', 'pool'],
    ['group', 'inline'],
    ['group', 'inline-preallocated'],
  ] as const) {
    // Generous: the four share the machine, and a loaded one starts each writer slowly.
    it(`keeps every acknowledged record across ${KILLS} kills (${policy}, ${io} writes)`, {
      timeout: 180_000,
    }, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'ddia-log-crash-'));
      const random = new SeededRandom(7);
      try {
        let next = 0;
        for (let kill = 0; kill < KILLS; kill++) {
          const acked = await runUntilKilled(dir, next, random.int(20, 300), policy, io);
          const log = await Log.open({ dir, segmentBytesMax: 16 * 1024 });
          // Everything acknowledged must be there; more may be (written but not yet acked).
          expect(log.nextIndex).toBeGreaterThan(acked);
          for await (const { index, record } of log.entries(0)) {
            expect(Buffer.from(record).toString()).toBe(recordFor(index));
          }
          next = log.nextIndex;
          await log.close();
        }
        expect(next).toBeGreaterThan(KILLS);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
