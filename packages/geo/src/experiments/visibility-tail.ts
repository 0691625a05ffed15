// The 99.9th percentile of t-visibility on real processes, measured against the WARS model.
//
// A p99.9 needs thousands of trials, so a trial must be cheap: keys are written one every
// WRITE_SPACING_MS without waiting for earlier trials (each on a fresh key the writing node
// coordinates, W = 1), and each key is probed in the other region with R = 1 reads at scheduled
// offsets after its own ack — from a little before the earliest the write can arrive, every
// PROBE_STEP_MS — until one sees it. A trial's threshold tau lies between the start of its last
// stale probe and the start of its first consistent one; the percentiles of both bracket the
// measured ones.
//
// The injected delays are tens of ms (the region matrix), so the few ms this machine's scheduler
// adds do not decide the tail by themselves; and the proxy's own lateness is calibrated with a
// ping-pong through the same kind of proxy and the same delays just before the trials, and
// added to every link of the model. Percentiles carry distribution-free 95% intervals (order
// statistics); whether the measured p99.9 is within 20% of the model's is reported as found.
import { SeededRandom } from '@ddia/common';
import type { Cluster } from '@ddia/testkit';
import { constant, type Distribution, sum } from '../core/distributions.js';
import { type LatencyMatrix, linkDelay, linkDistribution } from '../core/latency-matrix.js';
import { summarize } from '../core/stats.js';
import {
  pConsistent,
  percentile,
  type ReplicaLatencies,
  simulateWars,
  type WarsResult,
} from '../core/wars.js';
import { fmtMs, machineNote, Report } from '../report/report.js';
import { linePlot } from '../report/svg-plot.js';
import { applyLink } from './apply-link.js';
import {
  keysCoordinatedBy,
  LeaderlessClient,
  startLeaderlessCluster,
  warmUp,
} from './leaderless-visibility.js';
import { pingPong } from './proxy-latency.js';
import { measureOn, sleep } from './replication-cluster.js';
import { type Experiment, ExperimentUsageError, type ResolvedOptions } from './types.js';

export const TAIL_TRIALS = 3_000;
export const TAIL_TRIALS_QUICK = 300;
/** One new key every this many ms: > 2 × the link jitter, so the proxy's FIFO never holds a write behind the previous one. */
export const WRITE_SPACING_MS = 20;
export const PROBE_STEP_MS = 2;
/** Probing starts this long before the earliest the write can cross the link. */
const PROBE_LEAD_MS = 8;
const VISIBILITY_WAIT_MS = 3_000;
const CALIBRATION_PINGS = 60;
const MODEL_TRIALS = 400_000;
/** The quantiles reported; the target is the last. */
export const TAIL_QUANTILES = [0.5, 0.9, 0.99, 0.999] as const;
export const AGREEMENT_TOLERANCE = 0.2;

export interface TailMeasurement {
  /** Per trial: start (ms after the ack) of the first probe that saw the write. */
  upperMs: number[];
  /** Per trial: start of the last probe that missed it (0 when the first probe saw it). */
  lowerMs: number[];
  /** Trials whose first probe already saw the write (tau before the probing started). */
  seenAtFirstProbe: number;
  /**
   * Per trial, how late the first probe started against its schedule: a client that cannot keep
   * its schedule (a starved event loop) measures its own delay, not the replicas'.
   */
  firstProbeLateMs: number[];
  /**
   * Per trial, ms from sending the write to the end of the probe that saw it: that probe's
   * replica had the write, so this is never shorter than the injected one-way delay.
   */
  sendToSeenMs: number[];
  probes: number;
  elapsedMs: number;
}

/**
 * `trials` keys written through writeRegion, WRITE_SPACING_MS apart, each probed in readRegion
 * from `firstProbeMs` after its ack every PROBE_STEP_MS until the write shows.
 */
