// pnpm --filter @ddia/monitoring bench [--quick]
// Ingest rate and bytes per sample of our TSDB (disk, WAL synced every second) on S series x N
// samples at a 15 s interval, two data sets (noisy and steady, see DATASETS), beside Gorilla's
// 1.37 B/sample: the block's chunks, the whole block file, and the whole data dir, separately. When promtool is installed, the same
// samples are backfilled into Prometheus's TSDB (`promtool tsdb create-blocks-from
// openmetrics`) and its chunk bytes per sample reported too; without it, ours only.
// Then the scrape bench (bench/scrape.ts): ours and a real Prometheus scrape the same targets
// at the same interval, CPU/RSS and the latency of the same PromQL compared.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '@ddia/common';
import { labelsFromRecord } from '../src/core/labels.js';
import { alignedScrapeTime } from '../src/core/scrape-samples.js';
import { DiskTsdb } from '../src/storage/disk-tsdb.js';
import { runScrapeBench } from './scrape.js';

const quick = process.argv.includes('--quick');
const SERIES = quick ? 1000 : 10_000;
const SAMPLES = 240; // two chunks of 120 per series: the first is cut into a block
const STEP_MS = 15_000;

function which(cmd: string): string | null {
  try {
    return execFileSync('which', [cmd], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? await dirBytes(p) : (await stat(p)).size;
  }
  return total;
}

/**
 * Two data sets, because bytes per sample is a property of the data as much as of the encoder:
 * - noisy: every value changes at every sample (counters by 0-19, gauges by a random step with
 *   one decimal, whose binary mantissa is a full 52 bits), 1 s jitter on a third of the series;
 * - steady: a modelled scrape mix (not recorded data): a scrape loop's 0-2 ms of jitter, stored
 *   as both scrapers store it (aligned to the interval within 2 ms: Prometheus since 2.41, ours
 *   through alignedScrapeTime), 40 % constant series (info, limits, up), 30 % counters that
 *   move on one scrape in five, 15 % histogram-like buckets that move on one in ten, 15 % float
 *   gauges that change every scrape (heap, event-loop lag).
 */
const DATASETS = ['noisy', 'steady'] as const;
type Dataset = (typeof DATASETS)[number];
interface Sample {
  labels: ReturnType<typeof labelsFromRecord>;
  t: number;
  value: number;
}

function generate(dataset: Dataset): Sample[][] {
  const random = new SeededRandom(7);
  const rand = () => random.next();
  const labels = Array.from({ length: SERIES }, (_, i) =>
    labelsFromRecord({
      __name__: i % 2 === 0 ? 'bench_requests_total' : 'bench_temperature',
      instance: `node-${i % 100}`,
      series: String(i),
    }),
  );
  const kind = (i: number) =>
    i % 20 < 8 ? 'constant' : i % 20 < 14 ? 'counter' : i % 20 < 17 ? 'bucket' : 'float';
  const state = labels.map((_, i) =>
    dataset === 'noisy'
      ? i % 2 === 0
        ? Math.floor(rand() * 1000)
        : 20 + Math.floor(rand() * 100) / 10
      : kind(i) === 'float'
        ? rand() * 1e8
        : Math.floor(rand() * 1000),
  );
  const next = (i: number, v: number): number => {
    if (dataset === 'noisy')
      return i % 2 === 0 ? v + Math.floor(rand() * 20) : Math.round((v + (rand() - 0.5)) * 10) / 10;
    switch (kind(i)) {
      case 'constant':
        return v;
      case 'counter':
        return rand() < 0.2 ? v + 1 + Math.floor(rand() * 5) : v;
      case 'bucket':
        return rand() < 0.1 ? v + 1 : v;
      default:
        return v + (rand() - 0.5) * 1e5;
    }
  };
  const previousT: (number | null)[] = labels.map(() => null);
  // scrapes[k] = the k-th scrape of every series
  return Array.from({ length: SAMPLES }, (_, k) =>
    labels.map((l, i) => {
      let t = start + k * STEP_MS;
      if (dataset === 'noisy') t += i % 3 === 0 ? Math.floor(rand() * 2000) - 1000 : 0;
      else t = alignedScrapeTime(previousT[i]!, STEP_MS, t + Math.floor(rand() * 3));
      previousT[i] = t;
      state[i] = next(i, state[i]!);
      return { labels: l, t, value: state[i]! };
    }),
  );
}

const start = Math.floor(Date.now() / 60_000) * 60_000 - SAMPLES * STEP_MS - 10 * 60_000;
const total = SERIES * SAMPLES;
/** Storage rounds; ours and promtool alternate which goes first. */
const ROUNDS = quick ? 1 : 3;
/**
 * A short block range so that the bench's hour is cut into a block (the head keeps the newest
 * half range, as in the service): the block's bytes are then measured, not only the head's.
 */
const BENCH_BLOCK_RANGE_MS = 30 * 60_000;
const promtool = which('promtool');
const load = () => loadavg().map((x) => Number(x.toFixed(2)));
const startedAt = new Date();
const loadAtStart = load();
console.log(
  `machine: ${cpus().length} cores, load average ${loadAtStart.join(' ')} at the start (shared machine)`,
);

interface OursRound {
  samplesPerS: number;
  /** Gorilla chunk bytes per sample over everything (blocks and head). */
  chunkBPerSample: number;
  /** In the block only: chunk bytes per block sample, and the whole block file (index, CRC) per block sample. */
  blockSamples: number;
  blockChunkBPerSample: number;
  blockFileBPerSample: number;
  /** The WAL (holding the head's samples after the checkpoint) and the whole data dir. */
  walBytes: number;
  dirBPerSample: number;
}

/** Ours: every scrape appended to a fresh disk TSDB (WAL, fsync every 1 s), a block cut, synced. */
async function ingestOurs(dir: string, scrapes: Sample[][]): Promise<OursRound> {
  const dataDir = join(dir, 'ours');
  const tsdb = await DiskTsdb.open({ dataDir, blockRangeMs: BENCH_BLOCK_RANGE_MS });
  const t0 = performance.now();
  for (const scrape of scrapes) await tsdb.ingest(scrape);
  await tsdb.sync();
  const seconds = (performance.now() - t0) / 1000;
  await tsdb.compact(start + SAMPLES * STEP_MS);
  const stats = tsdb.db.stats();
  const block = tsdb.db.blockStats();
  await tsdb.close();
  let blockFileBytes = 0;
  for (const name of await readdir(join(dataDir, 'blocks')))
    blockFileBytes += (await stat(join(dataDir, 'blocks', name))).size;
  let walBytes = 0;
  for (const name of await readdir(dataDir))
    if (name.startsWith('wal-')) walBytes += await dirBytes(join(dataDir, name));
  return {
    samplesPerS: total / seconds,
    chunkBPerSample: stats.chunkBytes / stats.samples,
    blockSamples: block.samples,
    blockChunkBPerSample: block.chunkBytes / block.samples,
    blockFileBPerSample: blockFileBytes / block.samples,
    walBytes,
    dirBPerSample: (await dirBytes(dataDir)) / total,
  };
}

interface PromRound {
  samplesPerS: number;
  chunkBPerSample: number;
  /** Every file of the blocks promtool wrote (chunks, index, meta.json, tombstones) per sample. */
  blockBPerSample: number;
}

/** Prometheus: promtool backfills the same samples from OpenMetrics text into its TSDB blocks. */
async function ingestPromtool(tool: string, dir: string, text: string): Promise<PromRound> {
  await writeFile(join(dir, 'data.om'), text);
  const p0 = performance.now();
  execFileSync(tool, ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'data.om'), join(dir, 'prom')], {
    stdio: 'pipe',
  });
  const seconds = (performance.now() - p0) / 1000;
  let chunkBytes = 0;
  for (const block of await readdir(join(dir, 'prom'))) {
    chunkBytes += await dirBytes(join(dir, 'prom', block, 'chunks')).catch(() => 0);
  }
  return {
    samplesPerS: total / seconds,
    chunkBPerSample: chunkBytes / total,
    blockBPerSample: (await dirBytes(join(dir, 'prom'))) / total,
  };
}

