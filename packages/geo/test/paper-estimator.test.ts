// The PBS paper's t-visibility procedure (first grid t at which a fresh batch is >= 99.9%
// consistent) and the exact distribution we compute for it.
import { SeededRandom } from '@ddia/common/core';
import { describe, expect, it } from 'vitest';
import {
  binomialCdf,
  constant,
  exponential,
  maxStaleCount,
  PBS_PROFILES,
  type SweepProcedure,
  simulateWars,
  staleProbabilityAt,
  sweepEstimatorDistribution,
  sweepFirstCrossing,
  tVisibility,
  type WarsProfile,
} from '../src/core/index.js';

const expProfile: WarsProfile = {
  name: 'exp',
  description: 'slow writes, fast reads',
  w: exponential(0.2),
  a: exponential(1),
  r: exponential(1),
  s: exponential(1),
};

describe('binomialCdf', () => {
  it('matches the direct sum of binomial terms', () => {
    const direct = (n: number, q: number, c: number) => {
      let sum = 0;
      for (let k = 0; k <= c; k++) {
        let coeff = 1;
        for (let i = 1; i <= k; i++) coeff = (coeff * (n - k + i)) / i;
        sum += coeff * q ** k * (1 - q) ** (n - k);
      }
      return sum;
    };
    for (const [n, q, c] of [
      [10, 0.3, 3],
      [40, 0.05, 2],
      [200, 0.01, 0],
      [1000, 0.002, 5],
    ] as const)
      expect(binomialCdf(n, q, c)).toBeCloseTo(direct(n, q, c), 10);
    expect(binomialCdf(50_000, 0, 50)).toBe(1);
    expect(binomialCdf(50_000, 1, 50)).toBe(0);
    // 50 stale of 50,000 expected: about half the batches pass.
    expect(binomialCdf(50_000, 0.001, 50)).toBeGreaterThan(0.5);
    expect(binomialCdf(50_000, 0.001, 50)).toBeLessThan(0.6);
  });

  it('counts 50 of 50,000 as 99.9% consistent, as the simulator does', () => {
    expect(
      maxStaleCount({ grid: { startMs: 0, stepMs: 1, count: 1 }, itersPerT: 50_000, pStale: 0.001 }),
    ).toBe(50);
  });
});

describe('the sweep procedure', () => {
  it('its literal replay lands where the computed distribution says', () => {
    // Small batches so that replaying the procedure 120 times stays cheap.
    const procedure: SweepProcedure = {
      grid: { startMs: 0, stepMs: 0.5, count: 200 },
      itersPerT: 300,
      pStale: 0.02,
    };
    const big = simulateWars({ n: 3, r: 1, w: 1, trials: 200_000, profile: expProfile }, new SeededRandom(1));
    const dist = sweepEstimatorDistribution(staleProbabilityAt(big), procedure);
    const random = new SeededRandom(2);
    const replays = Array.from({ length: 60 }, () =>
      sweepFirstCrossing({ n: 3, r: 1, w: 1, profile: expProfile }, procedure, random),
    ).sort((a, b) => a - b);
    const median = replays[30]!;
    expect(Math.abs(median - dist.median)).toBeLessThanOrEqual(1);
    // The share of replays at or below the computed median is about one half.
    const below = replays.filter((t) => t <= dist.median).length / replays.length;
    expect(below).toBeGreaterThan(0.3);
    expect(below).toBeLessThan(0.8);
    const inside = replays.filter((t) => t >= dist.low95 && t <= dist.high95).length;
    expect(inside / replays.length).toBeGreaterThan(0.85);
  });

  it('stops below the true 99.9th percentile on a flat tail (why the paper reports less than a percentile)', () => {
    const res = simulateWars(
      { n: 3, r: 1, w: 1, trials: 200_000, profile: PBS_PROFILES['lnkd-disk']! },
      new SeededRandom(3),
    );
    const exact = tVisibility(res, 0.999).value;
    const dist = sweepEstimatorDistribution(staleProbabilityAt(res), {
      grid: { startMs: 0, stepMs: 0.1, count: 1500 },
      itersPerT: 50_000,
      pStale: 0.001,
    });
    expect(dist.median).toBeLessThan(exact * 0.95);
    expect(dist.high95).toBeLessThan(exact * 1.05);
    // With huge batches the procedure converges to the percentile.
    const huge = sweepEstimatorDistribution(staleProbabilityAt(res), {
      grid: { startMs: 0, stepMs: 0.1, count: 1500 },
      itersPerT: 1_000_000,
      pStale: 0.001,
    });
    expect(huge.median).toBeGreaterThan(exact * 0.93);
  });

  it('a deterministic latency crosses exactly where reads stop racing the write', () => {
    const profile: WarsProfile = {
      name: 'c',
      description: 'constant',
      w: constant(10),
      a: constant(1),
      r: constant(1),
      s: constant(1),
    };
    // commit at 11, replica gets the write at 10, the read arrives at 11 + t + 1 >= 10: always consistent.
    const res = simulateWars({ n: 3, r: 1, w: 1, trials: 1000, profile }, new SeededRandom(4));
    const dist = sweepEstimatorDistribution(staleProbabilityAt(res), {
      grid: { startMs: 0, stepMs: 1, count: 10 },
      itersPerT: 50_000,
      pStale: 0.001,
    });
    expect(dist.median).toBe(0);
    expect(dist.pNoCrossing).toBe(0);
  });

  it('rejects bad procedures by field', () => {
    const res = simulateWars({ n: 3, r: 1, w: 1, trials: 10, profile: expProfile }, new SeededRandom(5));
    expect(() =>
      sweepEstimatorDistribution(staleProbabilityAt(res), {
        grid: { startMs: 0, stepMs: 0, count: 10 },
        itersPerT: 10,
        pStale: 0.1,
      }),
    ).toThrow(/stepMs/);
    expect(() =>
      sweepEstimatorDistribution(staleProbabilityAt(res), {
        grid: { startMs: 0, stepMs: 1, count: 10 },
        itersPerT: 10,
        pStale: 1,
      }),
    ).toThrow(/pStale/);
  });
});
