// pnpm --filter @ddia/monitoring bench [--quick]
// Ingest rate and bytes per sample of our TSDB (disk, WAL synced every second) on S series x N
// samples at a 15 s interval (half counters, half gauges with one decimal, 1 s jitter on a
// third of the series), beside Gorilla's 1.37 B/sample. When promtool is installed, the same
// samples are backfilled into Prometheus's TSDB (`promtool tsdb create-blocks-from
// openmetrics`) and its chunk bytes per sample reported too; without it, ours only.
// Then the scrape bench (bench/scrape.ts): ours and a real Prometheus scrape the same targets
// at the same interval, CPU/RSS and the latency of the same PromQL compared.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { labelsFromRecord } from '../src/core/labels.js';
import { DiskTsdb } from '../src/storage/disk-tsdb.js';
import { runScrapeBench } from './scrape.js';

const quick = process.argv.includes('--quick');
const SERIES = quick ? 1000 : 10_000;
const SAMPLES = quick ? 120 : 240;
const STEP_MS = 15_000;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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

const rand = mulberry32(7);
const start = Math.floor(Date.now() / 60_000) * 60_000 - SAMPLES * STEP_MS - 10 * 60_000;
const labels = Array.from({ length: SERIES }, (_, i) =>
  labelsFromRecord({
    __name__: i % 2 === 0 ? 'bench_requests_total' : 'bench_temperature',
    instance: `node-${i % 100}`,
    series: String(i),
  }),
);
const state = labels.map((_, i) =>
  i % 2 === 0 ? Math.floor(rand() * 1000) : 20 + Math.floor(rand() * 100) / 10,
);
// scrapes[k] = the k-th scrape of every series
const scrapes = Array.from({ length: SAMPLES }, (_, k) =>
  labels.map((l, i) => {
    const jitter = i % 3 === 0 ? Math.floor(rand() * 2000) - 1000 : 0;
    state[i] =
      i % 2 === 0 ? state[i]! + Math.floor(rand() * 20) : Math.round((state[i]! + (rand() - 0.5)) * 10) / 10;
    return { labels: l, t: start + k * STEP_MS + jitter, value: state[i]! };
  }),
);
const total = SERIES * SAMPLES;
/** Storage rounds; ours and promtool alternate which goes first. */
const ROUNDS = quick ? 1 : 3;
const promtool = which('promtool');
const load = () => loadavg().map((x) => Number(x.toFixed(2)));
const startedAt = new Date();
const loadAtStart = load();
console.log(
  `machine: ${cpus().length} cores, load average ${loadAtStart.join(' ')} at the start (shared machine)`,
);

/** Ours: every scrape appended to a fresh disk TSDB (WAL, fsync every 1 s), synced at the end. */
async function ingestOurs(
  dir: string,
): Promise<{ samplesPerS: number; chunkBPerSample: number; dirBPerSample: number }> {
  const tsdb = await DiskTsdb.open({ dataDir: join(dir, 'ours') });
  const t0 = performance.now();
  for (const scrape of scrapes) await tsdb.ingest(scrape);
  await tsdb.sync();
  const seconds = (performance.now() - t0) / 1000;
  const stats = tsdb.db.stats();
  await tsdb.close();
  return {
    samplesPerS: total / seconds,
    chunkBPerSample: stats.chunkBytes / stats.samples,
    dirBPerSample: (await dirBytes(join(dir, 'ours'))) / total,
  };
}

/** Prometheus: promtool backfills the same samples from OpenMetrics text into its TSDB blocks. */
async function ingestPromtool(
  tool: string,
  dir: string,
  text: string,
): Promise<{ samplesPerS: number; chunkBPerSample: number }> {
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
  return { samplesPerS: total / seconds, chunkBPerSample: chunkBytes / total };
}

function openMetrics(): string {
  const lines: string[] = [];
  for (const name of ['bench_requests_total', 'bench_temperature']) {
    lines.push(`# TYPE ${name.replace(/_total$/, '')} ${name.endsWith('_total') ? 'counter' : 'gauge'}`);
    labels.forEach((l, i) => {
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
const oursRounds: Awaited<ReturnType<typeof ingestOurs>>[] = [];
const promRounds: Awaited<ReturnType<typeof ingestPromtool>>[] = [];
const text = promtool ? openMetrics() : '';
console.log(
  `data: ${SERIES} series x ${SAMPLES} samples = ${total} samples, 15 s interval, ${ROUNDS} round(s)${quick ? ' (--quick)' : ''}`,
);
for (let round = 0; round < ROUNDS; round++) {
  const sides = promtool ? ['ours', 'prometheus'] : ['ours'];
  if (round % 2 === 1) sides.reverse();
  for (const side of sides) {
    const dir = await mkdtemp(join(tmpdir(), 'monitoring-bench-'));
    try {
      if (side === 'ours') oursRounds.push(await ingestOurs(dir));
      else promRounds.push(await ingestPromtool(promtool!, dir, text));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
const oursRate = oursRounds.map((r) => r.samplesPerS);
console.log(
  `ours: ingest ${Math.round(median(oursRate)).toLocaleString('en')} samples/s median (${spread(oursRate)}; WAL, fsync every 1 s), ` +
    `chunks ${oursRounds[0]!.chunkBPerSample.toFixed(2)} B/sample (Gorilla paper: 1.37), ` +
    `data dir (WAL, head not yet cut to a block) ${oursRounds[0]!.dirBPerSample.toFixed(2)} B/sample, ` +
    `bench process RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
);
if (promtool) {
  const promRate = promRounds.map((r) => r.samplesPerS);
  console.log(
    `prometheus (promtool backfill, not scrape ingest): ${Math.round(median(promRate)).toLocaleString('en')} samples/s median (${spread(promRate)}) ` +
      `incl. parsing the OpenMetrics text, chunks ${promRounds[0]!.chunkBPerSample.toFixed(2)} B/sample`,
  );
  console.log(`ingest ratio ours/prometheus: ${(median(oursRate) / median(promRate)).toFixed(2)}x (medians)`);
} else {
  console.log('prometheus: promtool not installed, ours only (Debian: apt-get install prometheus)');
}

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
        ours: oursRounds,
        prometheus: promRounds,
      },
      scrape: { options: scrape.options, sides: scrape.scrape, queries: scrape.queries },
    },
    null,
    2,
  )}\n`,
);
console.log(`raw results: ${file}`);