function openMetrics(scrapes: Sample[][]): string {
  const lines: string[] = [];
  const first = scrapes[0]!;
  for (const name of ['bench_requests_total', 'bench_temperature']) {
    lines.push(`# TYPE ${name.replace(/_total$/, '')} ${name.endsWith('_total') ? 'counter' : 'gauge'}`);
    first.forEach(({ labels: l }, i) => {
      if (l[0]![1] !== name) return;
      const text = `${name}{instance="${l[1]![1]}",series="${l[2]![1]}"}`;
      for (const scrape of scrapes)
        lines.push(`${text} ${scrape[i]!.value} ${(scrape[i]!.t / 1000).toFixed(3)}`);
    });
  }
  lines.push('# EOF', '');
  return lines.join('\n');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[]) =>
  `${Math.round(Math.min(...xs)).toLocaleString('en')}-${Math.round(Math.max(...xs)).toLocaleString('en')}`;
const storage: Record<string, { ours: OursRound[]; prometheus: PromRound[] }> = {};
console.log(
  `data: ${SERIES} series x ${SAMPLES} samples = ${total} samples per data set, 15 s interval, ${ROUNDS} round(s)${quick ? ' (--quick)' : ''}`,
);
for (const dataset of DATASETS) {
  const scrapes = generate(dataset);
  const text = promtool ? openMetrics(scrapes) : '';
  const oursRounds: OursRound[] = [];
  const promRounds: PromRound[] = [];
  // The noisy set is the ingest comparison (3 rounds); the steady one is measured once for bytes.
  const rounds = dataset === 'noisy' ? ROUNDS : 1;
  for (let round = 0; round < rounds; round++) {
    const sides = promtool ? ['ours', 'prometheus'] : ['ours'];
    if (round % 2 === 1) sides.reverse();
    for (const side of sides) {
      const dir = await mkdtemp(join(tmpdir(), 'monitoring-bench-'));
      try {
        if (side === 'ours') oursRounds.push(await ingestOurs(dir, scrapes));
        else promRounds.push(await ingestPromtool(promtool!, dir, text));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
  storage[dataset] = { ours: oursRounds, prometheus: promRounds };
  const o = oursRounds[0]!;
  const oursRate = oursRounds.map((r) => r.samplesPerS);
  console.log(
    `[${dataset}] ours: ingest ${Math.round(median(oursRate)).toLocaleString('en')} samples/s median (${spread(oursRate)}; WAL, fsync every 1 s); ` +
      `block (${o.blockSamples} samples): chunks ${o.blockChunkBPerSample.toFixed(2)} B/sample, whole block file ${o.blockFileBPerSample.toFixed(2)} B/sample; ` +
      `all chunks (block + head) ${o.chunkBPerSample.toFixed(2)} B/sample; WAL ${(o.walBytes / 2 ** 20).toFixed(1)} MiB; ` +
      `data dir (block + WAL of the head) ${o.dirBPerSample.toFixed(2)} B/sample (Gorilla paper: 1.37)`,
  );
  if (promtool) {
    const p = promRounds[0]!;
    const promRate = promRounds.map((r) => r.samplesPerS);
    console.log(
      `[${dataset}] prometheus (promtool backfill, not scrape ingest): ${Math.round(median(promRate)).toLocaleString('en')} samples/s median (${spread(promRate)}) ` +
        `incl. parsing the OpenMetrics text; chunks ${p.chunkBPerSample.toFixed(2)} B/sample, whole blocks ${p.blockBPerSample.toFixed(2)} B/sample`,
    );
    console.log(
      `[${dataset}] ingest ratio ours/prometheus: ${(median(oursRate) / median(promRate)).toFixed(2)}x (medians)`,
    );
  } else {
    console.log('prometheus: promtool not installed, ours only (Debian: apt-get install prometheus)');
  }
}
console.log(`bench process RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);

console.log('');
const scrape = await runScrapeBench(
  quick
    ? { targets: 2, seriesPerTarget: 500, intervalS: 1, windowS: 10, queryRuns: 10 }
    : { targets: 10, seriesPerTarget: 1000, intervalS: 1, windowS: 60, queryRuns: 30 },
);
const loadAtEnd = load();
console.log(`load average ${loadAtEnd.join(' ')} at the end`);

const resultsDir = join(import.meta.dirname, 'results');
await mkdir(resultsDir, { recursive: true });
const file = join(
  resultsDir,
  `run-${startedAt.toISOString().replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`,
);
await writeFile(
  file,
  `${JSON.stringify(
    {
      startedAt: startedAt.toISOString(),
      machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
      load: { start: loadAtStart, end: loadAtEnd },
      storage: {
        series: SERIES,
        samples: SAMPLES,
        stepMs: STEP_MS,
        blockRangeMs: BENCH_BLOCK_RANGE_MS,
        datasets: storage,
      },
      scrape: { options: scrape.options, sides: scrape.scrape, queries: scrape.queries },
    },
    null,
    2,
  )}\n`,
);
console.log(`raw results: ${file}`);
