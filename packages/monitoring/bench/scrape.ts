// The side-by-side scrape bench: ours (node dist/main.js) and a real Prometheus (Debian's
// `prometheus`) scrape the same synthetic targets (bench/exporter-child.ts, a third process) at
// the same interval for the same window; then the same PromQL goes to both HTTP APIs. Measured
// per process from /proc: CPU seconds during the scrape window, RSS at the end; per query:
// latency p50/p99 over repeated runs, and whether both answered with the same series.
// Without `prometheus` on the PATH it measures ours only and says so.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@ddia/testkit';

export interface ScrapeBenchOptions {
  targets: number;
  seriesPerTarget: number;
  intervalS: number;
  windowS: number;
  queryRuns: number;
}

interface Side {
  name: string;
  child: ChildProcess;
  url: string;
}

const CLOCK_TICKS_PER_S = 100;

function which(cmd: string): string | null {
  try {
    return execFileSync('which', [cmd], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** User + system CPU seconds of a process so far (/proc/<pid>/stat fields 14 and 15). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitReady(side: Side, path: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${side.url}${path}`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline || side.child.exitCode !== null) throw new Error(`${side.name} did not start`);
    await sleep(200);
  }
}

async function instant(url: string, query: string, time?: number): Promise<{ result: unknown[] }> {
  const params = new URLSearchParams({ query });
  if (time !== undefined) params.set('time', String(time));
  const res = await fetch(`${url}/api/v1/query?${params}`);
  const body = (await res.json()) as { data: { result: unknown[] } };
  return body.data;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const BENCH_QUERIES = [
  'sum(rate(bench_requests_total[30s]))',
  'sum by (instance) (rate(bench_requests_total[30s]))',
  'topk(5, bench_temperature)',
  'avg_over_time(bench_temperature[30s])',
  'histogram_quantile(0.9, sum by (le) (rate(bench_latency_seconds_bucket[30s])))',
  'count(up == 1)',
];

/** What the scrape bench measured, for bench/results/*.json. */
export interface ScrapeBenchResult {
  lines: string[];
  options: ScrapeBenchOptions;
  scrape: {
    side: string;
    samplesPerS: number;
    cpuS: number;
    cpuUsPerSample: number | null;
    rssMiB: number;
  }[];
  /** Per query and side, every run's latency (ms) in the order run; sides alternate first place. */
  queries: { query: string; series: Record<string, number>; ms: Record<string, number[]> }[];
}

export async function runScrapeBench(options: ScrapeBenchOptions): Promise<ScrapeBenchResult> {
  const out: string[] = [];
  const result: ScrapeBenchResult = { lines: out, options, scrape: [], queries: [] };
  const say = (line: string) => {
    out.push(line);
    console.log(line);
  };
  const prometheus = which('prometheus');
  const dir = await mkdtemp(join(tmpdir(), 'monitoring-scrape-bench-'));
  const children: ChildProcess[] = [];
  try {
    const exporter = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, 'exporter-child.ts'),
        String(options.targets),
        String(options.seriesPerTarget),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(exporter);
    const ports = await new Promise<number[]>((resolve, reject) => {
      let text = '';
      exporter.stdout!.on('data', (d) => {
        text += String(d);
        if (text.includes('\n')) resolve(JSON.parse(text) as number[]);
      });
      exporter.once('exit', (code) => reject(new Error(`exporter exited with ${code}`)));
    });
    const config = [
      'global:',
      `  scrape_interval: ${options.intervalS}s`,
      `  scrape_timeout: ${options.intervalS}s`,
      'scrape_configs:',
      '  - job_name: bench',
      '    static_configs:',
      `      - targets: [${ports.map((p) => `'127.0.0.1:${p}'`).join(', ')}]`,
      '',
    ].join('\n');
    await writeFile(join(dir, 'targets.yml'), config);

    const sides: Side[] = [];
    const ourPort = await freePort();
    const ours = spawn(
      process.execPath,
      [
        join(import.meta.dirname, '..', 'dist', 'main.js'),
        '--port',
        String(ourPort),
        '--data-dir',
        join(dir, 'ours'),
        '--targets',
        join(dir, 'targets.yml'),
        '--scrape-interval',
        `${options.intervalS}s`,
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    children.push(ours);
    sides.push({ name: 'ours', child: ours, url: `http://127.0.0.1:${ourPort}` });
    if (prometheus) {
      const promPort = await freePort();
      const child = spawn(
        prometheus,
        [
          `--config.file=${join(dir, 'targets.yml')}`,
          `--storage.tsdb.path=${join(dir, 'prom')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
          '--log.level=warn',
        ],
        { stdio: ['ignore', 'ignore', 'ignore'] },
      );
      children.push(child);
      sides.push({ name: 'prometheus', child, url: `http://127.0.0.1:${promPort}` });
    }
    await waitReady(sides[0]!, '/ready');
    if (sides[1]) await waitReady(sides[1], '/-/ready');
    // Both up on every target before the window opens.
    for (const side of sides) {
      const deadline = Date.now() + 30_000;
      while (((await instant(side.url, 'up == 1')).result.length ?? 0) < options.targets) {
        if (Date.now() > deadline) throw new Error(`${side.name} never scraped every target`);
        await sleep(250);
      }
    }
    const series = options.targets * options.seriesPerTarget;
    say(
      `scrape: ${options.targets} targets x ${options.seriesPerTarget} series = ${series} series, every ${options.intervalS} s, ${options.windowS} s window`,
    );
    if (!prometheus) say('prometheus: not installed, ours only (Debian: apt-get install prometheus)');

    const cpu0 = sides.map((s) => cpuSeconds(s.child.pid!));
    const start = Date.now() / 1000;
    await sleep(options.windowS * 1000);
    const end = Date.now() / 1000;
    const cpu1 = sides.map((s) => cpuSeconds(s.child.pid!));
    const rows: string[][] = [];
    for (const [i, side] of sides.entries()) {
      const samples = await instant(
        side.url,
        `sum(sum_over_time(scrape_samples_scraped[${Math.round(end - start)}s]))`,
        end,
      );
      const ingested = Number((samples.result[0] as { value: [number, string] } | undefined)?.value[1] ?? 0);
      const cpu = cpu1[i]! - cpu0[i]!;
      result.scrape.push({
        side: side.name,
        samplesPerS: ingested / (end - start),
        cpuS: cpu,
        cpuUsPerSample: ingested > 0 ? (cpu * 1e6) / ingested : null,
        rssMiB: rssMiB(side.child.pid!),
      });
      rows.push([
        side.name,
        Math.round(ingested / (end - start)).toLocaleString('en'),
        `${cpu.toFixed(2)} s (${((100 * cpu) / (end - start)).toFixed(1)}% of a core)`,
        ingested > 0 ? `${((cpu * 1e6) / ingested).toFixed(1)}` : '-',
        rssMiB(side.child.pid!).toFixed(0),
      ]);
    }
    say('');
    say('| scraper | samples/s ingested | CPU in window | CPU µs/sample | RSS MiB |');
    say('| --- | --- | --- | --- | --- |');
    for (const r of rows) say(`| ${r.join(' | ')} |`);

    say('');
    say(
      `| query (instant, ${options.queryRuns} runs each) | ours p50 / p99 ms | prometheus p50 / p99 ms | same series |`,
    );
    say('| --- | --- | --- | --- |');
    const at = end;
    for (const q of BENCH_QUERIES) {
      const times: number[][] = sides.map(() => []);
      const counts: number[] = sides.map(() => 0);
      // The two sides take turns, and which goes first alternates from run to run.
      for (let k = 0; k < options.queryRuns; k++) {
        const order = k % 2 === 0 ? sides.keys() : [...sides.keys()].reverse();
        for (const i of order) {
          const t0 = performance.now();
          counts[i] = (await instant(sides[i]!.url, q, at)).result.length;
          times[i]!.push(performance.now() - t0);
        }
      }
      result.queries.push({
        query: q,
        series: Object.fromEntries(sides.map((side, i) => [side.name, counts[i]!])),
        ms: Object.fromEntries(
          sides.map((side, i) => [side.name, times[i]!.map((t) => Number(t.toFixed(2)))]),
        ),
      });
      const cells = times.map((ts) => {
        const sorted = [...ts].sort((a, b) => a - b);
        return `${percentile(sorted, 50).toFixed(1)} / ${percentile(sorted, 99).toFixed(1)}`;
      });
      if (sides.length === 1) cells.push('-');
      const same =
        sides.length === 1
          ? '-'
          : counts[0] === counts[1]
            ? `yes (${counts[0]})`
            : `no ${counts.join(' vs ')}`;
      say(`| \`${q}\` | ${cells.join(' | ')} | ${same} |`);
    }
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await sleep(300);
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
  return result;
}
