// Experiment 4 (model): LOCAL_QUORUM vs EACH_QUORUM vs QUORUM with three regions of three replicas
// each, the write coordinated in the first region and the read in each region in turn. Latencies
// from the region matrix plus LNKD-SSD's per-message service time; consistency by the WARS rule.
import { SeededRandom } from '@ddia/common/core';
import { PBS_PROFILES } from '../core/profiles.js';
import { type ReadLevel, simulateLevels, type WriteLevel } from '../core/quorum-levels.js';
import { pConsistent, percentile, tVisibility } from '../core/wars.js';
import { fmtMs, fmtPct, Report } from '../report/report.js';
import { barChart } from '../report/svg-plot.js';
import type { Experiment, ResolvedOptions } from './types.js';

export const LEVEL_TRIALS = 100_000;
export const LEVEL_TRIALS_QUICK = 10_000;
export const REPLICAS_PER_REGION = 3;

export const LEVEL_PAIRS: readonly [WriteLevel, ReadLevel][] = [
  ['ONE', 'ONE'],
  ['LOCAL_QUORUM', 'LOCAL_QUORUM'],
  ['QUORUM', 'QUORUM'],
  ['EACH_QUORUM', 'LOCAL_QUORUM'],
  ['LOCAL_QUORUM', 'QUORUM'],
];

export const quorumLevels: Experiment = {
  name: 'quorum-levels',
  description:
    'Cassandra LOCAL_QUORUM vs EACH_QUORUM vs QUORUM across three regions (WARS model): latency per level, stale reads in other regions',
  async run(options: ResolvedOptions) {
    const trials = options.quick ? LEVEL_TRIALS_QUICK : LEVEL_TRIALS;
    const m = options.matrix;
    const random = new SeededRandom(options.seed);
    const writeRegion = m.regions[0]!;
    const perHop = PBS_PROFILES['lnkd-ssd']!.w;
    const report = new Report(
      options.out,
      `Consistency levels across regions (${m.regions.join(', ')}, ${REPLICAS_PER_REGION} replicas each)`,
    );
    report.paragraph(
      `Model only (WARS rule, ${trials.toLocaleString('en-US')} trials per row, seed ${options.seed}): ${REPLICAS_PER_REGION} ` +
        `replicas in each region, every message delayed by the ${m.name} matrix plus LNKD-SSD's per-message time. ` +
        `Writes are coordinated in ${writeRegion}; each read in the region named. Strict combinations (write set and ` +
        'read set must intersect) show 100% at t = 0.',
    );
    const rows: (string | number)[][] = [];
    const total = LEVEL_PAIRS.length * m.regions.length;
    let done = 0;
    const writeP50: number[] = [];
    for (const [writeLevel, readLevel] of LEVEL_PAIRS) {
      for (const readRegion of m.regions) {
        const res = simulateLevels(
          {
            matrix: m,
            replicasPerRegion: REPLICAS_PER_REGION,
            perHop,
            writeRegion,
            readRegion,
            writeLevel,
            readLevel,
            trials,
          },
          random.fork(),
        );
        options.progress(++done / total, `${writeLevel}/${readLevel}, read in ${readRegion}`);
        if (readRegion === writeRegion) writeP50.push(percentile(res.writeLatenciesMs, 0.5).value);
        rows.push([
          writeLevel,
          readLevel,
          readRegion,
          fmtMs(percentile(res.writeLatenciesMs, 0.5).value),
          fmtMs(percentile(res.writeLatenciesMs, 0.99).value),
          fmtMs(percentile(res.readLatenciesMs, 0.5).value),
          fmtMs(percentile(res.readLatenciesMs, 0.99).value),
          fmtPct(pConsistent(res, 0).value),
          fmtMs(tVisibility(res, 0.999).value),
        ]);
      }
    }
    report.table(
      [
        'write level',
        'read level',
        'read in',
        'write p50',
        'write p99',
        'read p50',
        'read p99',
        'P(consistent) t=0',
        't 99.9%',
      ],
      rows,
    );
    report.paragraph(
      "LOCAL_QUORUM keeps both operations inside a region: a few ms, and consistent for readers in the writer's " +
        'region, but a reader elsewhere misses the write until it crosses the ocean (t for 99.9% ≈ the one-way ' +
        'delay). QUORUM (5 of 9) always waits for the nearest other region, on writes and reads. EACH_QUORUM writes ' +
        'wait for the farthest region, and buy LOCAL_QUORUM reads that are consistent everywhere. LOCAL_QUORUM ' +
        'writes with QUORUM reads come out consistent here only because the 5 fastest read responders always ' +
        "include 2 of the writer region's 3 replicas with these distances: 2 + 5 <= 9 is no quorum guarantee.",
    );
    await report.plot(
      'write-latency.svg',
      barChart({
        title: `Write latency p50 from ${writeRegion} by consistency level`,
        yLabel: 'ms',
        categories: LEVEL_PAIRS.map(([w, r]) => `${w}/${r}`),
        series: [{ name: `write p50 (coordinator in ${writeRegion})`, values: writeP50 }],
        width: 760,
      }),
      'write latency by level',
    );
    const reportPath = await report.write();
    return { name: 'quorum-levels', reportPath, files: report.files, markdown: report.markdown() };
  },
};
