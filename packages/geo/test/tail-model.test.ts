import { SeededRandom } from '@ddia/common';
import { describe, expect, it } from 'vitest';
import {
  constant,
  type Distribution,
  exponential,
  type LatencyMatrix,
  NO_LATENESS,
  percentile,
  tailModel,
} from '../src/core/index.js';

const D = 40;
/** Fixed one-way delays (no jitter), so the thresholds are exact. */
const fixed: LatencyMatrix = {
  name: 'fixed',
  regions: ['us', 'eu', 'ap'],
  links: {
    us: { eu: { latencyMs: D, jitterMs: 0 }, ap: { latencyMs: 70, jitterMs: 0 } },
    eu: { us: { latencyMs: D, jitterMs: 0 }, ap: { latencyMs: 90, jitterMs: 0 } },
    ap: { us: { latencyMs: 70, jitterMs: 0 }, eu: { latencyMs: 90, jitterMs: 0 } },
  },
  intra: { latencyMs: 0, jitterMs: 0 },
};
const regions = ['us', 'eu', 'ap'];
const q = (xs: Float64Array, p: number) => percentile(xs, p, 0).value;
const everywhere = (d: Distribution) => ({ hop: d, ack: d, probe: d });

describe('tailModel: the WARS model of visibility-tail, lateness on every leg', () => {
  it('without lateness every threshold is the injected us -> eu delay', () => {
    const m = tailModel(fixed, regions, 'us', 'eu', NO_LATENESS, 2_000, new SeededRandom(1));
    expect(m.thresholdsMs[0]).toBe(D);
    expect(m.thresholdsMs[m.thresholdsMs.length - 1]).toBe(D);
  });

  it('a constant lateness c on every message shortens the threshold by c: +c on the write, -c on the ack to the client, -c on the probe to eu', () => {
    const c = 5;
    const m = tailModel(fixed, regions, 'us', 'eu', everywhere(constant(c)), 2_000, new SeededRandom(1));
    expect(m.thresholdsMs[0]).toBeCloseTo(D - c, 9);
    expect(m.thresholdsMs[m.thresholdsMs.length - 1]).toBeCloseTo(D - c, 9);
  });

  it('each leg counts on its own side: a late write lengthens the threshold, a late ack or probe shortens it', () => {
    const only = (leg: 'hop' | 'ack' | 'probe') => ({ ...NO_LATENESS, [leg]: constant(7) });
    const tau = (leg: 'hop' | 'ack' | 'probe') =>
      tailModel(fixed, regions, 'us', 'eu', only(leg), 1_000, new SeededRandom(3)).thresholdsMs[0]!;
    expect(tau('hop')).toBeCloseTo(D + 7, 9);
    expect(tau('ack')).toBeCloseTo(D - 7, 9);
    expect(tau('probe')).toBeCloseTo(D - 7, 9);
  });

  it('a heavy-tailed lateness moves the p99.9 far above the injected delay and the median below it', () => {
    const meanMs = 10;
    const m = tailModel(
      fixed,
      regions,
      'us',
      'eu',
      everywhere(exponential(1 / meanMs)),
      200_000,
      new SeededRandom(2),
    );
    // tau = D + l1 - l2 - l3 with l ~ Exp(mean 10): the median is below D, the tail well above.
    expect(q(m.thresholdsMs, 0.5)).toBeLessThan(D);
    expect(q(m.thresholdsMs, 0.999)).toBeGreaterThan(D + 3 * meanMs);
    // An exponential's p99.9 is 6.9 means: l1 alone cannot reach beyond it.
    expect(q(m.thresholdsMs, 0.999)).toBeLessThan(D + 7 * meanMs);
  });
});
