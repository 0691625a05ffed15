// The leaderless simulation: clients read a key and write back a new value with the context
// they read (or blindly), through random nodes with random R and W, while the seed's schedule
// partitions, crashes and restarts nodes over a lossy, reordering network. Then everything
// heals and the run must converge: every home replica of every key holds the same state, every
// hint is handed off, and no acknowledged write is missing unless a later write saw it
// ("no sibling ever lost"). A canary run with LWW registers must fail the same check.
import { SeededRandom } from '@ddia/common/core';
import { statesEqual } from '../core/key-state.js';
import {
  LEADERLESS_DEFAULTS,
  type LeaderlessMessage,
  LeaderlessNode,
  type LeaderlessRequest,
} from '../core/leaderless.js';
import type { KeyRecord } from '../core/ready.js';
import * as workload from './kv-workload.js';
import { SimCluster } from './sim-cluster.js';
import { type NetworkWeather, SimNetwork } from './sim-network.js';
import { WriteLedger } from './write-ledger.js';

const CHAOS_MS_DEFAULT = 4_000;
/** After healing, anti-entropy and handoff must converge the cluster within this. */
const CONVERGE_BUDGET_MS = 60_000;
const CLIENT_THINK_MAX_MS = 40;
const BLIND_WRITE_RATE = 0.2;
const SLOPPY_RATE = 0.8;
const QUORUMS = ['one', 'quorum', 'all'] as const;
const FAULT_GAP_MIN_MS = 100;
const FAULT_GAP_MAX_MS = 700;

export interface LeaderlessSimOptions extends workload.KvSimOptions {
  n?: number;
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

/** The core's timings scaled to the short simulated runs (checked as a LeaderlessConfig by its use). */
function simConfig(id: string, nodes: string[], n: number) {
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
    workload.SIM_TICK_MS,
    options.keepTrace,
  );
  const keys = Array.from({ length: options.keys ?? 4 }, (_, i) => `k${i}`);
  const ledger = new WriteLedger();
  const chaosMs = options.chaosMs ?? CHAOS_MS_DEFAULT;
  let partitions = 0;

  const clients = workload.startReadWriteClients(cluster, ledger, random, options, {
    keys,
    chaosMs,
    thinkMaxMs: CLIENT_THINK_MAX_MS,
    blindRate: BLIND_WRITE_RATE,
    read: (rng, key) => {
      const r = rng.pick(QUORUMS);
      return { node: rng.pick(ids), request: { kind: 'read', key, r } as const };
    },
    write: (rng, key, mutation) => {
      const w = rng.pick(QUORUMS);
      return {
        node: rng.pick(ids),
        request: { kind: 'write', key, mutation, w, sloppy: rng.chance(SLOPPY_RATE) } as const,
      };
    },
  });

  // The seed's fault schedule: partitions, heals, crashes and restarts until the chaos ends.
  const faults = random.fork();
  const scheduleFault = () => {
    cluster.at(faults.int(FAULT_GAP_MIN_MS, FAULT_GAP_MAX_MS), 'fault', () => {
      if (cluster.nowMs >= chaosMs) return;
      const choice = faults.int(0, 4);
      if (choice === 0) {
        workload.randomPartition(network, ids, faults);
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
  const nodeOf = (id: string) => cluster.core(id) as LeaderlessNode;
  const homeState = (key: string) => {
    const home = nodeOf(ids[0] as string).home(key);
    return nodeOf(home[0] as string).store.get(key);
  };
  const { healedAt, convergedAt } = workload.healAndConverge(
    cluster,
    () =>
      ids.every((id) => nodeOf(id).hintCount() === 0) &&
      keys.every((key) => {
        const home = nodeOf(ids[0] as string).home(key);
        return home.every((replica) => statesEqual(nodeOf(replica).store.get(key), homeState(key)));
      }),
    CONVERGE_BUDGET_MS,
  );

  const violations: string[] = [];
  if (convergedAt < 0) violations.push(`did not converge within ${CONVERGE_BUDGET_MS} ms of healing`);
  violations.push(...ledger.lostWrites((key) => workload.liveValues(homeState(key))));

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
      readsAcked: clients.readsAcked,
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
