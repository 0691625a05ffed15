// Experiment 4 on real processes: Cassandra's LOCAL_QUORUM vs EACH_QUORUM vs QUORUM with the
// replication service in leaderless mode, `replicasPerRegion` nodes in each region tagged with
// their datacenter (--dcs), N = every node, every node-to-node path delayed through testkit's
// fault proxy by the region matrix (the matrix's intra-region delay inside a region).
//
// A trial writes a fresh key through the first node of the write region at the write level;
// from the moment the client holds the ack, a reader in every region polls its own region's
// first node at the read level until the value shows. Per (levels, read region): the write's
// latency, the first read's latency, whether that first read (started right after the ack) was
// stale, and the trial's t-visibility threshold (start of the first read that saw it). Beside
// it: the WARS model of the same layout (src/core/quorum-levels.ts) fed the injected delays.
import { SeededRandom } from '@ddia/common';
import { constant } from '../core/distributions.js';
import { type LatencyMatrix, linkDelay } from '../core/latency-matrix.js';
import { type ReadLevel, simulateLevels, type WriteLevel } from '../core/quorum-levels.js';
import { summarize } from '../core/stats.js';
import { pConsistent, percentile, type WarsResult } from '../core/wars.js';
import { fmtMs, fmtPct, machineNote, Report } from '../report/report.js';
import { barChart } from '../report/svg-plot.js';
import { applyLink } from './apply-link.js';
import { LeaderlessClient, warmUp } from './leaderless-visibility.js';
import { measureOn, sleep, startReplicationCluster } from './replication-cluster.js';
import { type Experiment, ExperimentUsageError, type ResolvedOptions } from './types.js';

export const MEASURED_REPLICAS_PER_REGION = 2;
export const MEASURED_TRIALS = 20;
export const MEASURED_TRIALS_QUICK = 5;
const MODEL_TRIALS = 50_000;
/** Gap between polling reads of one reader (each read asks every replica). */
const POLL_GAP_MS = 4;
/** Pause between trials so the previous trial's messages have drained (> the longest RTT). */
const TRIAL_GAP_MS = 400;
const VISIBILITY_WAIT_MS = 5_000;

/** The level pairs the issue names, with ONE as the baseline. */
export const MEASURED_LEVEL_PAIRS: readonly [WriteLevel, ReadLevel][] = [
  ['ONE', 'ONE'],
  ['LOCAL_QUORUM', 'LOCAL_QUORUM'],
  ['QUORUM', 'QUORUM'],
  ['EACH_QUORUM', 'LOCAL_QUORUM'],
];

/** Node ids `us1, us2, eu1, ...` and each one's region. */
export function regionNodes(regions: readonly string[], replicasPerRegion: number): Map<string, string> {
  return new Map(
    regions.flatMap((region) =>
      Array.from({ length: replicasPerRegion }, (_, i) => [`${region}${i + 1}`, region] as const),
    ),
  );
}

export interface LevelSample {
  writeLevel: WriteLevel;
  readLevel: ReadLevel;
  readRegion: string;
  writeMs: number[];
  /** Latency of the first read of each trial (started right after the ack). */
  firstReadMs: number[];
  /** Per trial: the first read missed the write. */
  firstReadStale: boolean[];
  /** Per trial: ms from the ack to the start of the first read that saw the write. */
  thresholdsMs: number[];
}

/** Starts the cluster: one replication node per (region, i), datacenters from the regions. */
export async function startDatacenterCluster(
  matrix: LatencyMatrix,
  regions: readonly string[],
  replicasPerRegion: number,
  seed: number,
) {
  const regionOf = regionNodes(regions, replicasPerRegion);
  const ids = [...regionOf.keys()];
  const dcs = ids.map((id) => `${id}=${regionOf.get(id)}`).join(',');
  const cluster = await startReplicationCluster(
    ids,
    [
      '--mode',
      'leaderless',
      '--n',
      String(ids.length),
      // N = every node: all are home replicas, so a sloppy quorum has no stand-in to borrow.
      '--dcs',
      dcs,
    ],
    seed,
  );
  const network = cluster.proxies();
  for (const from of ids)
    for (const to of ids)
      if (from !== to)
        applyLink(network, from, to, linkDelay(matrix, regionOf.get(from)!, regionOf.get(to)!));
  return { cluster, regionOf };
}

