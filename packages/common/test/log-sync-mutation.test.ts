// Mutation check of the Log's sync points: skip one named sync at a time (the fault-injecting
// file system returns without making anything durable) and show that the power-loss test of
// log-power-loss.test.ts fails for it, with the first seed that catches it. A sync no test
// misses would be a sync no test proves; the ones that are not about safety are listed, with
// why, and must stay uncaught (if one starts failing, the list is wrong).
//   DDIA_LONG=1 tries more seeds per point.
import { LOG_SYNC } from '@ddia/common';
import { describe, expect, it } from 'vitest';
import { runTrial } from './support/log-power-loss.js';

const SEEDS_MAX = process.env.DDIA_LONG === '1' ? 5_000 : 1_500;
/** Uncaught points get fewer seeds: they are expected to pass them all. */
const SEEDS_UNCAUGHT = process.env.DDIA_LONG === '1' ? 3_000 : 400;

/** Sync points that protect nothing a crash test can see, and why (README, "Sync points"). */
const NOT_SAFETY: Record<string, string> = {
  [LOG_SYNC.preallocate]:
    'performance: zeros need not be durable; a lost fill leaves a shorter file, which recovery reads the same',
  [LOG_SYNC.recoverCut]:
    'the cut bytes are a torn tail with nothing valid in them: if they come back, the next recovery cuts them again',
  [`${LOG_SYNC.resetMarker}.dir`]:
    "the reset's own directory fsync (log.reset.dir) follows before the reset resolves, and directory changes are journaled in order",
};

const POINTS = [
  ...Object.values(LOG_SYNC).filter((p) => p !== LOG_SYNC.resetMarker),
  `${LOG_SYNC.resetMarker}.file`,
  `${LOG_SYNC.resetMarker}.dir`,
];

describe('Log sync points: each one is needed (mutation check)', () => {
  it('with every sync in place, the trials used below pass', async () => {
    for (let seed = 1; seed <= 200; seed++) expect((await runTrial({ seed })).failure).toBeNull();
  });

  const table: string[] = [];
  for (const point of POINTS) {
    const safety = !(point in NOT_SAFETY);
    it(`${point}: ${safety ? 'a crash test fails without it' : 'not a safety sync'}`, async () => {
      let caught: { seed: number; failure: string } | null = null;
      const limit = safety ? SEEDS_MAX : SEEDS_UNCAUGHT;
      for (let seed = 1; seed <= limit && !caught; seed++) {
        const result = await runTrial({ seed, skipSyncPoints: [point] });
        if (result.failure) caught = { seed, failure: result.failure };
      }
      table.push(
        caught
          ? `| \`${point}\` | seed ${caught.seed} | ${caught.failure.replace(/\|/g, '/')} |`
          : `| \`${point}\` | not caught in ${limit} seeds | ${NOT_SAFETY[point] ?? 'MISSING TEST'} |`,
      );
      if (safety) expect(caught, `skipping ${point} went unnoticed in ${limit} seeds`).not.toBeNull();
      else expect(caught, `${point} is listed as not a safety sync, but: ${caught?.failure}`).toBeNull();
    }, 300_000);
  }

  it('prints the table (README, "Sync points")', () => {
    console.log(
      ['| sync point | first failing seed | what the check saw |', '| --- | --- | --- |', ...table].join(
        '\n',
      ),
    );
  });
});
