// Experiment 4's model: Cassandra's consistency levels over three regions of three replicas.
import { SeededRandom } from '@ddia/common/core';
import { describe, expect, it } from 'vitest';
import { constant } from '../src/core/distributions.js';
import { rttMs, wanMatrix } from '../src/core/latency-matrix.js';
import { type ReadLevel, simulateLevels, type WriteLevel } from '../src/core/quorum-levels.js';
import { pConsistent, percentile, tVisibility } from '../src/core/wars.js';

const matrix = wanMatrix(['us', 'eu', 'ap']);
const run = (writeLevel: WriteLevel, readLevel: ReadLevel, readRegion: string, seed = 1) =>
  simulateLevels(
    {
      matrix,
      replicasPerRegion: 3,
      perHop: constant(0.5, 0.2),
      writeRegion: 'us',
      readRegion,
      writeLevel,
      readLevel,
      trials: 5_000,
    },
    new SeededRandom(seed),
  );

describe('consistency levels across regions', () => {
  it('QUORUM/QUORUM and EACH_QUORUM/LOCAL_QUORUM are strict: consistent at t = 0 in every region', () => {
    for (const region of ['us', 'eu', 'ap']) {
      expect(pConsistent(run('QUORUM', 'QUORUM', region), 0).value).toBe(1);
      expect(pConsistent(run('EACH_QUORUM', 'LOCAL_QUORUM', region), 0).value).toBe(1);
    }
  });

  it('LOCAL_QUORUM/LOCAL_QUORUM: consistent in the writer region, stale elsewhere until the write crosses', () => {
    expect(pConsistent(run('LOCAL_QUORUM', 'LOCAL_QUORUM', 'us'), 0).value).toBe(1);
    const eu = run('LOCAL_QUORUM', 'LOCAL_QUORUM', 'eu');
    expect(pConsistent(eu, 0).value).toBe(0);
    // About the one-way delay us -> eu (38 ms) minus the local commit (~1 ms).
    expect(tVisibility(eu, 0.999).value).toBeGreaterThan(30);
    expect(tVisibility(eu, 0.999).value).toBeLessThan(45);
  });

  it('write latency: LOCAL_QUORUM stays in the region, QUORUM waits for the nearest region, EACH_QUORUM the farthest', () => {
    const p50 = (w: WriteLevel) => percentile(run(w, 'ONE', 'us').writeLatenciesMs, 0.5).value;
    expect(p50('LOCAL_QUORUM')).toBeLessThan(5);
    expect(p50('QUORUM')).toBeGreaterThan(rttMs(matrix, 'us', 'eu') * 0.95);
    expect(p50('QUORUM')).toBeLessThan(rttMs(matrix, 'us', 'eu') * 1.1 + 5);
    expect(p50('EACH_QUORUM')).toBeGreaterThan(rttMs(matrix, 'us', 'ap') * 0.95);
  });

  it('rejects a region outside the matrix', () => {
    expect(() => run('ONE', 'ONE', 'mars')).toThrow(/regions must be among/);
  });
});
