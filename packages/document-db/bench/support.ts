// What both benches (run.ts: the JSONB workload; resume.ts: Figure 2-1 both ways) share:
// document-db as a real process reached through the official driver, a closed-loop load
// generator, and a fair memory measure.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PollTimeoutError, pollUntil } from '@ddia/common';
import { MongoClient } from 'mongodb';

/** The server to start: dist/main.js, or DOCDB_MAIN (e.g. an older build, for a before/after run). */
const MAIN = process.env.DOCDB_MAIN ?? new URL('../dist/main.js', import.meta.url).pathname;

/** Distinct cities in the benches' documents (an equality on city matches 1 in CITIES). */
export const CITIES = 50;

/** The benches' document: a person with an indexed city and age, and a small array. */
export interface Person {
  _id: number;
  name: string;
  city: string;
  age: number;
  tags: string[];
}

export function person(i: number): Person {
  return {
    _id: i,
    name: `user${i}`,
    city: `city${i % CITIES}`,
    age: 18 + (i % 60),
    tags: [`t${i % 7}`, `t${i % 11}`],
  };
}

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

/** CPU a process has used (user + system), in ms, from /proc (clock ticks of 10 ms); 0 if gone. */
function cpuMsOf(pid: number, withReapedChildren: boolean): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // After the command name: state is field 0, utime 11, stime 12, cutime 13, cstime 14.
    const own = Number(fields[11]) + Number(fields[12]);
    return (withReapedChildren ? own + Number(fields[13]) + Number(fields[14]) : own) * 10;
  } catch {
    return 0;
  }
}

/**
 * CPU used by a server process and its children (PostgreSQL's backends are children of the
 * postmaster; a child that exited is counted through the parent's reaped-children time).
 */
export function treeCpuMs(rootPid: number | undefined): number {
  if (!rootPid) return 0;
  let total = cpuMsOf(rootPid, true);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      if (ppid === rootPid) total += cpuMsOf(Number(entry), false);
    } catch {
      // The process ended while we looked.
    }
  }
  return total;
}

/** The parent of a process (e.g. PostgreSQL's postmaster, from one backend's pid). */
export function parentPid(pid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  } catch {
    return undefined;
  }
}

export interface Measure {
  opsPerS: number;
  p99Ms: number;
  /** CPU per operation in ms: this process (the client library) and the server's processes. */
  clientCpuMs?: number;
  serverCpuMs?: number;
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

/** A server counts as settled when its processes used less CPU than this share of a check's interval. */
const SETTLE_CPU_SHARE = 0.05;
const SETTLE_CHECK_MS = 500;
/** Longest wait for a server to settle; the phases then start anyway (the JSON says so). */
const SETTLE_MS_MAX = 30_000;

/**
 * Waits until a server's processes are nearly idle after a load, so that its deferred work (an
 * LSM engine's flushes and compactions, PostgreSQL's checkpoint and autovacuum) is not charged
 * to the read phases that follow. Applied to both systems; returns how long it took and the CPU
 * that background work used (ms), or settled false when SETTLE_MS_MAX passed first.
 */
export async function settle(
  rootPid: number | undefined,
): Promise<{ waitedMs: number; cpuMs: number; settled: boolean }> {
  const started = performance.now();
  if (rootPid === undefined) return { waitedMs: 0, cpuMs: 0, settled: true };
  const first = treeCpuMs(rootPid);
  let last = first;
  const quiet = async () => {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_CHECK_MS));
    const now = treeCpuMs(rootPid);
    const idle = now - last < SETTLE_CHECK_MS * SETTLE_CPU_SHARE;
    last = now;
    return idle;
  };
  let settled = true;
  try {
    await pollUntil(quiet, { timeoutMs: SETTLE_MS_MAX, intervalMs: 0, what: 'the server to settle' });
  } catch (error) {
    if (!(error instanceof PollTimeoutError)) throw error;
    settled = false;
  }
  return { waitedMs: Math.round(performance.now() - started), cpuMs: last - first, settled };
}