/** Runs `trials` trials of one level pair, the write in writeRegion, readers in every region. */
export async function measureLevels(
  cluster: Awaited<ReturnType<typeof startDatacenterCluster>>['cluster'],
  client: LeaderlessClient,
  regions: readonly string[],
  writeRegion: string,
  [writeLevel, readLevel]: readonly [WriteLevel, ReadLevel],
  trials: number,
  tag: string,
): Promise<LevelSample[]> {
  const w = writeLevel.toLowerCase();
  const r = readLevel.toLowerCase();
  const writeUrl = cluster.node(`${writeRegion}1`).url;
  const samples = regions.map((readRegion) => ({
    writeLevel,
    readLevel,
    readRegion,
    writeMs: [] as number[],
    firstReadMs: [] as number[],
    firstReadStale: [] as boolean[],
    thresholdsMs: [] as number[],
  }));
  await warmUp('warm-up write', () => client.put(writeUrl, `${tag}/warm`, 'w', w));
  for (const region of regions)
    await warmUp('warm-up read', () => client.get(cluster.node(`${region}1`).url, `${tag}/warm`, r));
  for (let i = 0; i < trials; i++) {
    const key = `${tag}/${w}-${r}/${i}`;
    const value = `v${i}`;
    await sleep(TRIAL_GAP_MS);
    const writeMs = await client.put(writeUrl, key, value, w);
    const ackAt = performance.now();
    await Promise.all(
      samples.map(async (sample) => {
        const url = cluster.node(`${sample.readRegion}1`).url;
        sample.writeMs.push(writeMs);
        for (let poll = 0; ; poll++) {
          const startedAt = performance.now() - ackAt;
          const read = await client.get(url, key, r);
          const seen = read.values.includes(value);
          if (poll === 0) {
            sample.firstReadMs.push(read.ms);
            sample.firstReadStale.push(!seen);
          }
          if (seen) {
            sample.thresholdsMs.push(poll === 0 ? 0 : startedAt);
            return;
          }
          if (startedAt > VISIBILITY_WAIT_MS)
            throw new Error(`${key} not visible in ${sample.readRegion} after ${VISIBILITY_WAIT_MS} ms`);
          await sleep(POLL_GAP_MS);
        }
      }),
    );
  }
  return samples;
}

