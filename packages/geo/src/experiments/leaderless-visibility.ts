// Experiments 2 + 3, measured against predicted: t-visibility of a leaderless store on real
// processes (the replication service, --mode leaderless, one node per region, N = 3, R = W = 1),
// with the region matrix injected through testkit's fault proxy, beside the WARS model's
// prediction for the same injected distributions.
//
// A trial writes a fresh key through the node in region A (W = 1: acknowledged once A's own
// replica has it) and, from the moment the client holds the ack, polls the node in region B with
// R = 1 reads until one returns the value. The start time of the first consistent read is the
// trial's t-visibility threshold tau (PBS §5.1): every read started later is consistent too.
//
// The model is fed the same paths: replica i's W and A are the injected delay between A and i,
// its R and S the delay between B and i, each plus the service's own per-hop overhead (fsync of
// its journal, HTTP), measured on the same cluster before any delay is injected.
import { crc32c, HttpClient, SeededRandom } from '@ddia/common';
import type { Cluster } from '@ddia/testkit';
import { constant, type Distribution, sum } from '../core/distributions.js';
import { type LatencyMatrix, linkDelay, linkDistribution } from '../core/latency-matrix.js';
import { summarize } from '../core/stats.js';
import {
  pConsistent,
  percentile,
  type ReplicaLatencies,
  simulateWars,
  tVisibilityCurve,
  type WarsResult,
} from '../core/wars.js';
import { fmtMs, fmtPct, machineNote, Report } from '../report/report.js';
import { linePlot } from '../report/svg-plot.js';
import { applyLink } from './apply-link.js';
import { measureOn, sleep, startReplicationCluster } from './replication-cluster.js';
import { type Experiment, ExperimentUsageError, type ResolvedOptions } from './types.js';

export const TRIALS_PER_PAIR = 40;
export const TRIALS_PER_PAIR_QUICK = 10;
export const CALIBRATION_SAMPLES = 20;
export const MODEL_TRIALS = 200_000;
/**
 * Gap between polling reads. Each R = 1 read still asks every replica, and the service keeps at
 * most 32 peer posts in flight per peer (each one open for a full round trip through the delayed
 * path), dropping the rest; polling every millisecond fills that window, the write itself is then
 * dropped and B learns it only through read repair. A few ms between polls keeps the window clear.
 */
const POLL_GAP_MS = 4;
/** Pause between trials so that the previous trial's messages have drained (> the longest RTT). */
const TRIAL_GAP_MS = 500;
const VISIBILITY_WAIT_MS = 5_000;
/** The quantiles compared; with tens of trials a 99.9th percentile cannot be measured honestly. */
export const COMPARED_QUANTILES = [0.5, 0.9] as const;

const WARM_UP_ATTEMPTS = 40;
const WARM_UP_GAP_MS = 250;

/**
 * The replication service's key placement (packages/replication/src/core/placement.ts):
 * rendezvous hashing, crc32c of `node \0 key`, highest first. A write is forwarded to the first
 * live home replica, so the experiment picks keys whose first choice is the node the client
 * writes to: then that node coordinates, as the WARS model assumes.
 */
export function preferenceOrder(key: string, nodes: readonly string[]): string[] {
  const encoder = new TextEncoder();
  return nodes
    .map((node) => ({ node, score: crc32c(encoder.encode(`${node}\u0000${key}`)) >>> 0 }))
    .sort((a, b) => b.score - a.score || (a.node < b.node ? -1 : 1))
    .map((x) => x.node);
}

/** The i-th key (from `prefix`) whose coordinator is `node`. */
export function keysCoordinatedBy(
  node: string,
  nodes: readonly string[],
  prefix: string,
  count: number,
): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const key = `${prefix}/${i}`;
    if (preferenceOrder(key, nodes)[0] === node) keys.push(key);
  }
  return keys;
}

