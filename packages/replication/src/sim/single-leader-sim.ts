// The single-leader simulation: clients write fresh keys to whoever they believe leads, while
// the seed partitions the leader away, crashes and restarts nodes, and automatic failover
// elects new leaders. After the heal there must be one leader, every node must hold the same
// rows, and (with synchronous or quorum commit) every acknowledged write must be among them.
// With asynchronous commit some acknowledged writes are gone: the chapter's warning, counted.
// At every step at most one node may be taking writes (fencing); `fencing: 'none'` is the
// canary that shows the check catches two.
import { type Random, SeededRandom } from '@ddia/common/core';
import {
  SINGLE_LEADER_DEFAULTS,
  type SingleLeaderMessage,
  SingleLeaderNode,
  type SingleLeaderRecord,
  type SingleLeaderRequest,
} from '../core/single-leader.js';
import { parseSyncRule } from '../core/sync-rule.js';
import * as workload from './kv-workload.js';
import { SimCluster } from './sim-cluster.js';
import { type NetworkWeather, SimNetwork } from './sim-network.js';

const CHAOS_MS_DEFAULT = 4_000;
const CONVERGE_BUDGET_MS = 20_000;
const CONVERGE_CHECK_EVERY_MS = 50;
const FENCING_PROBE_MS = 5;

export interface SingleLeaderSimOptions {
  seed: number;
  nodes?: number;
  clients?: number;
  chaosMs?: number;
  /** synchronous_standby_names, e.g. 'ANY 1 (n2, n3)'; '' is asynchronous. */
  syncStandbys?: string;
  fencing?: 'lease' | 'none';
  weather?: Partial<NetworkWeather>;
}

export interface SingleLeaderSimResult {
  seed: number;
  ok: boolean;
  violations: string[];
  lost: number;
  /** Most nodes seen taking writes at one instant (fencing holds when it is 1). */
  leadersAtOnceMax: number;
  traceHash: number;
  stats: { writesAcked: number; elections: number; entriesDiscarded: number; convergedAfterMs: number };
}

