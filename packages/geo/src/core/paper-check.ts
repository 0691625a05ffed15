// Our WARS Monte Carlo beside every number the PBS paper publishes for its production profiles,
// each with the interval in which the authors' own procedure would have landed 95% of the time,
// given our model and both simulations' sampling error.
//
// - A t-visibility figure is the first grid t at which a fresh batch of 50,000 reads is >= 99.9%
//   consistent (paper-estimator.ts); its interval is that procedure's distribution under our
//   P(consistent at t) curve. `oursPercentile` is the plain 99.9th percentile of our thresholds,
//   which that procedure undershoots by 4-14% on these tails.
// - A probability: ours ± 1.96 * sqrt(p(1-p)/paperTrials + p(1-p)/ourTrials), plus rounding.
// - A latency quantile: ours ± 1.96 * sqrt(se_ours^2 + se_paper^2) plus rounding, se from the
//   order-statistic interval (se_paper = se_ours * sqrt(ourTrials / paperTrials)).
import type { Random } from '@ddia/common/core';
import { sweepInterval } from './paper-estimator.js';
import { PBS_PROFILES } from './profiles.js';
import { PBS_PUBLISHED, type PublishedFigure } from './published.js';
import { pConsistent, percentile, simulateWars, tVisibility, type WarsResult } from './wars.js';

export interface PaperComparison {
  figure: PublishedFigure;
  /** Our estimate of the quantity itself (for t-visibility: the exact 99.9th percentile of tau). */
  ours: number;
  /** ~95% interval of our estimate. */
  oursLow95: number;
  oursHigh95: number;
  /** What the paper's procedure would report, per our model: median / expected value... */
  expected: number;
  /** ...and the 95% interval of the published number (both simulations' errors, rounding). */
  low95: number;
  high95: number;
  /** published inside [low95, high95]. */
  agrees: boolean;
  /** For a t-visibility: P(the procedure reports <= published), where the paper's number falls. */
  publishedQuantile?: number;
  /** For a t-visibility: the procedure's 99% interval (with our error at 99% too). */
  low99?: number;
  high99?: number;
}

export function metricLabel(f: PublishedFigure): string {
  const nNote = f.n === 3 ? '' : `, N = ${f.n}`;
  switch (f.metric.kind) {
    case 'tVisibilityMs':
      return `t for ${f.metric.probability * 100}% consistent reads (ms)${nNote}`;
    case 'pConsistent':
      return `P(consistent) at t = ${f.metric.tMs} ms${nNote}`;
    case 'readLatencyMs':
      return `read latency p${f.metric.quantile * 100} (ms)${nNote}`;
    case 'writeLatencyMs':
      return `write latency p${f.metric.quantile * 100} (ms)${nNote}`;
  }
}

/** Compares one figure with a simulation of its (profile, N, R, W). */
export function measureFigure(f: PublishedFigure, result: WarsResult): Omit<PaperComparison, 'figure'> {
  const z = 1.96;
  const round = f.resolution / 2;
  switch (f.metric.kind) {
    case 'tVisibilityMs': {
      const exact = tVisibility(result, f.metric.probability);
      const sweep = sweepInterval(result, f.metric.procedure);
      const sweep99 = sweepInterval(result, f.metric.procedure, 0.99);
      return {
        ours: exact.value,
        oursLow95: exact.low95,
        oursHigh95: exact.high95,
        expected: sweep.median,
        low95: sweep.low,
        high95: sweep.high,
        agrees: f.published >= sweep.low - 1e-9 && f.published <= sweep.high + 1e-9,
        publishedQuantile: sweep.cdf(f.published),
        low99: sweep99.low,
        high99: sweep99.high,
      };
    }
    case 'pConsistent': {
      const e = pConsistent(result, f.metric.tMs);
      const p = e.value;
      const half = z * Math.sqrt((p * (1 - p)) / f.paperTrials + e.stdErr ** 2) + round;
      return {
        ours: p,
        oursLow95: p - z * e.stdErr,
        oursHigh95: p + z * e.stdErr,
        expected: p,
        low95: p - half,
        high95: p + half,
        agrees: Math.abs(f.published - p) <= half,
      };
    }
    case 'readLatencyMs':
    case 'writeLatencyMs': {
      const sorted = f.metric.kind === 'readLatencyMs' ? result.readLatenciesMs : result.writeLatenciesMs;
      const e = percentile(sorted, f.metric.quantile);
      const seOurs = (e.high95 - e.low95) / (2 * z);
      const sePaper = seOurs * Math.sqrt(result.trials / f.paperTrials);
      const half = z * Math.sqrt(seOurs ** 2 + sePaper ** 2) + round;
      return {
        ours: e.value,
        oursLow95: e.low95,
        oursHigh95: e.high95,
        expected: e.value,
        low95: e.value - half,
        high95: e.value + half,
        agrees: Math.abs(f.published - e.value) <= half,
      };
    }
  }
}

/**
 * Runs one simulation per (profile, N, R, W) the given figures need and compares each figure.
 */
export function compareWithPaper(
  trials: number,
  random: Random,
  onProgress?: (done: number, total: number) => void,
  figures: readonly PublishedFigure[] = PBS_PUBLISHED,
): PaperComparison[] {
  const key = (f: PublishedFigure) => `${f.profile}/${f.n}/${f.r}/${f.w}`;
  const runs = new Map<string, PublishedFigure>();
  for (const f of figures) if (!runs.has(key(f))) runs.set(key(f), f);
  const results = new Map<string, WarsResult>();
  let done = 0;
  for (const [k, f] of runs) {
    const profile = PBS_PROFILES[f.profile];
    if (profile === undefined) throw new Error(`no profile ${f.profile}`);
    results.set(k, simulateWars({ n: f.n, r: f.r, w: f.w, trials, profile }, random.fork()));
    onProgress?.(++done, runs.size);
  }
  return figures.map((f) => ({ figure: f, ...measureFigure(f, results.get(key(f))!) }));
}
