// The multi-leader simulation: clients write at random leaders (with the context they read
// there, or blindly) while the seed partitions, crashes and restarts leaders. After the heal
// every leader must hold the same state for every key and no acknowledged value may be lost
// unless a later write had seen it. With 'lww' keys and skewed clocks, writes are lost: the
// chapter's warning, measured.
import { SeededRandom } from '@ddia/common/core';
import { statesEqual } from '../core/key-state.js';
import {
  MULTI_LEADER_DEFAULTS,
  type MultiLeaderMessage,
  MultiLeaderNode,
  type MultiLeaderRequest,
} from '../core/multi-leader.js';
import type { KeyRecord } from '../core/ready.js';
import type { Topology } from '../core/topology.js';
import * as workload from './kv-workload.js';
import { SimCluster } from './sim-cluster.js';
import { SimNetwork } from './sim-network.js';
import { WriteLedger } from './write-ledger.js';

const CHAOS_MS_DEFAULT = 3_000;
const CONVERGE_BUDGET_MS = 30_000;
const CLIENT_THINK_MAX_MS = 30;
const BLIND_WRITE_RATE = 0.3;

export interface MultiLeaderSimOptions extends workload.KvSimOptions {
  /** Largest clock skew drawn per node (ms); 0 keeps clocks in step. */
  skewMaxMs?: number;
  /** Where leaders push their writes (Figure 5-8); all-to-all by default. */
  topology?: Topology;
}

export interface MultiLeaderSimResult {
  seed: number;
  ok: boolean;
  violations: string[];
  lost: number;
  traceHash: number;
  stats: { writesAcked: number; conflictsDetected: number; lwwDiscarded: number; convergedAfterMs: number };
}

export function runMultiLeaderSim(options: MultiLeaderSimOptions): MultiLeaderSimResult {
  const random = new SeededRandom(options.seed);
  const ids = Array.from({ length: options.nodes ?? 3 }, (_, i) => `n${i + 1}`);
  const network = new SimNetwork(random.fork(), {
    delayMinMs: 1,
    delayMaxMs: random.int(5, 60),
    dropRate: random.pick([0, 0.02, 0.1]),
    duplicateRate: random.pick([0, 0.02]),
    ...options.weather,
  });
  const cluster = new SimCluster<MultiLeaderMessage, MultiLeaderRequest, KeyRecord>(
    ids,
    (id, clock) =>
      new MultiLeaderNode(
        {
          ...MULTI_LEADER_DEFAULTS,
          id,
          nodes: ids,
          topology: options.topology ?? MULTI_LEADER_DEFAULTS.topology,
          pushTimeoutMs: 200,
          suspectAfterMs: 300,
          pingEveryMs: 50,
          antiEntropyEveryMs: 500,
        },
        clock,
      ),
    network,
    random.fork(),
    workload.SIM_TICK_MS,
  );
  for (const id of ids)
    cluster.skewMs.set(id, options.skewMaxMs ? random.int(-options.skewMaxMs, options.skewMaxMs) : 0);
  const keys = Array.from({ length: options.keys ?? 3 }, (_, i) => `k${i}`);
  const ledger = new WriteLedger();
  const chaosMs = options.chaosMs ?? CHAOS_MS_DEFAULT;

  workload.startReadWriteClients(cluster, ledger, random, options, {
    keys,
    chaosMs,
    thinkMaxMs: CLIENT_THINK_MAX_MS,
    blindRate: BLIND_WRITE_RATE,
    // A client reads and writes at the same leader.
    read: (rng, key) => ({ node: rng.pick(ids), request: { kind: 'read', key } as const }),
    write: (_rng, key, mutation, readNode) => ({
      node: readNode,
      request: { kind: 'write', key, mutation } as const,
    }),
  });

  const faults = random.fork();
  const fault = () =>
    cluster.at(faults.int(100, 600), 'fault', () => {
      if (cluster.nowMs >= chaosMs) return;
      const choice = faults.int(0, 3);
      if (choice === 0) {
        workload.randomPartition(network, ids, faults);
      } else if (choice === 1) network.heal();
      else if (choice === 2) cluster.crash(faults.pick(ids));
      else for (const id of ids) cluster.restart(id);
      fault();
    });
  fault();

  cluster.runUntil(chaosMs);
  const nodeOf = (id: string) => cluster.core(id) as MultiLeaderNode;
  const { healedAt, convergedAt } = workload.healAndConverge(
    cluster,
    () =>
      keys.every((key) =>
        ids.every((id) => statesEqual(nodeOf(id).store.get(key), nodeOf(ids[0] as string).store.get(key))),
      ),
    CONVERGE_BUDGET_MS,
  );
  const lostWrites = ledger.lostWrites((key) => workload.liveValues(nodeOf(ids[0] as string).store.get(key)));
  const violations = [
    ...(convergedAt < 0 ? [`did not converge within ${CONVERGE_BUDGET_MS} ms`] : []),
    ...lostWrites,
  ];
  let conflictsDetected = 0;
  let lwwDiscarded = 0;
  for (const id of ids) {
    conflictsDetected += nodeOf(id).stats.conflictsDetected;
    lwwDiscarded += nodeOf(id).stats.lwwDiscarded;
  }
  return {
    seed: options.seed,
    ok: violations.length === 0,
    violations,
    lost: lostWrites.length,
    traceHash: cluster.traceHash,
    stats: {
      writesAcked: ledger.acked,
      conflictsDetected,
      lwwDiscarded,
      convergedAfterMs: convergedAt < 0 ? -1 : convergedAt - healedAt,
    },
  };
}