/** Retries a first request while the nodes are still finding each other (503s at start). */
export async function warmUp(what: string, action: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await action();
      return;
    } catch (err) {
      if (attempt >= WARM_UP_ATTEMPTS) throw new Error(`${what}: ${(err as Error).message}`);
      await sleep(WARM_UP_GAP_MS);
    }
  }
}

export class LeaderlessClient {
  private readonly http = new HttpClient({ deadlineMs: 8_000, retries: 0 });

  /** `w` and `r`: a count or a level word of the service (one, quorum, all, local_quorum, each_quorum). */
  async put(url: string, key: string, value: string, w: number | string): Promise<number> {
    const started = performance.now();
    const res = await this.http.request(`${url}/kv/${encodeURIComponent(key)}?w=${w}`, {
      method: 'PUT',
      body: value,
      headers: { 'content-type': 'text/plain' },
      retry: false,
    });
    const ms = performance.now() - started;
    if (res.status !== 200 && res.status !== 201) throw new Error(`PUT ${key}: ${res.status} ${res.text()}`);
    return ms;
  }

  /** The values read (empty when absent) and the latency. */
  async get(url: string, key: string, r: number | string): Promise<{ values: string[]; ms: number }> {
    const started = performance.now();
    const res = await this.http.request(`${url}/kv/${encodeURIComponent(key)}?r=${r}`, { retry: false });
    const ms = performance.now() - started;
    if (res.status === 404) return { values: [], ms };
    if (res.status !== 200 && res.status !== 300) throw new Error(`GET ${key}: ${res.status} ${res.text()}`);
    const body = res.json<{ value?: string; values?: string[] }>();
    return { values: body.values ?? (body.value === undefined ? [] : [body.value]), ms };
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}

export function startLeaderlessCluster(regions: string[], seed: number): Promise<Cluster> {
  return startReplicationCluster(
    regions,
    ['--mode', 'leaderless', '--n', String(regions.length), '--w', '1', '--r', '1'],
    seed,
  );
}

/**
 * The service's own overheads, measured before any delay is injected, on keys the node
 * coordinates itself: a W = 1 write and an R = 1 read are answered by the local replica (the
 * local path); W = all and R = all wait for the slowest remote replica too, and half the
 * difference is what one remote hop adds beyond the network (HTTP, the core, the event loop).
 */
export interface Overheads {
  localWriteMs: number[];
  localReadMs: number[];
  remoteWriteHopMs: number[];
  remoteReadHopMs: number[];
}

export async function calibrate(
  cluster: Cluster,
  client: LeaderlessClient,
  samples: number,
): Promise<Overheads> {
  const node = cluster.nodes[0]!;
  const keys = keysCoordinatedBy(node.id, cluster.ids(), 'calibrate', 2 * samples + 1);
  const o: Overheads = { localWriteMs: [], localReadMs: [], remoteWriteHopMs: [], remoteReadHopMs: [] };
  await warmUp('warm-up write', () => client.put(node.url, keys[0]!, 'x', 'all'));
  for (let i = 0; i < samples; i++) {
    const one = keys[1 + 2 * i]!;
    const all = keys[2 + 2 * i]!;
    const w1 = await client.put(node.url, one, 'x', 1);
    const wAll = await client.put(node.url, all, 'x', 'all');
    const r1 = (await client.get(node.url, one, 1)).ms;
    const rAll = (await client.get(node.url, all, 'all')).ms;
    o.localWriteMs.push(w1);
    o.localReadMs.push(r1);
    o.remoteWriteHopMs.push(Math.max(0, wAll - w1) / 2);
    o.remoteReadHopMs.push(Math.max(0, rAll - r1) / 2);
  }
  return o;
}

export interface PairMeasurement {
  writeRegion: string;
  readRegion: string;
  /** tau per trial, ms from the write's ack to the start of the first consistent read. */
  thresholdsMs: number[];
  /**
   * Per trial, ms from sending the write to the END of the first consistent read: that read's
   * replica had the write, so this can never be shorter than the injected one-way delay.
   */
  sendToSeenMs: number[];
}

export async function measurePair(
  cluster: Cluster,
  client: LeaderlessClient,
  writeRegion: string,
  readRegion: string,
  trials: number,
  tag: string,
): Promise<PairMeasurement> {
  const writeUrl = cluster.node(writeRegion).url;
  const readUrl = cluster.node(readRegion).url;
  const keys = keysCoordinatedBy(
    writeRegion,
    cluster.ids(),
    `${tag}/${writeRegion}-${readRegion}`,
    trials + 1,
  );
  // Warm the connections through both proxies.
  await warmUp('warm-up write', () => client.put(writeUrl, keys[0]!, 'w', 1));
  await warmUp('warm-up read', () => client.get(readUrl, keys[0]!, 1));
  const thresholdsMs: number[] = [];
  const sendToSeenMs: number[] = [];
  for (let i = 0; i < trials; i++) {
    const key = keys[i + 1]!;
    const value = `v${i}`;
    await sleep(TRIAL_GAP_MS);
    const sentAt = performance.now();
    await client.put(writeUrl, key, value, 1);
    const ackAt = performance.now();
    for (;;) {
      const startedAt = performance.now() - ackAt;
      const read = await client.get(readUrl, key, 1);
      if (read.values.includes(value)) {
        thresholdsMs.push(startedAt);
        sendToSeenMs.push(performance.now() - sentAt);
        break;
      }
      if (startedAt > VISIBILITY_WAIT_MS)
        throw new Error(`${key} not visible in ${readRegion} after ${VISIBILITY_WAIT_MS} ms`);
      await sleep(POLL_GAP_MS);
    }
  }
  return { writeRegion, readRegion, thresholdsMs, sendToSeenMs };
}

/**
 * k-staleness on real processes: `versions` writes of one fresh key through writeRegion, sent
 * gapMs apart (not waiting for each other's acks), then, once all are acknowledged, one R = 1 read
 * in readRegion. Returns per trial how many versions behind the last write that read was
 * (versions = it saw none). Values are `v1`, `v2`, ...; siblings count by their newest.
 */
export async function measureVersionsBehind(
  cluster: Cluster,
  client: LeaderlessClient,
  writeRegion: string,
  readRegion: string,
  versions: number,
  gapMs: number,
  trials: number,
  tag: string,
  /** Pause before each trial; every trial has a key of its own, so this only keeps them apart. */
  trialGapMs = TRIAL_GAP_MS,
): Promise<number[]> {
  const writeUrl = cluster.node(writeRegion).url;
  const readUrl = cluster.node(readRegion).url;
  const keys = keysCoordinatedBy(
    writeRegion,
    cluster.ids(),
    `${tag}/k/${writeRegion}-${readRegion}`,
    trials + 1,
  );
  await warmUp('warm-up write', () => client.put(writeUrl, keys[0]!, 'w', 1));
  await warmUp('warm-up read', () => client.get(readUrl, keys[0]!, 1));
  const behind: number[] = [];
  for (let i = 0; i < trials; i++) {
    const key = keys[i + 1]!;
    await sleep(trialGapMs);
    const writes: Promise<number>[] = [];
    for (let v = 1; v <= versions; v++) {
      if (v > 1) await sleep(gapMs);
      writes.push(client.put(writeUrl, key, `v${v}`, 1));
    }
    await Promise.all(writes);
    const read = await client.get(readUrl, key, 1);
    const newest = Math.max(0, ...read.values.map((x) => Number(x.slice(1)) || 0));
    behind.push(versions - newest);
  }
  return behind;
}

/**
 * The WARS model of one (write region, read region) placement, one replica per region. The
 * coordinator's own replica is the local path (W + A = a local write's latency, R + S = a local
 * read's); every other replica adds the injected one-way delay plus a remote hop's overhead.
 */
export function placementModel(
  matrix: LatencyMatrix,
  regions: string[],
  writeRegion: string,
  readRegion: string,
  /** null: the injected delays alone (the local path is instantaneous). */
  o: Overheads | null,
): ReplicaLatencies[] {
  const empirical = (samplesMs: number[]): Distribution => ({
    kind: 'empirical',
    samplesMs: samplesMs.map((x) => x),
  });
  const half = (samplesMs: number[]) => empirical(samplesMs.map((x) => x / 2));
  const path = (from: string, to: string, local: Distribution, hop: Distribution): Distribution => {
    if (from === to) return local;
    const d = linkDelay(matrix, from, to);
    return sum(linkDistribution(d), hop);
  };
  const zero = constant(0);
  const wLocal = o ? half(o.localWriteMs) : zero;
  const rLocal = o ? half(o.localReadMs) : zero;
  const wHop = o ? empirical(o.remoteWriteHopMs) : zero;
  const rHop = o ? empirical(o.remoteReadHopMs) : zero;
  return regions.map((replica) => ({
    w: path(writeRegion, replica, wLocal, wHop),
    a: path(replica, writeRegion, wLocal, wHop),
    r: path(readRegion, replica, rLocal, rHop),
    s: path(replica, readRegion, rLocal, rHop),
  }));
}

export const leaderlessVisibility: Experiment = {
  name: 'leaderless-visibility',
  description:
    'Leaderless store (replication service, N=3, R=W=1) on real processes with injected region latency: measured t-visibility vs the WARS prediction',
  async run(options: ResolvedOptions) {
    const regions = options.regions;
    if (regions.length < 2) throw new ExperimentUsageError('needs at least 2 regions');
    const trials = options.quick ? TRIALS_PER_PAIR_QUICK : TRIALS_PER_PAIR;
    const m = options.matrix;
    const writeRegion = regions[0]!;
    const pairs = regions.slice(1).map((readRegion) => [writeRegion, readRegion] as const);
    options.progress(0, `starting ${regions.length} replication nodes (${regions.join(', ')})`);
    const cluster = await startLeaderlessCluster(regions, options.seed);
    const client = new LeaderlessClient();
    const measured: PairMeasurement[] = [];
    const overhead = await measureOn(cluster, client, async () => {
      options.progress(0.05, 'calibrating the per-hop overhead (no injected delay)');
      const overhead = await calibrate(cluster, client, options.quick ? 8 : CALIBRATION_SAMPLES);
      const network = cluster.proxies();
      for (const from of regions)
        for (const to of regions) {
          if (from === to) continue;
          const d = linkDelay(m, from, to);
          applyLink(network, from, to, d);
        }
      for (const [k, [w, r]] of pairs.entries()) {
        options.progress(0.1 + (0.8 * k) / pairs.length, `write in ${w}, read in ${r}: ${trials} trials`);
        measured.push(await measurePair(cluster, client, w, r, trials, `seed${options.seed}`));
      }
      return overhead;
    });

    options.progress(0.92, 'WARS prediction for the same placements');
    const random = new SeededRandom(options.seed);
    const model = (p: PairMeasurement, o: Overheads | null): WarsResult =>
      simulateWars(
        {
          n: regions.length,
          r: 1,
          w: 1,
          trials: options.quick ? MODEL_TRIALS / 10 : MODEL_TRIALS,
          profile: {
            name: 'placement',
            description: '',
            w: constant(0),
            a: constant(0),
            r: constant(0),
            s: constant(0),
          },
          replicas: placementModel(m, regions, p.writeRegion, p.readRegion, o),
        },
        random.fork(),
      );
    // The prediction from the injected distributions alone, and one with the service's measured
    // overheads added to every hop.
    const predicted = measured.map((p) => model(p, null));
    const predictedWithOverhead = measured.map((p) => model(p, overhead));

    const report = new Report(
      options.out,
      `Leaderless t-visibility: measured vs WARS prediction (${m.name} matrix)`,
    );
    const p50 = (xs: number[]) => fmtMs(summarize(xs).p50Ms);
    report.paragraph(
      `The replication service in leaderless mode, one node per region (${regions.join(', ')}), N = ${regions.length}, ` +
        'R = W = 1, every node-to-node path delayed through the fault proxy. A trial writes a fresh key in ' +
        `${writeRegion} and polls the other region with R = 1 reads from the moment the write is acknowledged; ` +
        `the first consistent read's start is the trial's t-visibility. ${trials} trials per pair, seed ${options.seed}. ` +
        "The model gets the injected delays plus the service's own overheads, measured on the same cluster before " +
        `any delay was injected (p50: local write ${p50(overhead.localWriteMs)} ms, local read ${p50(overhead.localReadMs)} ms, ` +
        `remote write hop ${p50(overhead.remoteWriteHopMs)} ms, remote read hop ${p50(overhead.remoteReadHopMs)} ms). ` +
        'The nodes keep their journals in memory (no --data-dir), so no fsync is in the path.',
    );
    const rows: (string | number)[][] = [];
    const series = [];
    const diff = (ours: number, pred: number) =>
      pred > 0 ? `${(((ours - pred) / pred) * 100).toFixed(0)}%` : 'n/a';
    for (const [k, p] of measured.entries()) {
      const sorted = Float64Array.from(p.thresholdsMs).sort();
      const pStaleMeasured = p.thresholdsMs.filter((t) => t > 0).length / p.thresholdsMs.length;
      for (const [label, res] of [
        ['injected delays only', predicted[k]!],
        ['+ measured overheads', predictedWithOverhead[k]!],
      ] as const) {
        const cells: string[] = [];
        for (const q of COMPARED_QUANTILES) {
          const ours = percentile(sorted, q, 0).value;
          const pred = percentile(res.thresholdsMs, q, 0).value;
          cells.push(fmtMs(ours), fmtMs(pred), diff(ours, pred));
        }
        const pStalePredicted = 1 - pConsistent(res, 0).value;
        rows.push([
          `${p.writeRegion} → ${p.readRegion}`,
          label,
          fmtPct(pStaleMeasured, 0),
          fmtPct(pStalePredicted, 1),
          ...cells,
        ]);
      }
      const measuredCurve = [...p.thresholdsMs]
        .sort((a, b) => a - b)
        .map((t, i, all) => ({ x: t, y: (i + 1) / all.length }));
      const maxT = Math.max(...p.thresholdsMs) * 1.2;
      const grid = Array.from({ length: 121 }, (_, i) => (maxT * i) / 120);
      series.push(
        {
          name: `measured ${p.writeRegion}→${p.readRegion}`,
          points: [{ x: 0, y: 1 - pStaleMeasured }, ...measuredCurve],
        },
        {
          name: `predicted ${p.writeRegion}→${p.readRegion} (injected delays)`,
          dashed: true,
          points: tVisibilityCurve(predicted[k]!, grid).map(({ tMs, p }) => ({ x: tMs, y: p })),
        },
      );
    }
    report.table(
      [
        'write → read',
        'model',
        'stale at t=0 measured',
        'stale at t=0 model',
        'p50 t measured',
        'p50 t model',
        'p50 diff',
        'p90 t measured',
        'p90 t model',
        'p90 diff',
      ],
      rows,
    );
    report.paragraph(
      `Only the median and 90th percentile are compared: ${trials} trials cannot pin down a 99.9th percentile. ` +
        "The machine's load average is printed below: on a shared 2-core machine, every hop also waits for a " +
        'CPU, which the injected-delay model does not know about. ' +
        `The measured t includes up to one poll gap (${POLL_GAP_MS} ms plus the read itself), so it runs a little late.`,
    );
    await report.plot(
      'visibility.svg',
      linePlot({
        title: 'P(read in the other region sees the write) t ms after the ack',
        xLabel: 't after the write ack (ms)',
        yLabel: 'P(consistent)',
        series,
        yMax: 1,
      }),
      'measured vs predicted t-visibility',
    );
    report.paragraph(machineNote());
    options.progress(1, 'done');
    const reportPath = await report.write();
    return { name: 'leaderless-visibility', reportPath, files: report.files, markdown: report.markdown() };
  },
};
