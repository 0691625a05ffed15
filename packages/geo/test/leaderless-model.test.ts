// The pieces of the leaderless experiment that need no processes: the key placement it relies on
// must be the replication service's own, and the per-placement WARS model must turn injected
// delays into the t-visibility they imply.
import { SeededRandom } from '@ddia/common/core';
import { describe, expect, it } from 'vitest';
import { preferenceOrder as servicePreferenceOrder } from '../../replication/src/core/placement.js';
import { constant } from '../src/core/distributions.js';
import { wanMatrix } from '../src/core/latency-matrix.js';
import { pConsistent, simulateWars, tVisibility } from '../src/core/wars.js';
import {
  keysCoordinatedBy,
  placementModel,
  preferenceOrder,
} from '../src/experiments/leaderless-visibility.js';

const regions = ['us', 'eu', 'ap'];

describe('leaderless experiment model', () => {
  it('places keys exactly as the replication service does', () => {
    for (let i = 0; i < 500; i++) {
      const key = `k/${i}`;
      expect(preferenceOrder(key, regions)).toEqual(servicePreferenceOrder(key, regions));
    }
    for (const key of keysCoordinatedBy('eu', regions, 'x', 20))
      expect(servicePreferenceOrder(key, regions)[0]).toBe('eu');
  });

  it('write in us, R=W=1 read in eu: stale until the write crosses us -> eu (38 ± 1.9 ms)', () => {
    const m = wanMatrix(regions);
    const zero = constant(0);
    const res = simulateWars(
      {
        n: 3,
        r: 1,
        w: 1,
        trials: 20_000,
        profile: { name: 'p', description: '', w: zero, a: zero, r: zero, s: zero },
        replicas: placementModel(m, regions, 'us', 'eu', null),
      },
      new SeededRandom(3),
    );
    // The local replica in eu answers first (R_eu = 0), so tau = W_eu - commit = 38 ± 1.9 ms.
    expect(pConsistent(res, 0).value).toBe(0);
    expect(pConsistent(res, 36).value).toBe(0);
    expect(pConsistent(res, 40).value).toBe(1);
    expect(tVisibility(res, 0.5).value).toBeCloseTo(38, 0);
  });
});