export function runSingleLeaderSim(options: SingleLeaderSimOptions): SingleLeaderSimResult {
  const random = new SeededRandom(options.seed);
  const ids = Array.from({ length: options.nodes ?? 3 }, (_, i) => `n${i + 1}`);
  const network = new SimNetwork(random.fork(), {
    delayMinMs: 1,
    delayMaxMs: random.int(5, 40),
    dropRate: random.pick([0, 0.01, 0.05]),
    duplicateRate: random.pick([0, 0.02]),
    ...options.weather,
  });
  const syncStandbys = parseSyncRule(options.syncStandbys ?? '');
  const cluster = new SimCluster<SingleLeaderMessage, SingleLeaderRequest, SingleLeaderRecord>(
    ids,
    (id, clock) =>
      new SingleLeaderNode(
        {
          ...SINGLE_LEADER_DEFAULTS,
          id,
          nodes: ids,
          initialLeader: 'n1',
          syncStandbys,
          shipEveryMs: 20,
          leaseMs: 200,
          failoverAfterMs: 300,
          syncTimeoutMs: 500,
          fencing: options.fencing ?? 'lease',
        },
        clock,
      ),
    network,
    random.fork(),
    workload.SIM_TICK_MS,
  );
  const nodeOf = (id: string) => cluster.core(id) as SingleLeaderNode | null;
  const acked = new Set<string>();
  let issued = 0;
  const chaosMs = options.chaosMs ?? CHAOS_MS_DEFAULT;

  const startClient = (client: number, rng: Random) => {
    let sequence = 0;
    let target = rng.pick(ids);
    const next = () => {
      if (cluster.nowMs >= chaosMs) return;
      cluster.at(rng.int(2, 20), `client ${client}`, () => {
        const key = `c${client}-${sequence++}`;
        issued++;
        cluster.submit(target, { kind: 'write', key, value: key }, (result) => {
          if (result?.ok) acked.add(key);
          else if (result && !result.ok && typeof result.extensions?.leader === 'string') {
            target = result.extensions.leader;
          } else target = rng.pick(ids);
          next();
        });
      });
    };
    next();
  };
  const clientRandom = random.fork();
  for (let c = 0; c < (options.clients ?? 3); c++) startClient(c, clientRandom.fork());

  const faults = random.fork();
  const fault = () =>
    cluster.at(faults.int(200, 800), 'fault', () => {
      if (cluster.nowMs >= chaosMs) return;
      const leader = ids.find((id) => nodeOf(id)?.isLeader);
      const choice = faults.int(0, 4);
      if (choice === 0 && leader) {
        // The book's scenario: the leader is cut off from its followers but keeps running.
        network.partition([[leader], ids.filter((id) => id !== leader)]);
      } else if (choice === 1) {
        workload.randomPartition(network, ids, faults);
      } else if (choice === 2) network.heal();
      else if (choice === 3) cluster.crash(leader ?? faults.pick(ids));
      else for (const id of ids) cluster.restart(id);
      fault();
    });
  fault();

  let leadersAtOnceMax = 0;
  const probe = () =>
    cluster.at(FENCING_PROBE_MS, 'probe', () => {
      const accepting = ids.filter((id) => nodeOf(id)?.acceptingWrites()).length;
      leadersAtOnceMax = Math.max(leadersAtOnceMax, accepting);
      if (cluster.nowMs < chaosMs + CONVERGE_BUDGET_MS) probe();
    });
  probe();

  cluster.runUntil(chaosMs);
  const { healedAt, convergedAt } = workload.healAndConverge(
    cluster,
    () => {
      const nodes = ids.map(nodeOf) as SingleLeaderNode[];
      const leaders = nodes.filter((node) => node.isLeader);
      if (leaders.length !== 1) return false;
      const leader = leaders[0] as SingleLeaderNode;
      return nodes.every(
        (node) =>
          node.currentEpoch === leader.currentEpoch &&
          node.position === leader.position &&
          node.data.size === leader.data.size,
      );
    },
    CONVERGE_BUDGET_MS,
    CONVERGE_CHECK_EVERY_MS,
  );
  const violations: string[] = [];
  if (convergedAt < 0)
    violations.push(`no single leader with every follower caught up within ${CONVERGE_BUDGET_MS} ms`);
  const leader = ids.map(nodeOf).find((node) => node?.isLeader) ?? nodeOf(ids[0] as string);
  const lostKeys = [...acked].filter((key) => leader?.data.get(key) !== key);
  if (syncStandbys && lostKeys.length > 0)
    violations.push(
      `${lostKeys.length} acknowledged synchronous writes lost, e.g. ${lostKeys.slice(0, 3).join(', ')}`,
    );
  if (leadersAtOnceMax > 1)
    violations.push(`${leadersAtOnceMax} nodes took writes at the same instant (split brain)`);
  let elections = 0;
  let entriesDiscarded = 0;
  for (const id of ids) {
    elections += nodeOf(id)?.elections ?? 0;
    entriesDiscarded += nodeOf(id)?.entriesDiscarded ?? 0;
  }
  for (const id of ids) {
    const node = nodeOf(id);
    if (!node || !leader || node === leader || convergedAt < 0) continue;
    for (const [key, value] of leader.data) {
      if (node.data.get(key) !== value) {
        violations.push(`${id} holds ${key}=${node.data.get(key)}, the leader ${value}`);
        break;
      }
    }
  }
  void issued;
  if (process.env.SIM_DEBUG) {
    for (const id of ids) console.log(JSON.stringify(nodeOf(id)?.status()));
    console.log('sent', network.sent, 'now', cluster.nowMs);
  }
  return {
    seed: options.seed,
    ok: violations.length === 0,
    violations,
    lost: lostKeys.length,
    leadersAtOnceMax,
    traceHash: cluster.traceHash,
    stats: {
      writesAcked: acked.size,
      elections,
      entriesDiscarded,
      convergedAfterMs: convergedAt < 0 ? -1 : convergedAt - healedAt,
    },
  };
}
