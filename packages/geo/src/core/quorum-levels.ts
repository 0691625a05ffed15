// Cassandra's multi-datacenter consistency levels in the WARS model: N replicas spread over
// regions, a write coordinated in one region and a read in another, the quorum rule per level.
//   ONE           the first replica to answer, wherever it is
//   LOCAL_QUORUM  a majority of the coordinator's own region (no cross-region wait)
//   QUORUM        a majority of all replicas (crosses regions when one region holds no majority)
//   EACH_QUORUM   a majority in every region (writes only)
//   ALL           every replica
// A write commits when its level is satisfied; a read answers from the replicas its level waits
// for. As in PBS §5.1, the read is consistent if one of those replicas had the write when the
// read request reached it, and one threshold per trial answers every t at once.
import { assert, type Random } from '@ddia/common/core';
import {
  compileSampler,
  constant,
  type Distribution,
  DistributionError,
  type Sampler,
  sum,
} from './distributions.js';
import { type LatencyMatrix, linkDelay } from './latency-matrix.js';
import type { WarsResult } from './wars.js';

export const WRITE_LEVELS = ['ONE', 'LOCAL_QUORUM', 'QUORUM', 'EACH_QUORUM', 'ALL'] as const;
export const READ_LEVELS = ['ONE', 'LOCAL_QUORUM', 'QUORUM', 'ALL'] as const;
export type WriteLevel = (typeof WRITE_LEVELS)[number];
export type ReadLevel = (typeof READ_LEVELS)[number];

export interface LevelRun {
  matrix: LatencyMatrix;
  /** Replicas in each region (Cassandra's NetworkTopologyStrategy {region: rf}). */
  replicasPerRegion: number;
  /** Added to every message, also inside a region (the node's own service time). */
  perHop: Distribution;
  writeRegion: string;
  readRegion: string;
  writeLevel: WriteLevel;
  readLevel: ReadLevel;
  trials: number;
}

const majority = (n: number) => Math.floor(n / 2) + 1;

/** The k-th smallest (1-based) of values at the given indices. */
function kthSmallest(values: Float64Array, indices: readonly number[], k: number): number {
  const picked = indices.map((i) => values[i]!).sort((a, b) => a - b);
  return picked[k - 1]!;
}

export function simulateLevels(run: LevelRun, random: Random): WarsResult {
  const { matrix, replicasPerRegion: rf, writeRegion, readRegion, writeLevel, readLevel, trials } = run;
  if (!Number.isInteger(rf) || rf < 1 || rf > 16)
    throw new DistributionError('replicasPerRegion must be in 1..16');
  if (!matrix.regions.includes(writeRegion) || !matrix.regions.includes(readRegion))
    throw new DistributionError(`regions must be among ${matrix.regions.join(', ')}`);
  if (!WRITE_LEVELS.includes(writeLevel)) throw new DistributionError(`unknown write level ${writeLevel}`);
  if (!READ_LEVELS.includes(readLevel)) throw new DistributionError(`unknown read level ${readLevel}`);
  const regionOf: string[] = matrix.regions.flatMap((r) => Array.from({ length: rf }, () => r));
  const n = regionOf.length;
  const path = (from: string, to: string): Sampler => {
    const d = linkDelay(matrix, from, to);
    return compileSampler(sum(constant(d.latencyMs, d.jitterMs), run.perHop));
  };
  const sW = regionOf.map((g) => path(writeRegion, g));
  const sA = regionOf.map((g) => path(g, writeRegion));
  const sR = regionOf.map((g) => path(readRegion, g));
  const sS = regionOf.map((g) => path(g, readRegion));
  const all = Array.from({ length: n }, (_, i) => i);
  const inRegion = (r: string) => all.filter((i) => regionOf[i] === r);
  const writeLocal = inRegion(writeRegion);
  const readLocal = inRegion(readRegion);
  const byRegion = matrix.regions.map(inRegion);

  const W = new Float64Array(n);
  const WA = new Float64Array(n);
  const R = new Float64Array(n);
  const RS = new Float64Array(n);
  const thresholds = new Float64Array(trials);
  const writes = new Float64Array(trials);
  const reads = new Float64Array(trials);
  for (let j = 0; j < trials; j++) {
    for (let i = 0; i < n; i++) {
      W[i] = sW[i]!(random);
      WA[i] = W[i]! + sA[i]!(random);
      R[i] = sR[i]!(random);
      RS[i] = R[i]! + sS[i]!(random);
    }
    let commit: number;
    switch (writeLevel) {
      case 'ONE':
        commit = kthSmallest(WA, all, 1);
        break;
      case 'LOCAL_QUORUM':
        commit = kthSmallest(WA, writeLocal, majority(rf));
        break;
      case 'QUORUM':
        commit = kthSmallest(WA, all, majority(n));
        break;
      case 'EACH_QUORUM':
        commit = Math.max(...byRegion.map((ids) => kthSmallest(WA, ids, majority(rf))));
        break;
      case 'ALL':
        commit = kthSmallest(WA, all, n);
        break;
    }
    const candidates = readLevel === 'LOCAL_QUORUM' ? readLocal : all;
    const count =
      readLevel === 'ONE'
        ? 1
        : readLevel === 'LOCAL_QUORUM'
          ? majority(rf)
          : readLevel === 'QUORUM'
            ? majority(n)
            : n;
    const responders = [...candidates].sort((a, b) => RS[a]! - RS[b]!).slice(0, count);
    assert(responders.length === count, 'read level asks for more replicas than exist');
    let tau = Number.POSITIVE_INFINITY;
    for (const i of responders) tau = Math.min(tau, W[i]! - commit - R[i]!);
    thresholds[j] = tau;
    writes[j] = commit;
    reads[j] = RS[responders[count - 1]!]!;
  }
  thresholds.sort();
  writes.sort();
  reads.sort();
  return {
    n,
    r: 0,
    w: 0,
    trials,
    profileName: `${writeLevel}/${readLevel}`,
    thresholdsMs: thresholds,
    writeLatenciesMs: writes,
    readLatenciesMs: reads,
  };
}