export async function measureTail(
  cluster: Cluster,
  client: LeaderlessClient,
  writeRegion: string,
  readRegion: string,
  trials: number,
  firstProbeMs: number,
  tag: string,
  onProgress: (done: number) => void = () => {},
): Promise<TailMeasurement> {
  const writeUrl = cluster.node(writeRegion).url;
  const readUrl = cluster.node(readRegion).url;
  const keys = keysCoordinatedBy(
    writeRegion,
    cluster.ids(),
    `${tag}/tail/${writeRegion}-${readRegion}`,
    trials + 1,
  );
  await warmUp('warm-up write', () => client.put(writeUrl, keys[0]!, 'w', 1));
  await warmUp('warm-up read', () => client.get(readUrl, keys[0]!, 1));
  const upperMs = new Array<number>(trials);
  const lowerMs = new Array<number>(trials);
  const firstProbeLateMs = new Array<number>(trials);
  const sendToSeenMs = new Array<number>(trials);
  let seenAtFirstProbe = 0;
  let probes = 0;
  let done = 0;
  const trial = async (i: number) => {
    const key = keys[i + 1]!;
    const value = `v${i}`;
    const sentAt = performance.now();
    await client.put(writeUrl, key, value, 1);
    const ackAt = performance.now();
    let lastStale = 0;
    for (let k = 0; ; k++) {
      await sleep(ackAt + firstProbeMs + k * PROBE_STEP_MS - performance.now());
      const startedAt = performance.now() - ackAt;
      if (k === 0) firstProbeLateMs[i] = startedAt - firstProbeMs;
      probes++;
      const read = await client.get(readUrl, key, 1);
      if (read.values.includes(value)) {
        upperMs[i] = startedAt;
        lowerMs[i] = lastStale;
        sendToSeenMs[i] = performance.now() - sentAt;
        if (k === 0) seenAtFirstProbe++;
        onProgress(++done);
        return;
      }
      lastStale = startedAt;
      if (startedAt > VISIBILITY_WAIT_MS)
        throw new Error(`${key} not visible in ${readRegion} after ${VISIBILITY_WAIT_MS} ms`);
    }
  };
  const started = performance.now();
  const running: Promise<void>[] = [];
  for (let i = 0; i < trials; i++) {
    await sleep(started + i * WRITE_SPACING_MS - performance.now());
    running.push(trial(i));
  }
  await Promise.all(running);
  return {
    upperMs,
    lowerMs,
    seenAtFirstProbe,
    firstProbeLateMs,
    sendToSeenMs,
    probes,
    elapsedMs: performance.now() - started,
  };
}

/**
 * The WARS model of the placement (one replica per region, R = W = 1, the coordinator in
 * writeRegion, the read in readRegion): every cross-region message takes the injected link
 * delay plus `lateness` (the proxy's own, from the ping-pong); a region's own replica is
 * instantaneous.
 */
export function tailModel(
  matrix: LatencyMatrix,
  regions: readonly string[],
  writeRegion: string,
  readRegion: string,
  lateness: Distribution,
  trials: number,
  seed: number,
): WarsResult {
  const path = (from: string, to: string): Distribution =>
    from === to ? constant(0) : sum(linkDistribution(linkDelay(matrix, from, to)), lateness);
  const replicas: ReplicaLatencies[] = regions.map((replica) => ({
    w: path(writeRegion, replica),
    a: path(replica, writeRegion),
    r: path(readRegion, replica),
    s: path(replica, readRegion),
  }));
  const zero = constant(0);
  return simulateWars(
    {
      n: regions.length,
      r: 1,
      w: 1,
      trials,
      profile: { name: 'injected', description: 'injected delays', w: zero, a: zero, r: zero, s: zero },
      replicas,
    },
    new SeededRandom(seed),
  );
}

/** Per-direction lateness samples of the proxy: (measured round trip - configured) / 2, at least 0. */
export async function proxyLateness(
  matrix: LatencyMatrix,
  a: string,
  b: string,
  pings: number,
  seed: number,
): Promise<{ samplesMs: number[]; expectedRttMs: number; rttsMs: number[] }> {
  const result = await pingPong(linkDelay(matrix, a, b), linkDelay(matrix, b, a), pings, seed);
  return {
    samplesMs: result.rttsMs.map((rtt) => Math.max(0, (rtt - result.expectedRttMs) / 2)),
    expectedRttMs: result.expectedRttMs,
    rttsMs: result.rttsMs,
  };
}

