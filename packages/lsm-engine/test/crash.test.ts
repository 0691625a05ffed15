// Crash loop: a child process writes with sync: true and records every acknowledged key;
// we SIGKILL it at a random moment, reopen, and check that every acknowledged write is
// there with its exact value and that nothing present is torn. Then again, many times.
// Runs the compiled child (build first: npx tsc -b packages/lsm-engine).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomSeed, SeededRandom } from '@ddia/common';
import { runCrashChild } from '@ddia/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { LsmLevel } from '../src/index.js';
import { expectedValue } from '../src/tools/expected-value.js';

// 25 kills at random moments (5-150 ms into a run) by default; DDIA_LONG=1 runs 1000. Missing or
// misplaced syncs below the page cache are crash-lazyfs.test.ts's to find.
const KILLS = process.env.DDIA_LONG === '1' ? 1000 : 25;
const child = fileURLToPath(new URL('../dist/tools/crash-writer.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'lsm-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('crash loop (SIGKILL)', () => {
  it.skipIf(!existsSync(child))(
    `keeps every acknowledged sync write across ${KILLS} kills`,
    async () => {
      const seed = Number(process.env.DDIA_SEED ?? randomSeed());
      console.log(`crash loop seed ${seed} (replay with DDIA_SEED=${seed})`);
      const random = new SeededRandom(seed);
      const dir = join(root, 'db');
      const stateFile = join(root, 'acknowledged.txt');
      writeFileSync(stateFile, '');
      let tornTails = 0;
      for (let kill = 0; kill < KILLS; kill++) {
        // The writer appends each acknowledged key to stateFile (after its put resolved).
        await runCrashChild({
          script: child,
          args: [dir, stateFile, String(kill)],
          killAfterMs: random.int(5, 150),
          stderr: 'inherit',
        });
        const acknowledged = readFileSync(stateFile, 'utf8').split('\n').filter(Boolean);
        const db = new LsmLevel(dir);
        await db.open();
        try {
          tornTails += db.stats().walTornTailBytes > 0 ? 1 : 0;
          const values = await db.getMany(acknowledged);
          const missing = acknowledged.filter((k, i) => values[i] !== expectedValue(k));
          expect(
            missing.slice(0, 5),
            `kill ${kill} (seed ${seed}): acknowledged writes lost or wrong`,
          ).toEqual([]);
          // Nothing present is torn: every value is exactly the one its key derives.
          for await (const [k, v] of db.iterator()) {
            if (v !== expectedValue(k))
              throw new Error(`kill ${kill} (seed ${seed}): garbled value under ${k}`);
          }
        } finally {
          await db.close();
        }
      }
      const final = readFileSync(stateFile, 'utf8').split('\n').filter(Boolean).length;
      console.log(
        `crash loop: ${KILLS} kills, ${final} acknowledged writes checked, ${tornTails} reopen(s) cut a torn WAL tail`,
      );
      expect(final).toBeGreaterThan(KILLS);
    },
    1_800_000,
  );
});
