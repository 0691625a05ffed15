// Benchmark: word count and a group-by aggregation over the same generated files, run by
//   - our engine: a coordinator and 1, 2 and 4 worker processes (one task slot each),
//   - the single-process Node baseline (bench/baseline.ts: the same job code, no engine),
//   - DuckDB (@duckdb/node-api, bench/duckdb-job.ts: the same job as SQL, every core).
// Each system runs in its own fresh processes; several rounds with the order of the systems
// reversed every other round; time (median, min..max), throughput (input MB/s), speedup, peak
// memory (the sum of VmHWM / maxRSS of the system's processes), and a digest of each output:
// every system must give the same answer as DuckDB or the bench fails.
//   pnpm --filter @ddia/batch bench [--quick] [--mb N] [--rounds N] [--workers 1,2,4]
//     [--jobs wordcount,aggregate] [--systems engine,node,duckdb]
// --systems runs only some of them (a 1 GiB run split into locked runs of under ~12 minutes);
// the answers are then checked against the DuckDB digest recorded for the same input
// (bench/results/digests.json), or not at all when DuckDB never ran on it.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { claimCpuShare } from '@ddia/testkit';
import { generateBenchData } from './generate.js';

const run = promisify(execFile);
const HERE = new URL('.', import.meta.url).pathname;
const MAIN = new URL('../dist/main.js', import.meta.url).pathname;
const RESULTS = join(HERE, 'results');
const REDUCES = 4;
const POLL_MS = 50;
const JOB_TIMEOUT_MS = 60 * 60_000;
/** USER_HZ of /proc/<pid>/stat: 100 on Linux. */
const CLOCK_TICKS = 100;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    mb: { type: 'string' },
    rounds: { type: 'string' },
    workers: { type: 'string' },
    jobs: { type: 'string', default: 'wordcount,aggregate' },
    systems: { type: 'string', default: 'engine,node,duckdb' },
    seed: { type: 'string', default: '1' },
    data: { type: 'string', default: join(tmpdir(), 'ddia-batch-bench') },
  },
});
const QUICK = values.quick === true;
const MB = Number(values.mb ?? (QUICK ? 8 : 1024));
const ROUNDS = Number(values.rounds ?? (QUICK ? 1 : 3));
const WORKERS = (values.workers ?? (QUICK ? '1,2' : '1,2,4')).split(',').map(Number);
const SEED = Number(values.seed);
if (![MB, ROUNDS, SEED, ...WORKERS].every((n) => Number.isInteger(n) && n > 0)) {
  console.error('error: --mb, --rounds, --seed take positive integers; --workers a list like 1,2,4');
  process.exit(2);
}

type JobName = 'wordcount' | 'aggregate';
const JOBS = values.jobs!.split(',') as JobName[];
if (JOBS.length === 0 || !JOBS.every((j) => j === 'wordcount' || j === 'aggregate')) {
  console.error('error: --jobs takes a list of wordcount, aggregate');
  process.exit(2);
}

const SYSTEMS = values.systems!.split(',');
if (SYSTEMS.length === 0 || !SYSTEMS.every((s) => s === 'engine' || s === 'node' || s === 'duckdb')) {
  console.error('error: --systems takes a list of engine, node, duckdb');
  process.exit(2);
}

interface Measure {
  ms: number;
  /** CPU seconds (user + system) of every process of the system during the run, in ms. */
  cpuMs: number;
  lines: number;
  digest: string;
  peakRssMiB: number;
  counters?: Record<string, number>;
  /** The engine's phases, in seconds: wall time of each, and task-seconds summed over tasks. */
  phases?: Record<string, number>;
}

