// The Log under real crashes: a child appends with fsync per append and is SIGKILLed at a
// random moment; after reopening, every acknowledged record must be there and intact.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Log, SeededRandom } from '@ddia/common';
import { describe, expect, it } from 'vitest';

const writer = fileURLToPath(new URL('./fixtures/log-writer.mjs', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url)));
const KILLS = process.env.DDIA_LONG === '1' ? 200 : 12;
const recordFor = (i: number) => `record-${i}-${'x'.repeat(i % 97)}`;

async function runUntilKilled(
  dir: string,
  start: number,
  killAfterMs: number,
  policy: string,
  io: string,
): Promise<number> {
  const child = spawn(process.execPath, [writer, dir, String(start), policy, io], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let acked = start - 1;
  let ready: () => void = () => {};
  const opened = new Promise<void>((resolve) => (ready = resolve));
  let buffered = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line === 'ready') ready();
      else acked = Math.max(acked, Number(line));
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Kill at a random moment after the log is open (process start-up time varies with load).
  await Promise.race([opened, exited]);
  await new Promise((resolve) => setTimeout(resolve, killAfterMs));
  child.kill('SIGKILL');
  const code = await exited;
  if (code !== null) throw new Error(`writer exited by itself with ${code}: ${stderr}`);
  return acked;
}

describe.skipIf(!built)('Log crash test (SIGKILL)', () => {
  for (const [policy, io] of [
    ['always', 'pool'],
    ['group', 'pool'],
    ['group', 'inline'],
    ['group', 'inline-preallocated'],
  ] as const) {
    it(`keeps every acknowledged record across ${KILLS} kills (${policy}, ${io} writes)`, async () => {
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
