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
// What the model is fed, as PBS feeds it the latencies measured on the running system: the
// injected link delays, plus a lateness on every message (the client's own legs included), the
// one-way excess of a ping-pong that runs through the same kind of proxy to an echo process for
// the whole time the trials run, so it waits for the same CPUs under the same load. Percentiles
// carry distribution-free 95% intervals (order statistics); whether the measured p99.9 is within
// 20% of the model's is reported as found.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { SeededRandom } from '@ddia/common';
import { type Cluster, claimCpuShare } from '@ddia/testkit';
import type { Distribution } from '../core/distributions.js';
import { type LatencyMatrix, linkDelay } from '../core/latency-matrix.js';
import { summarize } from '../core/stats.js';
import { NO_LATENESS, type TailLateness, tailModel } from '../core/tail-model.js';
import { pConsistent, percentile, type WarsResult } from '../core/wars.js';
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
/** A trial's probes unanswered at once, at most. */
export const PROBES_IN_FLIGHT_MAX = 4;
/** Probing starts this long before the earliest the write can cross the link. */
const PROBE_LEAD_MS = 8;
const VISIBILITY_WAIT_MS = 3_000;
/** The most lateness pings (one round trip each, sequential); the trials end them first. */
const LATENESS_PINGS_MAX = 100_000;
const MODEL_TRIALS = 400_000;
/** The quantiles reported; the target is the last. */
export const TAIL_QUANTILES = [0.5, 0.9, 0.99, 0.999] as const;
export const AGREEMENT_TOLERANCE = 0.2;
/** Beyond this share of trials seen at their first probe, the run is not judged. */
export const FIRST_PROBE_SEEN_SHARE_MAX = 0.5;

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
   * Per trial, ms from sending the write to the end of the first probe that came back having
   * seen it: that probe's replica had the write, so this is never shorter than the injected
   * one-way delay.
   */
  sendToSeenMs: number[];
  /** Per trial, the write's round trip from the client (W = 1: answered by the node in its region). */
  writeMs: number[];
  /** Every probe's round trip (R = 1: answered by the node in the read's region). */
  readMs: number[];
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
  const writeMs = new Array<number>(trials);
  const readMs: number[] = [];
  let seenAtFirstProbe = 0;
  let probes = 0;
  let done = 0;
  const trial = async (i: number) => {
    const key = keys[i + 1]!;
    const value = `v${i}`;
    const sentAt = performance.now();
    writeMs[i] = await client.put(writeUrl, key, value, 1);
    const ackAt = performance.now();
    // Probes go out on their schedule whether or not the earlier ones have answered: a probe
    // held up at a busy node must not hold back the next one's start (waiting for each would
    // widen the bracket to the slow probe's duration). A node that does not answer gets at most
    // PROBES_IN_FLIGHT_MAX of a trial's probes: more would only pile up behind it.
    const starts: number[] = [];
    const seen: boolean[] = [];
    const pending = new Set<Promise<void>>();
    let answered = false;
    let failure: unknown = null;
    let endOfSeen = Number.POSITIVE_INFINITY;
    for (let k = 0; !answered && failure === null; k++) {
      await sleep(ackAt + firstProbeMs + k * PROBE_STEP_MS - performance.now());
      while (pending.size >= PROBES_IN_FLIGHT_MAX && !answered) await Promise.race(pending);
      if (answered || failure !== null) break;
      const startedAt = performance.now() - ackAt;
      if (k === 0) firstProbeLateMs[i] = startedAt - firstProbeMs;
      if (startedAt > VISIBILITY_WAIT_MS) {
        failure = new Error(`${key} not visible in ${readRegion} after ${VISIBILITY_WAIT_MS} ms`);
        break;
      }
      starts.push(startedAt);
      probes++;
      const probe: Promise<void> = client
        .get(readUrl, key, 1)
        .then(
          (read) => {
            seen[k] = read.values.includes(value);
            readMs.push(read.ms);
            if (seen[k]) {
              answered = true;
              endOfSeen = Math.min(endOfSeen, performance.now() - sentAt);
            }
          },
          (err: unknown) => {
            failure ??= err;
          },
        )
        .finally(() => pending.delete(probe));
      pending.add(probe);
    }
    await Promise.all(pending);
    if (failure !== null) throw failure;
    // The first probe (by start) that saw the write, and the last stale one started before it.
    const first = seen.findIndex((x) => x);
    upperMs[i] = starts[first]!;
    let lastStale = 0;
    for (let k = 0; k < first; k++) if (!seen[k]) lastStale = starts[k]!;
    lowerMs[i] = lastStale;
    sendToSeenMs[i] = endOfSeen;
    if (first === 0) seenAtFirstProbe++;
    onProgress(++done);
  };
  const started = performance.now();
  const running: Promise<void>[] = [];
  let failed = false;
  for (let i = 0; i < trials && !failed; i++) {
    await sleep(started + i * WRITE_SPACING_MS - performance.now());
    running.push(
      trial(i).catch((err: unknown) => {
        failed = true;
        throw err;
      }),
    );
  }
  // Every trial settles before the first failure is reported: none is left running unobserved.
  const outcomes = await Promise.allSettled(running);
  const rejected = outcomes.find((o) => o.status === 'rejected');
  if (rejected) throw rejected.reason;
  return {
    upperMs,
    lowerMs,
    seenAtFirstProbe,
    firstProbeLateMs,
    sendToSeenMs,
    writeMs,
    readMs,
    probes,
    elapsedMs: performance.now() - started,
  };
}