function digestOf(lines: string[]): string {
  lines.sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

/** utime + stime of a process (all its threads), in ms; 0 when it is gone. */
function cpuMsOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

function peakRssMiB(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Spawns a process and resolves with the URL of its first log line that contains `ready`. */
function startProcess(args: string[], ready: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (c: Buffer) => {
      err = (err + c.toString()).slice(-4_000);
    });
    child.stdout!.on('data', (c: Buffer) => {
      if (out === null) return;
      out += c.toString();
      for (const line of out.split('\n')) {
        if (!line.includes(ready)) continue;
        const m = /"url":"([^"]+)"/.exec(line);
        if (m) {
          out = '';
          child.stdout!.removeAllListeners('data');
          child.stdout!.resume();
          resolve({ child, url: m[1]! });
          return;
        }
      }
      if (out.length > 1_000_000) out = out.slice(-10_000);
    });
    child.once('exit', (code) => reject(new Error(`${args.slice(0, 2).join(' ')} exited ${code}: ${err}`)));
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

interface JobAnswer {
  id: string;
  status: string;
  error?: string;
  counters?: Record<string, number>;
  tasks?: { kind: 'map' | 'reduce'; attempts: { startMs: number; durationMs: number | null }[] }[];
}

/**
 * Where an engine run's time went: the map and reduce phases' wall seconds (from the attempts'
 * start and end, relative to the submission), and task-seconds of each step from the counters.
 */
function phasesOf(record: JobAnswer): Record<string, number> {
  const span = (kind: 'map' | 'reduce') => {
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    for (const task of record.tasks ?? [])
      for (const a of task.kind === kind ? task.attempts : []) {
        first = Math.min(first, a.startMs);
        last = Math.max(last, a.startMs + (a.durationMs ?? 0));
      }
    return { first: first / 1000, last: last / 1000 };
  };
  const maps = span('map');
  const reduces = span('reduce');
  const taskSeconds = (name: string) => (record.counters?.[name] ?? 0) / 1000;
  return {
    mapWall: maps.last,
    reduceWall: reduces.last - reduces.first,
    readParse: taskSeconds('mapReadMs'),
    mapRecords: taskSeconds('mapRecordsMs'),
    spill: taskSeconds('mapSpillMs'),
    sortWrite: taskSeconds('mapOutputMs'),
    shuffleFetch: taskSeconds('shuffleFetchMs'),
    reduce: taskSeconds('reduceMs'),
  };
}

async function api(url: string, body?: unknown): Promise<{ status: number; json: JobAnswer }> {
  const res = await fetch(url, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as JobAnswer };
}

