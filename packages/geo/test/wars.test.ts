// Properties of the WARS Monte Carlo that hold whatever the latencies are.
import { SeededRandom } from '@ddia/common/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  constant,
  exponential,
  PBS_PROFILES,
  pConsistent,
  pStaleKVersions,
  simulateKStaleness,
  simulateWars,
  tVisibility,
  type WarsProfile,
} from '../src/core/index.js';

const expProfile = (rate: number): WarsProfile => ({
  name: 'exp',
  description: 'exponential',
  w: exponential(rate),
  a: exponential(rate),
  r: exponential(rate),
  s: exponential(rate),
});

describe('WARS Monte Carlo', () => {
  it('strict quorums (R + W > N) are always consistent at t = 0, for any latencies', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 100 }),
        fc.constantFrom(...Object.keys(PBS_PROFILES)),
        fc.integer(),
        (n, pick, name, seed) => {
          const w = 1 + (pick % n);
          const r = n - w + 1; // the smallest R with R + W > N
          const res = simulateWars(
            { n, r, w, trials: 2_000, profile: PBS_PROFILES[name]! },
            new SeededRandom(seed),
          );
          expect(pConsistent(res, 0).value).toBe(1);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('partial quorums can be stale at t = 0 (a canary: the model is not trivially consistent)', () => {
    const res = simulateWars(
      { n: 3, r: 1, w: 1, trials: 20_000, profile: expProfile(1) },
      new SeededRandom(1),
    );
    expect(pConsistent(res, 0).value).toBeLessThan(0.9);
  });

  it('P(consistent) is monotone non-decreasing in t and reaches 1', () => {
    const res = simulateWars(
      { n: 3, r: 1, w: 1, trials: 50_000, profile: PBS_PROFILES['lnkd-disk']! },
      new SeededRandom(11),
    );
    let prev = -1;
    for (let t = 0; t <= 2000; t += 5) {
      const p = pConsistent(res, t).value;
      expect(p).toBeGreaterThanOrEqual(prev);
      prev = p;
    }
    expect(pConsistent(res, 1e9).value).toBe(1);
  });

  it('more replicas to read or to write from never make reads staler (R and W monotone)', () => {
    const run = (r: number, w: number) =>
      pConsistent(
        simulateWars({ n: 5, r, w, trials: 40_000, profile: expProfile(0.5) }, new SeededRandom(5)),
        1,
      ).value;
    expect(run(2, 1)).toBeGreaterThan(run(1, 1));
    expect(run(1, 2)).toBeGreaterThan(run(1, 1));
  });

  it('with constant latencies the answer is exact: a read is stale until the slower write lands', () => {
    // W_i = 10 ms to every replica, acks 1 ms, reads 1 ms each way: commit at 11 ms, and every
    // replica already has the write by then, so t = 0 is consistent.
    const fast: WarsProfile = {
      name: 'c',
      description: 'c',
      w: constant(10),
      a: constant(1),
      r: constant(1),
      s: constant(1),
    };
    const res = simulateWars({ n: 3, r: 1, w: 1, trials: 100, profile: fast }, new SeededRandom(1));
    expect(pConsistent(res, 0).value).toBe(1);
    expect(res.writeLatenciesMs[0]).toBe(11);
    expect(res.readLatenciesMs[0]).toBe(2);
  });

  it('is reproducible from a seed, and a different seed gives a different sample', () => {
    const run = (seed: number) =>
      simulateWars({ n: 3, r: 1, w: 1, trials: 5_000, profile: PBS_PROFILES.ymmr! }, new SeededRandom(seed));
    expect(tVisibility(run(7), 0.99)).toEqual(tVisibility(run(7), 0.99));
    expect(tVisibility(run(7), 0.99).value).not.toBe(tVisibility(run(8), 0.99).value);
  });

  it('k-staleness: the closed form (PBS §3.2) matches a simulation of random quorums', () => {
    for (const [n, r, w, k] of [
      [3, 1, 1, 1],
      [3, 1, 1, 2],
      [5, 1, 2, 3],
      [5, 2, 2, 1],
    ] as const) {
      const exact = pStaleKVersions({ n, r, w }, k);
      const sim = simulateKStaleness({ n, r, w }, k, 40_000, new SeededRandom(n * 100 + k));
      expect(Math.abs(sim.value - exact)).toBeLessThan(4 * sim.stdErr + 1e-3);
    }
    expect(pStaleKVersions({ n: 3, r: 1, w: 1 }, 1)).toBeCloseTo(2 / 3, 12);
    expect(pStaleKVersions({ n: 3, r: 2, w: 2 }, 1)).toBe(0);
  });

  it('rejects impossible quorums', () => {
    expect(() =>
      simulateWars({ n: 3, r: 4, w: 1, trials: 10, profile: expProfile(1) }, new SeededRandom(1)),
    ).toThrow(/R must/);
    expect(() =>
      simulateWars({ n: 3, r: 1, w: 0, trials: 10, profile: expProfile(1) }, new SeededRandom(1)),
    ).toThrow(/W must/);
  });
});