/** Per-direction lateness samples: (measured round trip - configured) / 2, at least 0. */
export function latenessSamples(rttsMs: readonly number[], expectedRttMs: number): number[] {
  return rttsMs.map((rtt) => Math.max(0, (rtt - expectedRttMs) / 2));
}

/**
 * Runs `measure` while a ping-pong goes back and forth through a proxy of this process to an echo
 * process, with the delays of the link a <-> b: the lateness samples are taken under the load the
 * measurement itself puts on the machine.
 */
export async function withLatenessSampler<T>(
  matrix: LatencyMatrix,
  a: string,
  b: string,
  seed: number,
  measure: () => Promise<T>,
): Promise<{ result: T; samplesMs: number[]; expectedRttMs: number }> {
  let done = false;
  const sampling = pingPong(linkDelay(matrix, a, b), linkDelay(matrix, b, a), LATENESS_PINGS_MAX, seed, {
    echo: 'child',
    until: () => done,
  });
  try {
    const result = await measure();
    done = true;
    const pings = await sampling;
    return {
      result,
      samplesMs: latenessSamples(pings.rttsMs, pings.expectedRttMs),
      expectedRttMs: pings.expectedRttMs,
    };
  } finally {
    done = true;
    await sampling.catch(() => {});
  }
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
    'Leaderless t-visibility at the 99.9th percentile on real processes: thousands of concurrent keys probed at scheduled offsets, vs the WARS model fed the lateness measured during the run',
  async run(options: ResolvedOptions) {
    const regions = options.regions;
    if (regions.length < 2) throw new ExperimentUsageError('needs at least 2 regions');
    const m = options.matrix;
    const trials = options.quick ? TAIL_TRIALS_QUICK : TAIL_TRIALS;
    const [writeRegion, readRegion] = regions as [string, string];
    const link = linkDelay(m, writeRegion, readRegion);
    const firstProbeMs = Math.max(0, link.latencyMs - link.jitterMs - PROBE_LEAD_MS);

    const share = claimCpuShare();
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    let sampled: Awaited<ReturnType<typeof withLatenessSampler<TailMeasurement>>>;
    try {
      options.progress(0, `starting ${regions.length} replication nodes`);
      const cluster = await startLeaderlessCluster(regions, options.seed);
      const client = new LeaderlessClient();
      sampled = await measureOn(cluster, client, () => {
        const network = cluster.proxies();
        for (const from of regions)
          for (const to of regions) if (from !== to) applyLink(network, from, to, linkDelay(m, from, to));
        loopDelay.enable();
        return withLatenessSampler(m, writeRegion, readRegion, options.seed, () =>
          measureTail(
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
          ),
        );
      });
    } finally {
      loopDelay.disable();
      share.release();
    }
    const measured = sampled.result;

    options.progress(0.92, 'WARS model with the injected delays and the lateness measured during the trials');
    const half = (roundTripsMs: number[]): Distribution => ({
      kind: 'empirical',
      samplesMs: roundTripsMs.map((ms) => ms / 2),
    });
    const lateness: TailLateness = {
      hop: { kind: 'empirical', samplesMs: sampled.samplesMs },
      ack: half(measured.writeMs),
      probe: half(measured.readMs),
    };
    const modelTrials = options.quick ? MODEL_TRIALS / 10 : MODEL_TRIALS;
    const random = () => new SeededRandom(options.seed);
    const withLateness = tailModel(m, regions, writeRegion, readRegion, lateness, modelTrials, random());
    const injectedOnly = tailModel(m, regions, writeRegion, readRegion, NO_LATENESS, modelTrials, random());
    const rows = compareQuantiles(measured, withLateness);
    const bare = compareQuantiles(measured, injectedOnly);

    const report = new Report(
      options.out,
      `t-visibility tail: ${writeRegion} → ${readRegion}, measured vs WARS`,
    );
    const latenessSorted = Float64Array.from(sampled.samplesMs).sort();
    const loopMs = (q: number) => loopDelay.percentile(q) / 1e6;
    report.paragraph(
      `The replication service in leaderless mode, one node per region (${regions.join(', ')}), N = ${regions.length}, R = W = 1, ` +
        `every node-to-node path delayed by the ${m.name} matrix through the fault proxy (${writeRegion} → ${readRegion}: ` +
        `${fmtMs(link.latencyMs)} ± ${fmtMs(link.jitterMs)} ms one way, uniform). ${trials} trials, seed ${options.seed}: ` +
        `a fresh key written in ${writeRegion} every ${WRITE_SPACING_MS} ms (not waiting for earlier trials), each probed in ` +
        `${readRegion} with R = 1 reads from ${fmtMs(firstProbeMs)} ms after its ack, every ${PROBE_STEP_MS} ms, until it shows ` +
        `(${measured.probes} probes in ${fmtMs(measured.elapsedMs / 1000)} s). Lateness, measured while the trials ran: ` +
        `${sampled.samplesMs.length} sequential ping-pongs through a proxy of the client's process to an echo process, ` +
        `expected RTT ${fmtMs(sampled.expectedRttMs)} ms; the one-way excess was ` +
        `p50 ${fmtMs(percentile(latenessSorted, 0.5).value)}, p99 ${fmtMs(percentile(latenessSorted, 0.99).value)}, ` +
        `max ${fmtMs(latenessSorted[latenessSorted.length - 1]!)} ms; the model adds a draw of it to every message between ` +
        `regions, and half a measured round trip to each of the client's own legs (the writes': p50 ${fmtMs(summarize(measured.writeMs).p50Ms)} ms, ` +
        `p99 ${fmtMs(summarize(measured.writeMs).p99Ms)}; the probes': p50 ${fmtMs(summarize(measured.readMs).p50Ms)}, ` +
        `p99 ${fmtMs(summarize(measured.readMs).p99Ms)}; core/tail-model.ts). The client process's event loop (which also runs the ` +
        `proxies) was late by p50 ${fmtMs(loopMs(50))}, p99 ${fmtMs(loopMs(99))}, max ${fmtMs(loopDelay.max / 1e6)} ms. ` +
        `${share.note}.`,
    );
    const pctText = (q: number) => `p${(q * 100).toFixed(q >= 0.999 ? 1 : 0)}`;
    report.table(
      [
        'quantile',
        'measured (first consistent probe)',
        'its 95% interval',
        'last stale probe',
        'model (injected + measured lateness)',
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
    // A trial seen at its first probe has only an upper bound; when most are, the probes started
    // too late to find the thresholds and there is no measurement to judge.
    const judged = measured.seenAtFirstProbe <= trials * FIRST_PROBE_SEEN_SHARE_MAX;
    const verdict = !judged
      ? `not judged: the probes started too late to bracket most thresholds (over ${FIRST_PROBE_SEEN_SHARE_MAX * 100}% seen at the first probe)`
      : `${within ? 'within' : 'NOT within'} ${AGREEMENT_TOLERANCE * 100}%` +
        `${within ? (intervalWithin ? ', and so is its whole interval' : ', but its interval reaches outside') : ''}`;
    report.paragraph(
      `**p99.9: measured ${fmtMs(tail.measured.value)} ms (95% interval ${fmtMs(tail.measured.low95)} – ${fmtMs(tail.measured.high95)}), ` +
        `model ${fmtMs(tail.model)} ms: ${verdict}.** ` +
        `${measured.seenAtFirstProbe} of ${trials} trials were already visible at the first probe (their threshold is only ` +
        `bounded above). The client kept its probe schedule to within ${fmtMs(late.p50Ms)} ms at the median and ` +
        `${fmtMs(late.p99Ms)} ms at p99 (${fmtMs(late.maxMs)} max): where that lateness is comparable with the link delay, ` +
        'the measurement is of this process, not of the replicas. ' +
        `With ${trials} trials the p99.9 is the ${Math.max(1, Math.round(trials * 0.001))}-th largest value: ` +
        (trials < 2_000
          ? 'too few to pin it down (quick run).'
          : 'its interval is that of the order statistics.') +
        ' The measured threshold runs late by up to one probe step (the model has no probe grid). ' +
        'The hop lateness is sampled on one process pair and one link and stands for every hop between regions; ' +
        "the machine's load is below.",
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
            name: 'model (injected + measured lateness)',
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
