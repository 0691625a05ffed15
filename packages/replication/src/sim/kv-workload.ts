// What the simulations share around their cores: clients that read a key and write back a new
// value with the context they read (or blindly), a random split of the nodes, the heal that
// ends the chaos and the wait for convergence, and the values a key's final state still holds.
// Every draw from a Random happens in the order the callers' seeds were recorded with.
import type { Random } from '@ddia/common/core';
import type { KeyState, Mutation } from '../core/key-state.js';
import type { RequestResult } from '../core/ready.js';
import type { VersionVector } from '../core/version-vector.js';
import type { SimCluster } from './sim-cluster.js';
import { CALM_WEATHER, type NetworkWeather, type SimNetwork } from './sim-network.js';
import type { WriteLedger, WriteRecord } from './write-ledger.js';

type PutMutation = Extract<Mutation, { op: 'put' }>;

/** Every simulation's core tick, in simulated ms. */
export const SIM_TICK_MS = 10;

/** How often the heal checks for convergence, unless a simulation says otherwise. */
export const CONVERGE_CHECK_EVERY_MS = 100;

/** The options every key-value simulation takes; each mode adds its own. */
export interface KvSimOptions {
  seed: number;
  nodes?: number;
  clients?: number;
  keys?: number;
  /** Faults and client operations stop here (virtual ms); then the heal. */
  chaosMs?: number;
  /** 'mv' (siblings, the default) or 'lww' (loses concurrent writes: the canary). */
  valueType?: PutMutation['type'];
  weather?: Partial<NetworkWeather>;
}

/** Simulated clients unless a run asks for another number. */
const CLIENTS_DEFAULT = 4;

export interface ReadWriteClients<Req> {
  keys: readonly string[];
  /** Clients stop starting operations once the cluster's time reaches this. */
  chaosMs: number;
  /** Think time before each read-then-write, drawn from 1 to this (ms). */
  thinkMaxMs: number;
  /** Chance of a blind write (no context) after a successful read. */
  blindRate: number;
  /** Where and how to read (draws from `rng` in the mode's own order). */
  read(rng: Random, key: string): { node: string; request: Req };
  /** Where and how to write the mutation; `readNode` is where the read went. */
  write(rng: Random, key: string, mutation: PutMutation, readNode: string): { node: string; request: Req };
}

/** Starts the clients; the returned counter grows as reads succeed. */
export function startReadWriteClients<M extends { type: string }, Req, P>(
  cluster: SimCluster<M, Req, P>,
  ledger: WriteLedger,
  random: Random,
  options: KvSimOptions,
  clients: ReadWriteClients<Req>,
): { readsAcked: number } {
  const type = options.valueType ?? 'mv';
  const counts = { readsAcked: 0 };
  const start = (client: number, rng: Random) => {
    let sequence = 0;
    const next = () => {
      if (cluster.nowMs >= clients.chaosMs) return;
      cluster.at(rng.int(1, clients.thinkMaxMs), `client ${client}`, () => {
        const key = rng.pick(clients.keys);
        const read = clients.read(rng, key);
        cluster.submit(read.node, read.request, (result) => {
          if (result?.ok) counts.readsAcked++;
          const fresh = readView(result, rng, clients.blindRate);
          const value = `c${client}-${sequence++}`;
          const record: WriteRecord = { key, value, seen: fresh?.values ?? [], acked: false };
          ledger.issue(record);
          const mutation = {
            op: 'put',
            value,
            context: fresh?.context ?? null,
            type,
          } as const;
          const write = clients.write(rng, key, mutation, read.node);
          cluster.submit(write.node, write.request, (written) => {
            if (written?.ok) ledger.ack(record);
            else ledger.fail(record);
            next();
          });
        });
      });
    };
    next();
  };
  const clientRandom = random.fork();
  for (let c = 0; c < (options.clients ?? CLIENTS_DEFAULT); c++) start(c, clientRandom.fork());
  return counts;
}

/** What a write may build on: the read's values and context, or nothing for a blind write. */
function readView(
  result: RequestResult | undefined,
  rng: Random,
  blindRate: number,
): { values: readonly string[]; context: VersionVector | null } | null {
  if (!result?.ok || rng.chance(blindRate)) return null;
  return { values: result.view?.values ?? [], context: result.view?.context ?? null };
}

/** Cuts the nodes into two random non-empty sides. */
export function randomPartition(network: SimNetwork, ids: readonly string[], rng: Random): void {
  const shuffled = rng.shuffle([...ids]);
  const cut = rng.int(1, ids.length - 1);
  network.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
}

/**
 * Ends the chaos: heals the network, calms it, restarts every node, then runs until
 * `converged` holds (checked every `stepMs`) or `budgetMs` has passed (convergedAt -1).
 */
export function healAndConverge<M extends { type: string }, Req, P>(
  cluster: SimCluster<M, Req, P>,
  converged: () => boolean,
  budgetMs: number,
  stepMs = CONVERGE_CHECK_EVERY_MS,
): { healedAt: number; convergedAt: number } {
  cluster.network.heal();
  cluster.network.weather = { ...CALM_WEATHER };
  for (const id of cluster.ids) cluster.restart(id);
  const healedAt = cluster.nowMs;
  for (let t = healedAt; t <= healedAt + budgetMs; t += stepMs) {
    cluster.runUntil(t);
    if (converged()) return { healedAt, convergedAt: t };
  }
  return { healedAt, convergedAt: -1 };
}

/** The client-visible values a key's final state holds (none for a CRDT type). */
export function liveValues(state: KeyState | undefined): string[] {
  if (state?.type === 'lww') return state.register.value === null ? [] : [state.register.value];
  if (state?.type === 'mv')
    return state.store.entries.map((e) => e.value.value).filter((v): v is string => v !== null);
  return [];
}
