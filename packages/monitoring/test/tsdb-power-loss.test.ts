// The disk TSDB under simulated power loss (testkit's FaultFileSystem): seeded crash points,
// each recovered and checked against what was acknowledged (see tsdb-power-loss-trial.ts).
// In process, no timers: it runs in the parallel unit project.
// A failing seed prints how to replay it alone:
//   DDIA_SEED=<seed> npx vitest run --project monitoring:unit tsdb-power-loss
// DDIA_LONG=1 runs ten times as many seeds.
import { replaySeed, testSeeds } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { TSDB_SYNC } from '../src/storage/files.js';
import { runTrial, type TrialResult } from './tsdb-power-loss-trial.js';

const SEEDS = testSeeds({ short: 60, long: 1000 });

function report(failures: TrialResult[]): string {
  return failures
    .slice(0, 5)
    .map(
      (f) =>
        `seed ${f.seed} (${f.config}): ${f.failure}\n  crashes: ${JSON.stringify(f.crashes)}\n` +
        `  replay: DDIA_SEED=${f.seed} npx vitest run --project monitoring:unit tsdb-power-loss`,
    )
    .join('\n');
}

describe('disk TSDB under power loss (FaultFileSystem)', () => {
  it(`keeps every acknowledged sample, and only ingested ones, over ${SEEDS.length} seeded crashes`, async () => {
    const failures: TrialResult[] = [];
    let refused = 0;
    let blocks = 0;
    for (const seed of SEEDS) {
      const result = await runTrial({ seed });
      if (result.failure) failures.push(result);
      if (result.refused) refused++;
      blocks += result.blocksWritten;
    }
    if (failures.length > 0) console.error(report(failures));
    console.log(`${SEEDS.length} crashes, ${blocks} blocks cut, ${refused} refused after reordered sectors`);
    expect(failures.map((f) => f.seed)).toEqual([]);
    // Blocks and checkpoints must really happen, or the test covers only the WAL.
    if (replaySeed() === null) expect(blocks).toBeGreaterThan(SEEDS.length / 5);
  }, 120_000);

  // The mutation check: each sync point the TSDB adds, skipped, must make some seed fail.
  for (const point of [`${TSDB_SYNC.block}.dir`, `${TSDB_SYNC.walCurrent}.dir`, `${TSDB_SYNC.block}.file`]) {
    it.skipIf(replaySeed() !== null)(
      `notices a skipped ${point} (canary)`,
      async () => {
        for (const seed of SEEDS) {
          const result = await runTrial({ seed, skipSyncPoints: [point] });
          if (result.failure) {
            console.log(`skipping ${point}: seed ${seed} fails: ${result.failure}`);
            return;
          }
        }
        throw new Error(`no seed of ${SEEDS.length} noticed ${point} skipped`);
      },
      120_000,
    );
  }
});
