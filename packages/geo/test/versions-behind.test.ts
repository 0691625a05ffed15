// k-staleness in the WARS model: several writes, then one read; how many versions behind it is.
import { SeededRandom } from '@ddia/common/core';
import { describe, expect, it } from 'vitest';
import {
  constant,
  PBS_PROFILES,
  pConsistent,
  simulateVersionsBehind,
  simulateWars,
  type WarsProfile,
} from '../src/core/index.js';

describe('versions behind (WARS k-staleness)', () => {
  it('with one version it is t-visibility: P(0 behind) = P(consistent at t)', () => {
    const profile = PBS_PROFILES['lnkd-disk']!;
    for (const t of [0, 20]) {
      const behind = simulateVersionsBehind(
        { n: 3, r: 1, w: 1, trials: 100_000, profile, versions: 1, writeGapMs: 0, readAfterMs: t },
        new SeededRandom(1),
      );
      const p = pConsistent(
        simulateWars({ n: 3, r: 1, w: 1, trials: 100_000, profile }, new SeededRandom(2)),
        t,
      ).value;
      expect(behind[0]!).toBeCloseTo(p, 2);
    }
  });

  it('strict quorums are never behind; a slow link makes a read exactly as far behind as the writes in flight', () => {
    const strict = simulateVersionsBehind(
      {
        n: 3,
        r: 2,
        w: 2,
        trials: 20_000,
        profile: PBS_PROFILES.ymmr!,
        versions: 4,
        writeGapMs: 3,
        readAfterMs: 0,
      },
      new SeededRandom(3),
    );
    expect(strict[0]).toBe(1);
    // Replica 0 local (0 ms), the others 20 ms away; R = W = 1 read from replica 1's side:
    // writes every 8 ms, the read starts right after the last local commit (t = 24 ms) and asks
    // replica 1, which has what was sent more than 20 ms before: version 1 only (sent at 0).
    const c = (ms: number) => constant(ms);
    const far = { w: c(20), a: c(20), r: c(0), s: c(0) };
    const local = { w: c(0), a: c(0), r: c(50), s: c(50) };
    const profile: WarsProfile = { name: 'x', description: 'x', w: c(0), a: c(0), r: c(0), s: c(0) };
    const behind = simulateVersionsBehind(
      {
        n: 3,
        r: 1,
        w: 1,
        trials: 100,
        profile,
        replicas: [local, far, far],
        versions: 4,
        writeGapMs: 8,
        readAfterMs: 0,
      },
      new SeededRandom(4),
    );
    expect(behind[3]).toBe(1);
  });
});