export interface QuantileRow {
  q: number;
  measured: { value: number; low95: number; high95: number };
  /** The same quantile of the lower bounds (the last stale probe). */
  measuredLower: number;
  model: number;
  /** (measured - model) / model. */
  relative: number;
}

export function compareQuantiles(m: TailMeasurement, model: WarsResult): QuantileRow[] {
  const upper = Float64Array.from(m.upperMs).sort();
  const lower = Float64Array.from(m.lowerMs).sort();
  return TAIL_QUANTILES.map((q) => {
    const measured = percentile(upper, q, 0);
    const modelValue = percentile(model.thresholdsMs, q, 0).value;
    return {
      q,
      measured,
      measuredLower: percentile(lower, q, 0).value,
      model: modelValue,
      relative: (measured.value - modelValue) / modelValue,
    };
  });
}

export const visibilityTail: Experiment = {
  name: 'visibility-tail',
  description:
    'Leaderless t-visibility at the 99.9th percentile on real processes: thousands of concurrent keys probed at scheduled offsets, proxy calibrated by ping-pong, vs the WARS model',
  async run(options: ResolvedOptions) {
    const regions = options.regions;
    if (regions.length < 2) throw new ExperimentUsageError('needs at least 2 regions');
    const m = options.matrix;
    const trials = options.quick ? TAIL_TRIALS_QUICK : TAIL_TRIALS;
    const [writeRegion, readRegion] = regions as [string, string];
    const link = linkDelay(m, writeRegion, readRegion);
    const firstProbeMs = Math.max(0, link.latencyMs - link.jitterMs - PROBE_LEAD_MS);

    options.progress(0, `ping-pong through the proxy ${writeRegion} <-> ${readRegion} (calibration)`);
    const calibration = await proxyLateness(m, writeRegion, readRegion, CALIBRATION_PINGS, options.seed);
    options.progress(0.05, `starting ${regions.length} replication nodes`);
    const cluster = await startLeaderlessCluster(regions);
    const client = new LeaderlessClient();
    const measured = await measureOn(cluster, client, () => {
      const network = cluster.proxies();
      for (const from of regions)
        for (const to of regions) if (from !== to) applyLink(network, from, to, linkDelay(m, from, to));
      return measureTail(
        cluster,
        client,
        writeRegion,
        readRegion,
        trials,
        firstProbeMs,
        `seed${options.seed}`,
        (done) => {
          if (done % 100 === 0) options.progress(0.1 + (0.8 * done) / trials, `${done}/${trials} trials`);
        },
      );
    });

    options.progress(0.92, 'WARS model with the injected delays and the calibrated proxy lateness');
    const lateness: Distribution = { kind: 'empirical', samplesMs: calibration.samplesMs };
    const modelTrials = options.quick ? MODEL_TRIALS / 10 : MODEL_TRIALS;
    const withLateness = tailModel(m, regions, writeRegion, readRegion, lateness, modelTrials, options.seed);
    const injectedOnly = tailModel(
      m,
      regions,
      writeRegion,
      readRegion,
      constant(0),
      modelTrials,
      options.seed,
    );
    const rows = compareQuantiles(measured, withLateness);
    const bare = compareQuantiles(measured, injectedOnly);

    const report = new Report(
      options.out,
      `t-visibility tail: ${writeRegion} → ${readRegion}, measured vs WARS`,
    );
    const latenessSorted = Float64Array.from(calibration.samplesMs).sort();
    report.paragraph(
      `The replication service in leaderless mode, one node per region (${regions.join(', ')}), N = ${regions.length}, R = W = 1, ` +
        `every node-to-node path delayed by the ${m.name} matrix through the fault proxy (${writeRegion} → ${readRegion}: ` +
        `${fmtMs(link.latencyMs)} ± ${fmtMs(link.jitterMs)} ms one way, uniform). ${trials} trials, seed ${options.seed}: ` +
        `a fresh key written in ${writeRegion} every ${WRITE_SPACING_MS} ms (not waiting for earlier trials), each probed in ` +
        `${readRegion} with R = 1 reads from ${fmtMs(firstProbeMs)} ms after its ack, every ${PROBE_STEP_MS} ms, until it shows ` +
        `(${measured.probes} probes in ${fmtMs(measured.elapsedMs / 1000)} s). Calibration: ${CALIBRATION_PINGS} ping-pongs through ` +
        `the proxy with the same delays, expected RTT ${fmtMs(calibration.expectedRttMs)} ms, proxy lateness per direction ` +
        `p50 ${fmtMs(percentile(latenessSorted, 0.5).value)} ms, max ${fmtMs(latenessSorted[latenessSorted.length - 1]!)} ms; ` +
        'the model adds it to every cross-region message.',
    );
    const pctText = (q: number) => `p${(q * 100).toFixed(q >= 0.999 ? 1 : 0)}`;
    report.table(
      [
        'quantile',
        'measured (first consistent probe)',
        'its 95% interval',
        'last stale probe',
        'model (injected + proxy lateness)',
        'diff',
        'model (injected only)',
        'diff',
      ],
      rows.map((row, k) => [
        pctText(row.q),
        fmtMs(row.measured.value),
        `${fmtMs(row.measured.low95)} – ${fmtMs(row.measured.high95)}`,
        fmtMs(row.measuredLower),
        fmtMs(row.model),
        `${(row.relative * 100).toFixed(1)}%`,
        fmtMs(bare[k]!.model),
        `${(bare[k]!.relative * 100).toFixed(1)}%`,
      ]),
    );
    const tail = rows[rows.length - 1]!;
    const late = summarize(measured.firstProbeLateMs);
    const within = Math.abs(tail.relative) <= AGREEMENT_TOLERANCE;
    const intervalWithin =
      tail.measured.low95 >= tail.model * (1 - AGREEMENT_TOLERANCE) &&
      tail.measured.high95 <= tail.model * (1 + AGREEMENT_TOLERANCE);
    report.paragraph(
      `**p99.9: measured ${fmtMs(tail.measured.value)} ms (95% interval ${fmtMs(tail.measured.low95)} – ${fmtMs(tail.measured.high95)}), ` +
        `model ${fmtMs(tail.model)} ms: ${within ? 'within' : 'NOT within'} ${AGREEMENT_TOLERANCE * 100}%` +
        `${within ? (intervalWithin ? ', and so is its whole interval' : ', but its interval reaches outside') : ''}.** ` +
        `${measured.seenAtFirstProbe} of ${trials} trials were already visible at the first probe (their threshold is only ` +
        `bounded above). The client kept its probe schedule to within ${fmtMs(late.p50Ms)} ms at the median and ` +
        `${fmtMs(late.p99Ms)} ms at p99 (${fmtMs(late.maxMs)} max): where that lateness is comparable with the link delay, ` +
        'the measurement is of this process, not of the replicas. ' +
        `With ${trials} trials the p99.9 is the ${Math.max(1, Math.round(trials * 0.001))}-th largest value: ` +
        (trials < 2_000
          ? 'too few to pin it down (quick run).'
          : 'its interval is that of the order statistics.') +
        ' The measured threshold runs late by up to one probe step and the probe’s own time to reach the node; it runs ' +
        "early by the ack's trip back to the client. The machine's load is below: the tail beyond the model is this " +
        "machine's scheduling.",
    );
    const curve = (xs: number[]) =>
      [...xs].sort((a, b) => a - b).map((x, i, all) => ({ x, y: (i + 1) / all.length }));
    const maxT = Math.max(...measured.upperMs) * 1.05;
    const grid = Array.from({ length: 161 }, (_, i) => (maxT * i) / 160);
    await report.plot(
      'tail.svg',
      linePlot({
        title: `P(read in ${readRegion} sees the write) t ms after the ack`,
        xLabel: 't after the write ack (ms)',
        yLabel: 'P(consistent)',
        series: [
          { name: 'measured (first consistent probe)', points: curve(measured.upperMs) },
          {
            name: 'model (injected + proxy lateness)',
            dashed: true,
            points: grid.map((x) => ({
              x,
              y: pConsistent(withLateness, x).value,
            })),
          },
        ],
        yMax: 1,
      }),
      'measured vs predicted t-visibility',
    );
    report.paragraph(machineNote());
    options.progress(1, 'done');
    const reportPath = await report.write();
    return { name: 'visibility-tail', reportPath, files: report.files, markdown: report.markdown() };
  },
};