async function runEngine(job: JobName, input: string, workers: number): Promise<Measure> {
  const scratch = await mkdtemp(join(tmpdir(), 'ddia-batch-bench-run-'));
  const processes: ChildProcess[] = [];
  try {
    const coordinator = await startProcess(
      [MAIN, 'coordinator', '--port', '0', '--log-level', 'info'],
      'batch coordinator ready',
    );
    processes.push(coordinator.child);
    const started = await Promise.all(
      Array.from({ length: workers }, (_, i) =>
        startProcess(
          [
            MAIN,
            'worker',
            '--coordinator',
            coordinator.url,
            '--port',
            '0',
            '--data-dir',
            join(scratch, `w${i}`),
            '--log-level',
            'info',
          ],
          'batch worker ready',
        ),
      ),
    );
    processes.push(...started.map((s) => s.child));
    const output = join(scratch, 'out');
    const cpu0 = processes.reduce((sum, p) => sum + cpuMsOf(p.pid), 0);
    const t0 = performance.now();
    const submitted = await api(`${coordinator.url}/jobs`, {
      job,
      inputs: [{ path: input, format: job === 'wordcount' ? 'text' : 'csv' }],
      output,
      reduces: REDUCES,
    });
    if (submitted.status !== 201) throw new Error(`submit: ${JSON.stringify(submitted.json)}`);
    let record: JobAnswer;
    for (;;) {
      record = (await api(`${coordinator.url}/jobs/${submitted.json.id}`)).json;
      if (record.status === 'succeeded' || record.status === 'failed') break;
      if (performance.now() - t0 > JOB_TIMEOUT_MS) throw new Error(`job still ${record.status}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const ms = performance.now() - t0;
    const cpuMs = processes.reduce((sum, p) => sum + cpuMsOf(p.pid), 0) - cpu0;
    if (record.status !== 'succeeded') throw new Error(`job failed: ${record.error}`);
    const peak = processes.reduce((sum, p) => sum + peakRssMiB(p.pid), 0);
    const lines: string[] = [];
    for (const file of (await readdir(output)).filter((f) => f.startsWith('part-')))
      for (const line of (await readFile(join(output, file), 'utf8')).split('\n')) if (line) lines.push(line);
    return {
      ms,
      cpuMs,
      lines: lines.length,
      digest: digestOf(lines),
      peakRssMiB: Math.round(peak),
      counters: record.counters,
      phases: phasesOf(record),
    };
  } finally {
    for (const p of processes.reverse()) await stopProcess(p);
    await rm(scratch, { recursive: true, force: true });
  }
}

async function runChild(script: string, args: string[]): Promise<Measure> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', join(HERE, script), ...args], {
    maxBuffer: 16 * 2 ** 20,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Measure;
}

interface Row extends Measure {
  round: number;
  job: JobName;
  system: string;
  mb: number;
  mbPerS: number;
  /** The 1-minute load average when the run ended (other work on the machine). */
  load: number;
}

async function main(): Promise<void> {
  const data = await generateBenchData(values.data!, MB, SEED);
  // Every system runs in this session: on a loaded machine autogroup would give the session
  // 1/k of the CPUs, and the engine's two workers no more CPU than the one-process baseline.
  const share = claimCpuShare();
  process.once('exit', () => share.release());
  console.log(share.note);
  const inputs: Record<JobName, { dir: string; bytes: number; format: string }> = {
    wordcount: { dir: data.textDir, bytes: data.textBytes, format: 'text' },
    aggregate: { dir: data.csvDir, bytes: data.csvBytes, format: 'csv' },
  };
  const systems: { name: string; run(job: JobName): Promise<Measure> }[] = [
    ...(SYSTEMS.includes('engine') ? WORKERS : []).map((w) => ({
      name: `engine, ${w} worker${w === 1 ? '' : 's'}`,
      run: (job: JobName) => runEngine(job, inputs[job].dir, w),
    })),
    ...(SYSTEMS.includes('node')
      ? [
          {
            name: 'Node, one process',
            run: (job: JobName) => runChild('baseline.ts', [job, inputs[job].dir, inputs[job].format]),
          },
        ]
      : []),
    ...(SYSTEMS.includes('duckdb')
      ? [{ name: 'DuckDB', run: (job: JobName) => runChild('duckdb-job.ts', [job, inputs[job].dir]) }]
      : []),
  ];
  console.log(
    `input: ${(data.textBytes / 2 ** 20).toFixed(0)} MiB text, ${(data.csvBytes / 2 ** 20).toFixed(0)} MiB CSV; ${ROUNDS} round(s); reduces ${REDUCES}`,
  );
  const rows: Row[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? systems : [...systems].reverse();
    for (const job of JOBS) {
      for (const system of order) {
        const m = await system.run(job);
        const mb = inputs[job].bytes / 2 ** 20;
        const load = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
        rows.push({ round, job, system: system.name, mb, mbPerS: mb / (m.ms / 1000), load, ...m });
        console.log(
          `round ${round} ${job} ${system.name}: ${(m.ms / 1000).toFixed(2)} s (CPU ${(m.cpuMs / 1000).toFixed(2)} s), ${(mb / (m.ms / 1000)).toFixed(1)} MB/s, peak ${m.peakRssMiB} MiB, ${m.lines} keys, load ${load}`,
        );
        if (m.phases)
          console.log(
            `  phases (s): ${Object.entries(m.phases)
              .map(([name, seconds]) => `${name} ${seconds.toFixed(2)}`)
              .join(', ')}`,
          );
      }
    }
  }
  // Every system must give DuckDB's answer: from this run, or recorded by an earlier run on the
  // same input (a run split by --systems).
  const digestsFile = join(RESULTS, 'digests.json');
  const digests = JSON.parse(await readFile(digestsFile, 'utf8').catch(() => '{}')) as Record<string, string>;
  const inputKey = (job: JobName) => `${MB}mb-seed${SEED}/${job}`;
  for (const r of rows) if (r.system === 'DuckDB') digests[inputKey(r.job)] = r.digest;
  await mkdir(RESULTS, { recursive: true });
  await writeFile(digestsFile, `${JSON.stringify(digests, null, 2)}\n`);
  const unchecked = JOBS.filter((job) => digests[inputKey(job)] === undefined);
  if (unchecked.length > 0) console.log(`no DuckDB answer recorded for ${unchecked.join(', ')}: not checked`);
  const wrong = rows.filter((r) => {
    const expected = digests[inputKey(r.job)];
    return expected !== undefined && r.digest !== expected;
  });
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const summary = JOBS.map((job) => {
    const of = (system: string) => rows.filter((r) => r.job === job && r.system === system);
    const baseline = median(of('Node, one process').map((r) => r.ms));
    const duck = median(of('DuckDB').map((r) => r.ms));
    const engine1 = median(of(systems[0]!.name).map((r) => r.ms));
    // With --systems, a side that did not run makes its ratio NaN (printed as such).
    return {
      job,
      systems: systems.map((s) => {
        const ms = of(s.name).map((r) => r.ms);
        const t = median(ms);
        return {
          system: s.name,
          seconds: t / 1000,
          minSeconds: Math.min(...ms) / 1000,
          maxSeconds: Math.max(...ms) / 1000,
          mbPerS: inputs[job].bytes / 2 ** 20 / (t / 1000),
          speedupOver1Worker: engine1 / t,
          vsBaseline: baseline / t,
          timesDuckDb: t / duck,
          cpuSeconds: median(of(s.name).map((r) => r.cpuMs)) / 1000,
          loads: of(s.name).map((r) => r.load),
          peakRssMiB: median(of(s.name).map((r) => r.peakRssMiB)),
          sameAnswerAsDuckDb:
            digests[inputKey(job)] === undefined ? null : of(s.name).every((r) => !wrong.includes(r)),
        };
      }),
    };
  });
  const machine = {
    cpus: cpus().length,
    model: cpus()[0]?.model,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadavg: readFileSync('/proc/loadavg', 'utf8').trim(),
    cpuShare: share.note,
  };
  await mkdir(RESULTS, { recursive: true });
  const file = join(
    RESULTS,
    QUICK ? 'quick.json' : `run-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
  );
  await writeFile(
    file,
    `${JSON.stringify({ mb: MB, rounds: ROUNDS, reduces: REDUCES, workers: WORKERS, seed: SEED, machine, summary, rows }, null, 2)}\n`,
  );
  for (const { job, systems: s } of summary) {
    console.log(
      `\n${job}\n| system | time s (min..max) | CPU s | MB/s | speedup vs 1 worker | vs Node baseline | × DuckDB | peak RSS MiB | load | same answer |`,
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const r of s)
      console.log(
        `| ${r.system} | ${r.seconds.toFixed(2)} (${r.minSeconds.toFixed(2)}..${r.maxSeconds.toFixed(2)}) | ${r.cpuSeconds.toFixed(2)} | ${r.mbPerS.toFixed(1)} | ${r.speedupOver1Worker.toFixed(2)}× | ${r.vsBaseline.toFixed(2)}× | ${r.timesDuckDb.toFixed(1)}× | ${r.peakRssMiB} | ${r.loads.join(', ')} | ${r.sameAnswerAsDuckDb === null ? 'unchecked' : r.sameAnswerAsDuckDb ? 'yes' : 'NO'} |`,
      );
  }
  console.log(`\nresults: ${file}`);
  if (wrong.length > 0) {
    console.error(`different answers: ${wrong.map((r) => `${r.job}/${r.system}`).join(', ')}`);
    process.exit(1);
  }
}

await main();
