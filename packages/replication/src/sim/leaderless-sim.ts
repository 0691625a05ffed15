// The leaderless simulation: clients read a key and write back a new value with the context
// they read (or blindly), through random nodes with random R and W, while the seed's schedule
// partitions, crashes and restarts nodes over a lossy, reordering network. Then everything
// heals and the run must converge: every home replica of every key holds the same state, every
// hint is handed off, and no acknowledged write is missing unless a later write saw it
// ("no sibling ever lost"). A canary run with LWW registers must fail the same check.
import { type Random, SeededRandom } from '@ddia/common/core';
import { type KeyType, statesEqual } from '../core/key-state.js';
import {
  LEADERLESS_DEFAULTS,
  type LeaderlessConfig,
  type LeaderlessMessage,
  LeaderlessNode,
  type LeaderlessRequest,
} from '../core/leaderless.js';
import type { KeyRecord } from '../core/ready.js';
import { SimCluster } from './sim-cluster.js';
import { type NetworkWeather, SimNetwork } from './sim-network.js';
import { WriteLedger, type WriteRecord } from './write-ledger.js';

export const SIM_TICK_MS = 10;
const CHAOS_MS_DEFAULT = 4_000;
/** After healing, anti-entropy and handoff must converge the cluster within this. */
const CONVERGE_BUDGET_MS = 60_000;
const CLIENT_THINK_MAX_MS = 40;
const FAULT_GAP_MIN_MS = 100;
const FAULT_GAP_MAX_MS = 700;

export interface LeaderlessSimOptions {
  seed: number;
  nodes?: number;
  n?: number;
  clients?: number;
  keys?: number;
  chaosMs?: number;
  /** 'mv' (siblings, the default) or 'lww' (the canary: it must lose writes). */
  valueType?: Extract<KeyType, 'mv' | 'lww'>;
  weather?: Partial<NetworkWeather>;
  keepTrace?: boolean;
}

export interface LeaderlessSimResult {
  seed: number;
  ok: boolean;
  violations: string[];
  traceHash: number;
  trace: string[];
  stats: {
    writesAcked: number;
    writesFailed: number;
    readsAcked: number;
    messagesSent: number;
    messagesDropped: number;
    crashes: number;
    partitions: number;
    readRepairs: number;
    hintsHandedOff: number;
    antiEntropyBytes: number;
    keysRepairedByAntiEntropy: number;
    convergedAfterMs: number;
  };
}

function simConfig(id: string, nodes: string[], n: number): LeaderlessConfig {
  return {
    ...LEADERLESS_DEFAULTS,
    id,
    nodes,
    n,
    requestTimeoutMs: 400,
    sloppyAfterMs: 100,
    pingEveryMs: 50,
    suspectAfterMs: 300,
    hintRetryMs: 100,
    antiEntropyEveryMs: 500,
    tombstoneGraceMs: 60_000,
  };
}

