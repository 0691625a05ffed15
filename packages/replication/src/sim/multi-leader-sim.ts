// The multi-leader simulation: clients write at random leaders (with the context they read
// there, or blindly) while the seed partitions, crashes and restarts leaders. After the heal
// every leader must hold the same state for every key and no acknowledged value may be lost
// unless a later write had seen it. With 'lww' keys and skewed clocks, writes are lost: the
// chapter's warning, measured.
import { type Random, SeededRandom } from '@ddia/common/core';
import { type KeyType, statesEqual } from '../core/key-state.js';
import {
  MULTI_LEADER_DEFAULTS,
  type MultiLeaderMessage,
  MultiLeaderNode,
  type MultiLeaderRequest,
} from '../core/multi-leader.js';
import type { KeyRecord } from '../core/ready.js';
import { SimCluster } from './sim-cluster.js';
import { type NetworkWeather, SimNetwork } from './sim-network.js';
import { WriteLedger, type WriteRecord } from './write-ledger.js';

const TICK_MS = 10;
const CHAOS_MS_DEFAULT = 3_000;
const CONVERGE_BUDGET_MS = 30_000;

export interface MultiLeaderSimOptions {
  seed: number;
  nodes?: number;
  clients?: number;
  keys?: number;
  chaosMs?: number;
  valueType?: Extract<KeyType, 'mv' | 'lww'>;
  /** Largest clock skew drawn per node (ms); 0 keeps clocks in step. */
  skewMaxMs?: number;
  weather?: Partial<NetworkWeather>;
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
          pushTimeoutMs: 200,
          suspectAfterMs: 300,
          pingEveryMs: 50,
          antiEntropyEveryMs: 500,
        },
        clock,
      ),
    network,
    random.fork(),
    TICK_MS,
  );
  for (const id of ids)
    cluster.skewMs.set(id, options.skewMaxMs ? random.int(-options.skewMaxMs, options.skewMaxMs) : 0);
  const keys = Array.from({ length: options.keys ?? 3 }, (_, i) => `k${i}`);
  const valueType = options.valueType ?? 'mv';
  const ledger = new WriteLedger();
  const chaosMs = options.chaosMs ?? CHAOS_MS_DEFAULT;

  const startClient = (client: number, rng: Random) => {
    let sequence = 0;
    const next = () => {
      if (cluster.nowMs >= chaosMs) return;
      cluster.at(rng.int(1, 30), `client ${client}`, () => {
        const key = rng.pick(keys);
        const node = rng.pick(ids);
        cluster.submit(node, { kind: 'read', key }, (read) => {
          const blind = !read?.ok || rng.chance(0.3);
          const value = `c${client}-${sequence++}`;
          const record: WriteRecord = {
            key,
            value,
            seen: blind || !read?.ok ? [] : (read.view?.values ?? []),
            acked: false,
          };
          ledger.issue(record);
          const context = blind || !read?.ok ? null : (read.view?.context ?? null);
          cluster.submit(
            node,
            { kind: 'write', key, mutation: { op: 'put', value, context, type: valueType } },
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
  };
  const clientRandom = random.fork();
  for (let c = 0; c < (options.clients ?? 4); c++) startClient(c, clientRandom.fork());

  const faults = random.fork();
  const fault = () =>
    cluster.at(faults.int(100, 600), 'fault', () => {
      if (cluster.nowMs >= chaosMs) return;
      const choice = faults.int(0, 3);
      if (choice === 0) {
        const shuffled = faults.shuffle([...ids]);
        const cut = faults.int(1, ids.length - 1);
        network.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
      } else if (choice === 1) network.heal();
      else if (choice === 2) cluster.crash(faults.pick(ids));
      else for (const id of ids) cluster.restart(id);
      fault();
    });
  fault();

  cluster.runUntil(chaosMs);
  network.heal();
  network.weather = { delayMinMs: 1, delayMaxMs: 5, dropRate: 0, duplicateRate: 0 };
  for (const id of ids) cluster.restart(id);
  const healedAt = cluster.nowMs;
  const nodeOf = (id: string) => cluster.core(id) as MultiLeaderNode;
  const converged = () =>
    keys.every((key) =>
      ids.every((id) => statesEqual(nodeOf(id).store.get(key), nodeOf(ids[0] as string).store.get(key))),
    );
  let convergedAt = -1;
  for (let t = healedAt; t <= healedAt + CONVERGE_BUDGET_MS; t += 100) {
    cluster.runUntil(t);
    if (converged()) {
      convergedAt = t;
      break;
    }
  }
  const finalValues = (key: string) => {
    const state = nodeOf(ids[0] as string).store.get(key);
    if (state?.type === 'lww') return state.register.value === null ? [] : [state.register.value];
    if (state?.type === 'mv')
      return state.store.entries.map((e) => e.value.value).filter((v): v is string => v !== null);
    return [];
  };
  const lostWrites = ledger.lostWrites(finalValues);
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
