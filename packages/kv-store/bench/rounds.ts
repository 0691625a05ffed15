// The load shapes of run.ts for the tools that study one change (ab.ts, stalls.ts): the same
// keys, values and spread of clients over the members, so that their figures compare with the
// README table; a round measures one system under one workload, the CPU its members and the
// load generator used, and the members' memory at its end.

import { type ProcessMemory, processCpuMs, processMemory } from '@ddia/testkit';
import {
  type LoadResult,
  type LoadRun,
  type Request,
  runLoad,
  sendAll,
  summarize,
  type Workload,
} from './load.js';
import type { System } from './systems.js';

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
  return write ? { origin, kind: 'put', key, value } : { origin, kind: 'get', key };
}

/** Writes every key once, so that every read finds a value. */
export async function fill(system: System): Promise<void> {
  const puts: Request[] = Array.from({ length: KEYS }, (_, k) => ({
    origin: system.urls[k % system.urls.length] as string,
    kind: 'put',
    key: `key${k}`,
    value,
  }));
  const driver = system.driver(FILL_CONCURRENCY);
  try {
    const failures = await sendAll(puts, FILL_CONCURRENCY, driver);
    if (failures > 0) throw new Error(`${system.name}: ${failures} of ${KEYS} fill writes failed`);
  } finally {
    await driver.close();
  }
}

export interface Round extends LoadRun {
  /** CPU time all members used during the round, ms (null without /proc). */
  cpuMs: number | null;
  /** CPU time the load generator (this process: its loop and the system's client library)
   *  used during the round, ms. */
  clientCpuMs: number;
  /** The members' memory at the end of the round (null without /proc). */
  memory: ProcessMemory | null;
}

const MS_PER_US = 1 / 1000;

export async function measureRound(
  system: System,
  workload: Workload,
  clients: number,
  durationMs: number,
  onSuccess?: (request: Request, startMs: number, latencyMs: number) => void,
): Promise<Round> {
  const pids = system.pids();
  const driver = system.driver(clients);
  const cpuBefore = processCpuMs(pids);
  const clientBefore = process.cpuUsage();
  try {
    const run = await runLoad({
      clients,
      durationMs,
      driver,
      next: (client, i) => requestFor(system, workload, client, i),
      ...(onSuccess ? { onSuccess } : {}),
    });
    const client = process.cpuUsage(clientBefore);
    const cpuAfter = processCpuMs(pids);
    return {
      ...run,
      cpuMs: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
      clientCpuMs: (client.user + client.system) * MS_PER_US,
      memory: processMemory(pids),
    };
  } finally {
    await driver.close();
  }
}

export interface Pooled extends LoadResult {
  /** CPU time all members used per successful operation, µs (null without /proc). */
  cpuUsPerOp: number | null;
  /** CPU time of the load generator per successful operation, µs. */
  clientCpuUsPerOp: number;
}

/** Rounds of one system as one result: summarize()'s figures plus CPU per operation. */
export function pooled(rounds: Round[]): Pooled {
  const result = summarize(rounds);
  const perOp = (ms: number | null) => (ms === null || result.ops === 0 ? null : (ms * 1000) / result.ops);
  const cpu = rounds.every((r) => r.cpuMs !== null)
    ? rounds.reduce((sum, r) => sum + (r.cpuMs as number), 0)
    : null;
  return {
    ...result,
    cpuUsPerOp: perOp(cpu),
    clientCpuUsPerOp:
      result.ops === 0 ? Number.NaN : (rounds.reduce((sum, r) => sum + r.clientCpuMs, 0) * 1000) / result.ops,
  };
}
