// Our WARS Monte Carlo beside every number the PBS paper publishes for its production profiles.
import type { Random } from '@ddia/common/core';
import { PBS_PROFILES, PBS_PUBLISHED, type PublishedFigure, YMMR_SIMULATOR_VARIANT } from './profiles.js';
import {
  pConsistent,
  percentile,
  simulateWars,
  tVisibility,
  type WarsProfile,
  type WarsResult,
} from './wars.js';

export interface PaperComparison {
  figure: PublishedFigure;
  /** The profile we ran (YMMR latency figures also with the simulator's write shape). */
  profileName: string;
  ours: number;
  /** ~95% interval of our Monte Carlo estimate. */
  low95: number;
  high95: number;
  /** (ours - published) / published. */
  relativeDiff: number;
}

export function metricLabel(f: PublishedFigure): string {
  switch (f.metric.kind) {
    case 'tVisibilityMs':
      return `t for ${f.metric.probability * 100}% consistent reads (ms)`;
    case 'pConsistent':
      return `P(consistent) at t = ${f.metric.tMs} ms`;
    case 'combinedLatencyP999Ms':
      return 'read p99.9 + write p99.9 latency (ms)';
  }
}

export function measureFigure(
  f: PublishedFigure,
  result: WarsResult,
): Omit<PaperComparison, 'figure' | 'profileName'> {
  let ours: number;
  let low95: number;
  let high95: number;
  switch (f.metric.kind) {
    case 'tVisibilityMs': {
      const e = tVisibility(result, f.metric.probability);
      ({ value: ours, low95, high95 } = e);
      break;
    }
    case 'pConsistent': {
      const e = pConsistent(result, f.metric.tMs);
      ours = e.value;
      low95 = e.value - 1.96 * e.stdErr;
      high95 = e.value + 1.96 * e.stdErr;
      break;
    }
    case 'combinedLatencyP999Ms': {
      const r = percentile(result.readLatenciesMs, 0.999);
      const w = percentile(result.writeLatenciesMs, 0.999);
      ours = r.value + w.value;
      low95 = r.low95 + w.low95;
      high95 = r.high95 + w.high95;
      break;
    }
  }
  return { ours, low95, high95, relativeDiff: (ours - f.published) / f.published };
}

/**
 * Runs one simulation per (profile, R, W) the paper reports on, N = 3, and measures each published
 * figure. YMMR runs twice: with Table 3's write shape and with the released simulator's.
 */
export function compareWithPaper(
  trials: number,
  random: Random,
  onProgress?: (done: number, total: number) => void,
): PaperComparison[] {
  const runs = new Map<string, { profile: WarsProfile; r: number; w: number }>();
  for (const f of PBS_PUBLISHED) {
    const profiles =
      f.profile === 'ymmr' ? [PBS_PROFILES.ymmr!, YMMR_SIMULATOR_VARIANT] : [PBS_PROFILES[f.profile]!];
    for (const profile of profiles) runs.set(`${profile.name}/${f.r}/${f.w}`, { profile, r: f.r, w: f.w });
  }
  const results = new Map<string, WarsResult>();
  let done = 0;
  for (const [key, { profile, r, w }] of runs) {
    results.set(key, simulateWars({ n: 3, r, w, trials, profile }, random.fork()));
    onProgress?.(++done, runs.size);
  }
  const rows: PaperComparison[] = [];
  for (const f of PBS_PUBLISHED) {
    const names = f.profile === 'ymmr' ? ['ymmr', YMMR_SIMULATOR_VARIANT.name] : [f.profile];
    for (const name of names) {
      const result = results.get(`${name}/${f.r}/${f.w}`)!;
      rows.push({ figure: f, profileName: name, ...measureFigure(f, result) });
    }
  }
  return rows;
}