export const quorumLevelsMeasured: Experiment = {
  name: 'quorum-levels-measured',
  description:
    'Experiment 4 on real processes: LOCAL_QUORUM vs EACH_QUORUM vs QUORUM (replication service, --dcs, 2 nodes per region): latency per region and stale reads, beside the WARS model',
  async run(options: ResolvedOptions) {
    const regions = options.regions;
    if (regions.length < 2) throw new ExperimentUsageError('needs at least 2 regions');
    const m = options.matrix;
    const rf = MEASURED_REPLICAS_PER_REGION;
    const trials = options.quick ? MEASURED_TRIALS_QUICK : MEASURED_TRIALS;
    const writeRegion = regions[0]!;
    options.progress(0, `starting ${regions.length * rf} replication nodes (${rf} per region)`);
    const { cluster } = await startDatacenterCluster(m, regions, rf, options.seed);
    const client = new LeaderlessClient();
    const measured: LevelSample[] = [];
    await measureOn(cluster, client, async () => {
      for (const [k, pair] of MEASURED_LEVEL_PAIRS.entries()) {
        options.progress(
          0.05 + (0.85 * k) / MEASURED_LEVEL_PAIRS.length,
          `${pair.join('/')}: ${trials} trials`,
        );
        measured.push(
          ...(await measureLevels(
            cluster,
            client,
            regions,
            writeRegion,
            pair,
            trials,
            `seed${options.seed}`,
          )),
        );
      }
    });

    options.progress(0.92, 'WARS model of the same layout');
    const random = new SeededRandom(options.seed);
    const model = (s: LevelSample): WarsResult =>
      simulateLevels(
        {
          matrix: m,
          replicasPerRegion: rf,
          perHop: constant(0),
          writeRegion,
          readRegion: s.readRegion,
          writeLevel: s.writeLevel,
          readLevel: s.readLevel,
          trials: options.quick ? MODEL_TRIALS / 10 : MODEL_TRIALS,
        },
        random.fork(),
      );
    const report = new Report(
      options.out,
      `Consistency levels on real processes (${regions.join(', ')}, ${rf} nodes each, ${m.name} matrix)`,
    );
    report.paragraph(
      `The replication service in leaderless mode, ${rf} nodes in each region tagged with it (--dcs), N = ${regions.length * rf}, ` +
        'every node-to-node path delayed through the fault proxy (inside a region by the matrix’s intra-region delay). ' +
        `A trial writes a fresh key through ${writeRegion}1 at the write level and, from the ack, a reader in each region polls ` +
        `its region's first node at the read level until the value shows. ${trials} trials per level pair, seed ${options.seed}. ` +
        'Model: the WARS rule per level (src/core/quorum-levels.ts) over the same layout and injected delays, nothing else.',
    );
    const models = new Map(measured.map((s) => [s, model(s)]));
    const rows: (string | number)[][] = [];
    for (const s of measured) {
      const res = models.get(s)!;
      const pct = (xs: number[], q: number) => percentile(Float64Array.from(xs).sort(), q, 0).value;
      const stale = s.firstReadStale.filter(Boolean).length;
      rows.push([
        s.writeLevel,
        s.readLevel,
        s.readRegion,
        fmtMs(summarize(s.writeMs).p50Ms),
        fmtMs(percentile(res.writeLatenciesMs, 0.5).value),
        fmtMs(summarize(s.firstReadMs).p50Ms),
        fmtMs(percentile(res.readLatenciesMs, 0.5).value),
        `${stale}/${s.firstReadStale.length}`,
        fmtPct(1 - pConsistent(res, 0).value, 1),
        fmtMs(pct(s.thresholdsMs, 0.5)),
        fmtMs(Math.max(...s.thresholdsMs)),
        fmtMs(percentile(res.thresholdsMs, 0.999, 0).value),
      ]);
    }
    report.table(
      [
        'write level',
        'read level',
        'read in',
        'write p50',
        'model',
        'read p50',
        'model',
        'first read stale',
        'model P(stale t=0)',
        't visible p50',
        't visible max',
        'model t 99.9%',
      ],
      rows,
    );
    report.paragraph(
      'Writes are timed from the client in the write region; reads from the client in the read region. ' +
        'Strict combinations (QUORUM/QUORUM, EACH_QUORUM/LOCAL_QUORUM: the read set meets the write set) must never ' +
        'show a stale read; LOCAL_QUORUM/LOCAL_QUORUM is stale in the other regions for about the one-way delay. ' +
        "The measured latencies carry the service's own time and this machine's scheduling, which the model does not know.",
    );
    const writeRows = measured.filter((s) => s.readRegion === writeRegion);
    await report.plot(
      'write-latency-measured.svg',
      barChart({
        title: `Write latency p50 from ${writeRegion}: measured vs model`,
        yLabel: 'ms',
        categories: writeRows.map((s) => `${s.writeLevel}/${s.readLevel}`),
        series: [
          { name: 'measured', values: writeRows.map((s) => summarize(s.writeMs).p50Ms) },
          {
            name: 'model (injected delays)',
            values: writeRows.map((s) => percentile(models.get(s)!.writeLatenciesMs, 0.5).value),
          },
        ],
        width: 760,
      }),
      'write latency by level, measured and modelled',
    );
    report.paragraph(machineNote());
    options.progress(1, 'done');
    const reportPath = await report.write();
    return { name: 'quorum-levels-measured', reportPath, files: report.files, markdown: report.markdown() };
  },
};
