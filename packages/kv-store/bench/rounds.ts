// The load shapes of run.ts for the tools that study one change (ab.ts, stalls.ts): the same
// keys, values and spread of clients over the members, so that their figures compare with the
// README table; a round measures one system under one workload and the CPU its members used.
import {
  type LoadResult,
  type LoadRun,
  type Request,
  runLoad,
  sendAll,
  summarize,
  type Workload,
} from './load.js';
import { cpuMs, type System } from './systems.js';

export const KEYS = 1_000;
export const VALUE_BYTES = 256;
/** Requests in flight while the key space is filled. */
const FILL_CONCURRENCY = 16;

const value = Buffer.alloc(VALUE_BYTES, 'x');

/** Request `i` of client `client`: members in turn, keys scattered over the key space. */
export function requestFor(system: System, workload: Workload, client: number, i: number): Request {
  const origin = system.urls[(client + i) % system.urls.length] as string;
  const key = `key${(client * 7919 + i * 104729) % KEYS}`;
  const write = workload === 'write' || (workload === 'mixed' && i % 2 === 0);
  return write ? system.put(origin, key, value) : system.get(origin, key);
}

/** Writes every key once, so that every read finds a value. */
export async function fill(system: System): Promise<void> {
  const puts = Array.from({ length: KEYS }, (_, k) =>
    system.put(system.urls[k % system.urls.length] as string, `key${k}`, value),
  );
  const failures = await sendAll(puts, FILL_CONCURRENCY);
  if (failures > 0) throw new Error(`${system.name}: ${failures} of ${KEYS} fill writes failed`);
}

export interface Round extends LoadRun {
  /** CPU time all members used during the round, ms (null without /proc). */
  cpuMs: number | null;
}

export async function measureRound(
  system: System,
  workload: Workload,
  clients: number,
  durationMs: number,
  onSuccess?: (request: Request, startMs: number, latencyMs: number) => void,
): Promise<Round> {
  const pids = system.pids();
  const cpuBefore = cpuMs(pids);
  const run = await runLoad({
    clients,
    durationMs,
    next: (client, i) => requestFor(system, workload, client, i),
    ...(onSuccess ? { onSuccess } : {}),
  });
  const cpuAfter = cpuMs(pids);
  return { ...run, cpuMs: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore };
}

export interface Pooled extends LoadResult {
  /** CPU time all members used per successful operation, µs (null without /proc). */
  cpuUsPerOp: number | null;
}

/** Rounds of one system as one result: summarize()'s figures plus CPU per operation. */
export function pooled(rounds: Round[]): Pooled {
  const result = summarize(rounds);
  const cpu = rounds.every((r) => r.cpuMs !== null)
    ? rounds.reduce((sum, r) => sum + (r.cpuMs as number), 0)
    : null;
  return { ...result, cpuUsPerOp: cpu === null || result.ops === 0 ? null : (cpu * 1000) / result.ops };
}
