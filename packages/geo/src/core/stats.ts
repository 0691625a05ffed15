// Summaries of measured latencies: the percentiles DDIA ch. 1 asks for, not averages.
import { DistributionError } from './distributions.js';

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** The q-quantile of ascending values (nearest rank). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

export function summarize(samplesMs: readonly number[]): LatencySummary {
  if (samplesMs.length === 0) throw new DistributionError('no samples to summarize');
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return {
    count: sorted.length,
    meanMs: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    p50Ms: quantileSorted(sorted, 0.5),
    p90Ms: quantileSorted(sorted, 0.9),
    p99Ms: quantileSorted(sorted, 0.99),
    maxMs: sorted[sorted.length - 1]!,
  };
}

/** Relative difference |a - b| / b. */
export function relativeError(measured: number, expected: number): number {
  return Math.abs(measured - expected) / Math.abs(expected);
}
