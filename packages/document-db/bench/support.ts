// What both benches (run.ts: the JSONB workload; resume.ts: Figure 2-1 both ways) share:
// document-db as a real process reached through the official driver, a closed-loop load
// generator, and a fair memory measure.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';

/** The server to start: dist/main.js, or DOCDB_MAIN (e.g. an older build, for a before/after run). */
const MAIN = process.env.DOCDB_MAIN ?? new URL('../dist/main.js', import.meta.url).pathname;

export interface DocumentDbProcess {
  client: MongoClient;
  pid: number | undefined;
  close(): Promise<void>;
}

/**
 * Extra node flags for the server process from DOCDB_NODE_ARGS, e.g. to profile it:
 * DOCDB_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' pnpm bench --quick
 */
function nodeArgs(): string[] {
  return (process.env.DOCDB_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
}

/** Starts dist/main.js (LSM engine, synced writes) on free ports and connects the driver. */
export async function startDocumentDbProcess(poolSize: number): Promise<DocumentDbProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ddia-docdb-bench-'));
  const child: ChildProcess = spawn(
    process.execPath,
    [...nodeArgs(), MAIN, '--port', '0', '--mongo-port', '0', '--data-dir', dataDir, '--log-level', 'info'],
    { stdio: ['ignore', 'pipe', 'inherit'], cwd: new URL('..', import.meta.url).pathname },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /"mongoPort":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`document-db exited ${code}: ${out}`)));
  });
  const client = await new MongoClient(`mongodb://127.0.0.1:${port}`, { maxPoolSize: poolSize }).connect();
  return {
    client,
    pid: child.pid,
    async close() {
      await client.close();
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Proportional set size of a process (its private pages plus its share of shared ones), so
 * that PostgreSQL's processes, which all map the same shared buffers, can be summed fairly.
 */
export function pssOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    if (m) return Number(m[1]) * 1024;
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return rss ? Number(rss[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export interface Measure {
  opsPerS: number;
  p99Ms: number;
}

export async function closedLoop(
  op: (i: number) => Promise<unknown>,
  durationMs: number,
  clients: number,
): Promise<Measure> {
  const latencies: number[] = [];
  const end = performance.now() + durationMs;
  let n = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        await op(n++);
        latencies.push(performance.now() - started);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    opsPerS: (latencies.length / durationMs) * 1000,
    p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
  };
}
