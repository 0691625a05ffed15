// A closed-loop load generator: N concurrent clients, each with one request in flight, for a
// fixed time; latencies of successful requests go into percentiles. The same generator drives
// every system; a system's Driver says how a put or a get travels (drivers.ts: HTTP for ours,
// gRPC for etcd), so the loop, the key choice and the clock are the same on both sides.

/** One operation for one member: `origin` is the member's client URL. */
export interface Request {
  origin: string;
  kind: 'put' | 'get';
  key: string;
  value?: Buffer;
}

/** A request answered with something other than success; `kind` names it in the error counts
 *  (an HTTP status, a gRPC error's name). */
export class RequestFailed extends Error {
  constructor(readonly kind: string) {
    super(`request failed: ${kind}`);
    this.name = 'RequestFailed';
  }
}

/** Sends the requests of one system over its native protocol. */
export interface Driver {
  /** Resolves when the request succeeded; rejects (RequestFailed, or the transport's error)
   *  when it did not, or when `timeoutMs` passed first. */
  send(request: Request, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** One timed stretch of load: the raw material of a LoadResult. */
export interface LoadRun {
  clients: number;
  /** Latency of each successful request, ms. */
  latencies: number[];
  errors: number;
  /** Failed requests by kind (RequestFailed's), or by error name when no answer came. */
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

const failureKind = (error: unknown) =>
  error instanceof RequestFailed ? error.kind : ((error as Error).name ?? 'Error');

export async function runLoad(options: {
  clients: number;
  durationMs: number;
  driver: Driver;
  next: (client: number, i: number) => Request;
  /** Called for each successful request (those whose latency is counted), with its start on
   *  the performance.now() clock: lets a caller line requests up with events in the servers. */
  onSuccess?: (request: Request, startMs: number, latencyMs: number) => void;
}): Promise<LoadRun> {
  const latencies: number[] = [];
  let errors = 0;
  const errorKinds: Record<string, number> = {};
  const start = performance.now();
  const endAt = start + options.durationMs;
  await Promise.all(
    Array.from({ length: options.clients }, async (_, client) => {
      for (let i = 0; performance.now() < endAt; i++) {
        const req = options.next(client, i);
        const t0 = performance.now();
        try {
          await options.driver.send(req);
          const latencyMs = performance.now() - t0;
          latencies.push(latencyMs);
          options.onSuccess?.(req, t0, latencyMs);
        } catch (error) {
          errors++;
          const kind = failureKind(error);
          errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
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

/** Sends every request once, `concurrency` at a time (used to fill the key space first);
 *  returns how many failed. */
export async function sendAll(requests: Request[], concurrency: number, driver: Driver): Promise<number> {
  let next = 0;
  let failures = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests.length) {
        const req = requests[next++] as Request;
        await driver.send(req).catch(() => failures++);
      }
    }),
  );
  return failures;
}
