// A keep-alive HTTP load generator: N concurrent clients, each with one request in flight,
// for a fixed time; latencies of successful requests go into percentiles. The same generator
// drives both systems; only the request shapes differ (target.ts).
import { Pool } from 'undici';

export interface Request {
  origin: string;
  method: 'GET' | 'PUT' | 'POST';
  path: string;
  body?: Buffer | string;
  headers?: Record<string, string>;
}

/** One timed stretch of load: the raw material of a LoadResult. */
export interface LoadRun {
  clients: number;
  /** Latency of each successful request, ms. */
  latencies: number[];
  errors: number;
  /** Failed requests by HTTP status, or by error name when no answer came. */
  errorKinds: Record<string, number>;
  seconds: number;
}

export interface LoadResult {
  clients: number;
  ops: number;
  errors: number;
  errorKinds: Record<string, number>;
  seconds: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
}

export type Workload = 'write' | 'read' | 'mixed';

export async function runLoad(options: {
  clients: number;
  durationMs: number;
  next: (client: number, i: number) => Request;
  /** Called for each successful request (those whose latency is counted), with its start on
   *  the performance.now() clock: lets a caller line requests up with events in the servers. */
  onSuccess?: (request: Request, startMs: number, latencyMs: number) => void;
}): Promise<LoadRun> {
  const pools = new Map<string, Pool>();
  const pool = (origin: string) => {
    let p = pools.get(origin);
    if (!p) {
      p = new Pool(origin, { connections: options.clients, keepAliveTimeout: 30_000, pipelining: 1 });
      pools.set(origin, p);
    }
    return p;
  };
  const latencies: number[] = [];
  let errors = 0;
  const errorKinds: Record<string, number> = {};
  const fail = (kind: string) => {
    errors++;
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
  };
  const start = performance.now();
  const endAt = start + options.durationMs;
  await Promise.all(
    Array.from({ length: options.clients }, async (_, client) => {
      for (let i = 0; performance.now() < endAt; i++) {
        const req = options.next(client, i);
        const t0 = performance.now();
        try {
          const res = await pool(req.origin).request({
            method: req.method,
            path: req.path,
            ...(req.body !== undefined ? { body: req.body } : {}),
            headers: req.headers ?? {},
          });
          await res.body.arrayBuffer();
          if (res.statusCode >= 200 && res.statusCode < 300) {
            const latencyMs = performance.now() - t0;
            latencies.push(latencyMs);
            options.onSuccess?.(req, t0, latencyMs);
          } else fail(String(res.statusCode));
        } catch (error) {
          fail((error as Error).name);
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  await Promise.all([...pools.values()].map((p) => p.close()));
  return { clients: options.clients, latencies, errors, errorKinds, seconds };
}

/** The value below which a fraction `p` of `sorted` (ascending) lies; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length
    ? (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number)
    : Number.NaN;
}

/** One result from several runs of the same load (rounds taken in turn with another system):
 *  throughput over their summed time, percentiles over all their latencies together. */
export function summarize(runs: LoadRun[]): LoadResult {
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const seconds = runs.reduce((sum, r) => sum + r.seconds, 0);
  const errorKinds: Record<string, number> = {};
  for (const r of runs)
    for (const [kind, n] of Object.entries(r.errorKinds)) errorKinds[kind] = (errorKinds[kind] ?? 0) + n;
  return {
    clients: runs[0]?.clients ?? 0,
    ops: latencies.length,
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    errorKinds,
    seconds,
    opsPerSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    p999Ms: percentile(latencies, 0.999),
  };
}

/** Sends every request once, `concurrency` at a time (used to fill the key space first). */
export async function sendAll(requests: Request[], concurrency: number): Promise<number> {
  const pools = new Map<string, Pool>();
  let next = 0;
  let failures = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests.length) {
        const req = requests[next++] as Request;
        let pool = pools.get(req.origin);
        if (!pool) {
          pool = new Pool(req.origin, { connections: concurrency });
          pools.set(req.origin, pool);
        }
        try {
          const res = await pool.request({
            method: req.method,
            path: req.path,
            ...(req.body !== undefined ? { body: req.body } : {}),
            headers: req.headers ?? {},
          });
          await res.body.arrayBuffer();
          if (res.statusCode >= 300) failures++;
        } catch {
          failures++;
        }
      }
    }),
  );
  await Promise.all([...pools.values()].map((p) => p.close()));
  return failures;
}
