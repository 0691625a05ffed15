// Experiment: the leaderless N/R/W sweep as the WARS model predicts it — for each quorum
// configuration, P(consistent) right after commit, the t for 99.9%, and read/write tail latency.
// The model alone, on every profile and many configurations at no cost; leaderless-visibility.ts
// measures one configuration on real processes beside the same model's prediction.
import { SeededRandom } from '@ddia/common/core';
import { pConsistent, percentile, simulateWars, tVisibility, tVisibilityCurve } from '../core/wars.js';
import { fmtMs, fmtPct, Report } from '../report/report.js';
import { linePlot } from '../report/svg-plot.js';
import { curveTimes } from './pbs-paper.js';
import type { Experiment, ResolvedOptions } from './types.js';

export const SWEEP_TRIALS = 200_000;
export const SWEEP_TRIALS_QUICK = 10_000;

export const pbsSweep: Experiment = {
  name: 'pbs-sweep',
  description:
    'Leaderless N/R/W sweep predicted by the WARS model: staleness right after commit, t for 99.9%, read/write p99.9',
  async run(options: ResolvedOptions) {
    const trials = options.quick ? SWEEP_TRIALS_QUICK : SWEEP_TRIALS;
    const random = new SeededRandom(options.seed);
    const report = new Report(options.out, 'Leaderless N/R/W sweep, predicted by the WARS model');
    report.paragraph(
      `Seed ${options.seed}, ${trials.toLocaleString('en-US')} trials per configuration. R + W > N configurations ` +
        'are strict quorums: consistent at t = 0 by construction; the others trade staleness for latency.',
    );
    const configs: [number, number, number][] = [];
    for (const n of [3, 5])
      for (let r = 1; r <= n; r++) for (let w = 1; w <= n; w++) if (r + w <= n + 1) configs.push([n, r, w]);
    const total = configs.length * options.warsProfiles.length;
    let done = 0;
    for (const profile of options.warsProfiles) {
      report.heading(profile.name);
      const rows: (string | number)[][] = [];
      const series = [];
      let maxT = 0;
      const results = configs.map(([n, r, w]) => {
        const res = simulateWars({ n, r, w, trials, profile }, random.fork());
        options.progress(++done / total, `${profile.name} N=${n} R=${r} W=${w}`);
        maxT = Math.max(maxT, tVisibility(res, 0.999).value);
        return { n, r, w, res };
      });
      for (const { n, r, w, res } of results) {
        rows.push([
          n,
          r,
          w,
          r + w > n ? 'strict' : 'partial',
          fmtPct(pConsistent(res, 0).value),
          fmtMs(tVisibility(res, 0.999).value),
          fmtMs(percentile(res.readLatenciesMs, 0.5).value),
          fmtMs(percentile(res.readLatenciesMs, 0.999).value),
          fmtMs(percentile(res.writeLatenciesMs, 0.5).value),
          fmtMs(percentile(res.writeLatenciesMs, 0.999).value),
        ]);
        if (n === 3 && r + w <= n)
          series.push({
            name: `N=${n} R=${r} W=${w}`,
            points: tVisibilityCurve(res, curveTimes(Math.max(maxT, 1) * 1.2)).map(({ tMs, p }) => ({
              x: tMs,
              y: p,
            })),
          });
      }
      report.table(
        [
          'N',
          'R',
          'W',
          'quorum',
          'P(consistent) t=0',
          't 99.9%',
          'read p50',
          'read p99.9',
          'write p50',
          'write p99.9',
        ],
        rows,
      );
      await report.plot(
        `sweep-${profile.name}.svg`,
        linePlot({
          title: `${profile.name}: partial quorums, P(consistent) vs t`,
          xLabel: 't after commit (ms)',
          yLabel: 'P(consistent)',
          series: series.map((s) => ({ ...s, points: s.points.filter((p) => p.x > 0) })),
          xLog: true,
          yMax: 1,
        }),
        `sweep ${profile.name}`,
      );
    }
    const reportPath = await report.write();
    return { name: 'pbs-sweep', reportPath, files: report.files, markdown: report.markdown() };
  },
};
