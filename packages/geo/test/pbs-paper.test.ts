// The acceptance check of issue 24: the WARS Monte Carlo, fed the PBS paper's published latency
// distributions (Table 3), against every t-visibility and latency figure the paper states for
// N = 3. Each row is printed with our 95% interval.
//
// What the comparison shows (1,000,000 trials per configuration; see README "Published vs ours"):
// - P(consistent at t = 0) and the p99.9 latencies agree within the Monte Carlo error (LNKD-DISK
//   43.6% vs 43.9%; YMMR latencies within 1% when the simulator's write shape 3.5 is used).
// - The 99.9% t-visibility figures come out 5-14% above the published ones (1.96 vs 1.85 ms,
//   51.9 vs 45.5 ms, 1457 vs 1364 ms, 212 vs 202 ms); the authors' released simulator estimates
//   each t on a fresh, independent batch and reports the first t that crosses 99.9%, which biases
//   the published t low on a flat tail. We assert the documented agreement bands, not equality.
import { SeededRandom } from '@ddia/common/core';
import { describe, expect, it } from 'vitest';
import { compareWithPaper, metricLabel } from '../src/core/index.js';

// Enough for a 99.9th percentile with a few percent of rank error, within the test budget.
const TRIALS = 300_000;

describe('PBS paper, N = 3: published figures vs our Monte Carlo', () => {
  const rows = compareWithPaper(TRIALS, new SeededRandom(2012));

  it('prints the comparison', () => {
    for (const row of rows) {
      console.log(
        `${row.profileName.padEnd(9)} R=${row.figure.r} W=${row.figure.w} ${metricLabel(row.figure).padEnd(40)} ` +
          `published ${row.figure.published}  ours ${row.ours.toPrecision(4)} [${row.low95.toPrecision(4)}, ${row.high95.toPrecision(4)}]  ` +
          `${(row.relativeDiff * 100).toFixed(1)}%`,
      );
    }
    expect(rows.length).toBeGreaterThanOrEqual(8);
  });

  it('P(consistent immediately after commit) matches within the Monte Carlo error (LNKD-DISK 43.9%)', () => {
    for (const row of rows.filter((r) => r.figure.metric.kind === 'pConsistent')) {
      expect(Math.abs(row.ours - row.figure.published)).toBeLessThan(0.01);
    }
  });

  it('p99.9 read + write latency matches within 3% with the simulator write shape (YMMR 16.4, 43.3, 230 ms)', () => {
    const latency = rows.filter((r) => r.figure.metric.kind === 'combinedLatencyP999Ms');
    expect(latency.length).toBe(6);
    for (const row of latency) {
      const band = row.profileName === 'ymmr-sim' ? 0.03 : 0.05;
      expect(Math.abs(row.relativeDiff), `${row.profileName} R=${row.figure.r}`).toBeLessThan(band);
    }
  });

  it('99.9% t-visibility: the published figure lies within our 95% interval widened by 15% below', () => {
    // The 99.9th percentile of a heavy tail is uncertain (LNKD-DISK at 300k trials: about ±8%),
    // and ours runs 5-14% above the paper at 1M trials, so the band is the interval, lowered by 15%.
    const tvis = rows.filter((r) => r.figure.metric.kind === 'tVisibilityMs');
    expect(tvis.length).toBe(6);
    for (const row of tvis) {
      const label = `${row.profileName} R=${row.figure.r}`;
      expect(row.figure.published, label).toBeGreaterThanOrEqual(row.low95 / 1.15);
      expect(row.figure.published, label).toBeLessThanOrEqual(row.high95 * 1.05);
    }
  });

  it("LNKD-SSD is far faster to become consistent than LNKD-DISK (the paper's headline contrast)", () => {
    const t = (profile: string) =>
      rows.find((r) => r.figure.metric.kind === 'tVisibilityMs' && r.profileName === profile)!.ours;
    expect(t('lnkd-disk') / t('lnkd-ssd')).toBeGreaterThan(15);
  });
});
