import { SeededRandom } from '@ddia/common/core';
import { describe, expect, it } from 'vitest';
import {
  compileSampler,
  constant,
  type Distribution,
  DistributionError,
  describe as describeDist,
  exponential,
  meanMs,
  mixture,
  pareto,
  shifted,
} from '../src/core/index.js';

function sampleMean(dist: Distribution, count: number, seed = 7): number {
  const sample = compileSampler(dist);
  const random = new SeededRandom(seed);
  let sum = 0;
  for (let i = 0; i < count; i++) sum += sample(random);
  return sum / count;
}

describe('latency distributions', () => {
  it('Pareto(xm, alpha) has mean alpha*xm/(alpha-1) and never goes below xm', () => {
    const d = pareto(0.235, 10);
    expect(sampleMean(d, 200_000)).toBeCloseTo(meanMs(d), 3);
    const sample = compileSampler(d);
    const random = new SeededRandom(1);
    let min = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 10_000; i++) min = Math.min(min, sample(random));
    expect(min).toBeGreaterThanOrEqual(0.235);
  });

  it('Pareto tail: P(X > x) = (xm/x)^alpha', () => {
    const sample = compileSampler(pareto(1, 2));
    const random = new SeededRandom(3);
    let over = 0;
    const trials = 100_000;
    for (let i = 0; i < trials; i++) if (sample(random) > 4) over++;
    // (1/4)^2 = 0.0625; the binomial standard error is 0.00077.
    expect(Math.abs(over / trials - 0.0625)).toBeLessThan(4 * 0.00077);
  });

  it('Exponential(lambda) has mean 1/lambda', () => {
    expect(sampleMean(exponential(1.66), 200_000)).toBeCloseTo(1 / 1.66, 2);
  });

  it('a mixture draws components by weight (LNKD-SSD: 91.22% Pareto + 8.78% Exp)', () => {
    const d = mixture([0.9122, pareto(0.235, 10)], [0.0878, exponential(1.66)]);
    const expected = 0.9122 * ((10 * 0.235) / 9) + 0.0878 / 1.66;
    expect(meanMs(d)).toBeCloseTo(expected, 10);
    expect(sampleMean(d, 300_000)).toBeCloseTo(expected, 2);
    expect(describeDist(d)).toBe('91.22% Pareto(xm=0.235 ms, α=10) + 8.78% Exp(λ=1.66/ms)');
  });

  it('constant with jitter stays within [ms - jitter, ms + jitter]; shifted adds its offset', () => {
    const sample = compileSampler(constant(50, 5));
    const random = new SeededRandom(9);
    for (let i = 0; i < 10_000; i++) {
      const x = sample(random);
      expect(x).toBeGreaterThanOrEqual(45);
      expect(x).toBeLessThanOrEqual(55);
    }
    expect(sampleMean(shifted(75, constant(1)), 10)).toBe(76);
  });

  it('empirical replays its samples', () => {
    const sample = compileSampler({ kind: 'empirical', samplesMs: [1, 2, 3] });
    const random = new SeededRandom(5);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(sample(random));
    expect([...seen].sort()).toEqual([1, 2, 3]);
  });

  it('is reproducible from a seed', () => {
    const d = mixture([0.38, pareto(1.05, 1.51)], [0.62, exponential(0.183)]);
    const draw = (seed: number) => {
      const s = compileSampler(d);
      const r = new SeededRandom(seed);
      return Array.from({ length: 5 }, () => s(r));
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });

  it('rejects bad parameters with the field named', () => {
    expect(() => compileSampler(pareto(0, 2))).toThrow(/xmMs/);
    expect(() => compileSampler(pareto(1, -1))).toThrow(/alpha/);
    expect(() => compileSampler(exponential(Number.NaN))).toThrow(/ratePerMs/);
    expect(() => compileSampler(mixture())).toThrow(/components/);
    expect(() => compileSampler({ kind: 'empirical', samplesMs: [] })).toThrow(DistributionError);
    expect(() => compileSampler({ kind: 'bogus' } as unknown as Distribution)).toThrow(/kind/);
  });
});