export function runLeaderlessSim(options: LeaderlessSimOptions): LeaderlessSimResult {
  const random = new SeededRandom(options.seed);
  const ids = Array.from({ length: options.nodes ?? 5 }, (_, i) => `n${i + 1}`);
  const n = options.n ?? 3;
  const weather: NetworkWeather = {
    delayMinMs: 1,
    delayMaxMs: random.int(5, 40),
    dropRate: random.pick([0, 0.01, 0.05, 0.1]),
    duplicateRate: random.pick([0, 0.02]),
    ...options.weather,
  };
  const network = new SimNetwork(random.fork(), weather);
  const cluster = new SimCluster<LeaderlessMessage, LeaderlessRequest, KeyRecord>(
    ids,
    (id, clock) => new LeaderlessNode(simConfig(id, ids, n), clock),
    network,
    random.fork(),
    SIM_TICK_MS,
    options.keepTrace,
  );
  const keys = Array.from({ length: options.keys ?? 4 }, (_, i) => `k${i}`);
  const valueType = options.valueType ?? 'mv';
  const ledger = new WriteLedger();
  const chaosMs = options.chaosMs ?? CHAOS_MS_DEFAULT;
  let readsAcked = 0;
  let partitions = 0;

  const clientRandom = random.fork();
  for (let c = 0; c < (options.clients ?? 4); c++) startClient(c, clientRandom.fork());

  function startClient(client: number, rng: Random): void {
    let sequence = 0;
    const next = () => {
      if (cluster.nowMs >= chaosMs) return;
      cluster.at(rng.int(1, CLIENT_THINK_MAX_MS), `client ${client}`, () => {
        const key = rng.pick(keys);
        const r = rng.pick(['one', 'quorum', 'all'] as const);
        cluster.submit(rng.pick(ids), { kind: 'read', key, r }, (read) => {
          if (read?.ok) readsAcked++;
          const blind = !read?.ok || rng.chance(0.2);
          const value = `c${client}-${sequence++}`;
          const seen = blind || !read?.ok ? [] : (read.view?.values ?? []);
          const context = blind || !read?.ok ? null : (read.view?.context ?? null);
          const record: WriteRecord = { key, value, seen, acked: false };
          ledger.issue(record);
          const w = rng.pick(['one', 'quorum', 'all'] as const);
          const mutation = { op: 'put', value, context, type: valueType } as const;
          cluster.submit(
            rng.pick(ids),
            { kind: 'write', key, mutation, w, sloppy: rng.chance(0.8) },
            (result) => {
              if (result?.ok) ledger.ack(record);
              else ledger.fail(record);
              next();
            },
          );
        });
      });
    };
    next();
  }

  // The seed's fault schedule: partitions, heals, crashes and restarts until the chaos ends.
  const faults = random.fork();
  const scheduleFault = () => {
    cluster.at(faults.int(FAULT_GAP_MIN_MS, FAULT_GAP_MAX_MS), 'fault', () => {
      if (cluster.nowMs >= chaosMs) return;
      const choice = faults.int(0, 4);
      if (choice === 0) {
        const shuffled = faults.shuffle([...ids]);
        const cut = faults.int(1, ids.length - 1);
        network.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
        partitions++;
      } else if (choice === 1) network.heal();
      else if (choice === 2) {
        const upNodes = ids.filter((id) => cluster.up(id));
        if (upNodes.length > 1) cluster.crash(faults.pick(upNodes));
      } else {
        const down = ids.filter((id) => !cluster.up(id));
        if (down.length > 0) cluster.restart(faults.pick(down));
      }
      scheduleFault();
    });
  };
  scheduleFault();

  cluster.runUntil(chaosMs);
  // Heal: network calm, every node up; then wait for handoff and anti-entropy to converge.
  network.heal();
  network.weather = { delayMinMs: 1, delayMaxMs: 5, dropRate: 0, duplicateRate: 0 };
  for (const id of ids) cluster.restart(id);
  const healedAt = cluster.nowMs;
  const nodeOf = (id: string) => cluster.core(id) as LeaderlessNode;
  const converged = () =>
    ids.every((id) => nodeOf(id).hintCount() === 0) &&
    keys.every((key) => {
      const home = nodeOf(ids[0] as string).home(key);
      const first = nodeOf(home[0] as string).store.get(key);
      return home.every((replica) => statesEqual(nodeOf(replica).store.get(key), first));
    });
  let convergedAt = -1;
  for (let t = healedAt; t <= healedAt + CONVERGE_BUDGET_MS; t += 100) {
    cluster.runUntil(t);
    if (converged()) {
      convergedAt = t;
      break;
    }
  }

  const violations: string[] = [];
  if (convergedAt < 0) violations.push(`did not converge within ${CONVERGE_BUDGET_MS} ms of healing`);
  const finalValues = (key: string) => {
    const home = nodeOf(ids[0] as string).home(key);
    const state = nodeOf(home[0] as string).store.get(key);
    if (!state || state.type === 'counter' || state.type === 'set' || state.type === 'map') return [];
    if (state.type === 'lww') return state.register.value === null ? [] : [state.register.value];
    return state.store.entries.map((e) => e.value.value).filter((v): v is string => v !== null);
  };
  violations.push(...ledger.lostWrites(finalValues));

  let readRepairs = 0;
  let hintsHandedOff = 0;
  let antiEntropyBytes = 0;
  let keysRepaired = 0;
  for (const id of ids) {
    const node = nodeOf(id);
    readRepairs += node.stats.readRepairs;
    hintsHandedOff += node.stats.hintsHandedOff;
    antiEntropyBytes += node.antiEntropy.stats.bytesSent;
    keysRepaired += node.antiEntropy.stats.keysRepaired;
  }
  return {
    seed: options.seed,
    ok: violations.length === 0,
    violations,
    traceHash: cluster.traceHash,
    trace: cluster.trace,
    stats: {
      writesAcked: ledger.acked,
      writesFailed: ledger.failed,
      readsAcked,
      messagesSent: network.sent,
      messagesDropped: network.dropped,
      crashes: cluster.crashes,
      partitions,
      readRepairs,
      hintsHandedOff,
      antiEntropyBytes,
      keysRepairedByAntiEntropy: keysRepaired,
      convergedAfterMs: convergedAt < 0 ? -1 : convergedAt - healedAt,
    },
  };
}
