// checkTransactions: Adya's isolation anomalies (Adya 1999; DDIA ch. 7) found Elle's way.
// Infer the dependency graph, then look in each strongly connected component for the cycle
// shapes that define each anomaly:
//   G0        write cycle: ww edges only (dirty writes)
//   G1c       circular information flow: ww and wr edges, at least one wr
//   G-single  read skew: exactly one rw edge, the rest ww / wr
//   G2-item   write skew and friends: two or more rw edges
// plus G1a (aborted read), G1b (intermediate read) and lost update, which need no cycle. With `realtime`,
// real-time edges are added and cycles that need them are reported as *-realtime (violations
// of strict serializability that plain serializability allows).

import type { DependencyGraph } from './dependency-graph.js';
import { addRealtimeEdges, inferListAppend, inferRwRegister, type Workload } from './infer-edges.js';
import type { Anomaly, AnomalyType, DependencyEdge, DependencyType, Transaction } from './transaction.js';

export interface TransactionCheckOptions {
  /** Default: list-append when any transaction appends, else rw-register. */
  workload?: Workload;
  /** Add real-time edges and report *-realtime cycles (strict serializability). */
  realtime?: boolean;
}

/**
 * Consistency models, weakest to strongest, and the anomalies each one proscribes (Adya 1999
 * for PL-1 to PL-3; Elle's consistency-models table for snapshot isolation, which also rules out
 * lost update; strict serializable adds the real-time variants). A history that cannot be
 * explained at all (garbage reads, incompatible orders, duplicate writes) satisfies none.
 */
export const CONSISTENCY_MODELS = [
  'read-uncommitted',
  'read-committed',
  'snapshot-isolation',
  'serializable',
  'strict-serializable',
] as const;
export type ConsistencyModel = (typeof CONSISTENCY_MODELS)[number];

const UNEXPLAINABLE: AnomalyType[] = ['duplicate-write', 'garbage-read', 'incompatible-order'];
const READ_COMMITTED: AnomalyType[] = [...UNEXPLAINABLE, 'G0', 'G1a', 'G1b', 'G1c'];
const SNAPSHOT_ISOLATION: AnomalyType[] = [...READ_COMMITTED, 'lost-update', 'G-single'];
const SERIALIZABLE: AnomalyType[] = [...SNAPSHOT_ISOLATION, 'G2-item', 'cycle-unclassified'];
const STRICT_SERIALIZABLE: AnomalyType[] = [
  ...SERIALIZABLE,
  'G0-realtime',
  'G1c-realtime',
  'G-single-realtime',
  'G2-item-realtime',
];
const PROSCRIBED: Record<ConsistencyModel, AnomalyType[]> = {
  'read-uncommitted': [...UNEXPLAINABLE, 'G0'],
  'read-committed': READ_COMMITTED,
  'snapshot-isolation': SNAPSHOT_ISOLATION,
  serializable: SERIALIZABLE,
  'strict-serializable': STRICT_SERIALIZABLE,
};

/** Per model: true (no proscribed anomaly found), false, or 'unchecked' (strict without realtime). */
export type ModelVerdicts = Record<ConsistencyModel, boolean | 'unchecked'>;

export function modelVerdicts(anomalyTypes: readonly AnomalyType[], realtimeChecked: boolean): ModelVerdicts {
  const verdicts = {} as ModelVerdicts;
  for (const model of CONSISTENCY_MODELS) {
    const ok = !PROSCRIBED[model].some((type) => anomalyTypes.includes(type));
    verdicts[model] = model === 'strict-serializable' && !realtimeChecked && ok ? 'unchecked' : ok;
  }
  return verdicts;
}

export interface TransactionCheckResult {
  valid: boolean;
  /** Which consistency models the history satisfies (as far as these anomalies tell). */
  models: ModelVerdicts;
  /** Transactions and micro-operations checked. */
  transactionCount: number;
  workload: Workload;
  /** Distinct anomaly types found, in the order of the list above. */
  anomalyTypes: AnomalyType[];
  anomalies: Anomaly[];
  edgeCounts: Record<DependencyType, number>;
}

/** The order anomalies are reported in: every type, broken input first, weakest model first. */
const ORDER: AnomalyType[] = STRICT_SERIALIZABLE;

const WW = new Set<DependencyType>(['ww']);
const WW_WR = new Set<DependencyType>(['ww', 'wr']);
const ALL_DATA = new Set<DependencyType>(['ww', 'wr', 'rw']);
const ALL = new Set<DependencyType>(['ww', 'wr', 'rw', 'rt']);

function describeCycle(cycle: DependencyEdge[]): string {
  return cycle.map((e) => `T${e.from} -${e.type}-> T${e.to} (${e.why})`).join('; ');
}

function cycleAnomaly(type: AnomalyType, cycle: DependencyEdge[]): Anomaly {
  return {
    type,
    transactions: cycle.map((e) => e.from),
    cycle,
    explanation: `${type}: ${describeCycle(cycle)}`,
  };
}

/** Classifies a cycle by its data edges: the weakest anomaly it is an instance of. */
function classify(cycle: DependencyEdge[]): 'G0' | 'G1c' | 'G-single' | 'G2-item' {
  const rw = cycle.filter((e) => e.type === 'rw').length;
  if (rw === 1) return 'G-single';
  if (rw > 1) return 'G2-item';
  return cycle.some((e) => e.type === 'wr') ? 'G1c' : 'G0';
}

function findCycles(graph: DependencyGraph, realtime: boolean): Anomaly[] {
  const anomalies: Anomaly[] = [];
  for (const members of graph.components(ALL_DATA)) {
    const component = new Set(members);
    const g0 = graph.findCycle(component, 'ww', WW);
    if (g0 !== undefined) anomalies.push(cycleAnomaly('G0', g0));
    const g1c = graph.findCycle(component, 'wr', WW_WR);
    if (g1c !== undefined) anomalies.push(cycleAnomaly('G1c', g1c));
    const single = graph.findCycle(component, 'rw', WW_WR);
    if (single !== undefined) anomalies.push(cycleAnomaly('G-single', single));
    // A simple cycle with two or more anti-dependencies.
    const g2 = graph.findCycle(component, 'rw', ALL_DATA, 'rw') ?? graph.findCycle(component, 'rw', ALL_DATA);
    if (g2 !== undefined && classify(g2) === 'G2-item') anomalies.push(cycleAnomaly('G2-item', g2));
    // A strongly connected component always holds a cycle: if the bounded searches above gave
    // up before naming one, the history is still not serializable, and must not pass as valid.
    if (g0 === undefined && g1c === undefined && single === undefined && g2 === undefined) {
      anomalies.push({
        type: 'cycle-unclassified',
        transactions: members,
        explanation: `transactions ${members.join(', ')} depend on each other in a cycle; the search budget ran out before it named the cycle's type`,
      });
    }
  }
  if (realtime) {
    // Only cycles that need a real-time edge: the others were reported above.
    for (const members of graph.components(ALL)) {
      const cycle = graph.findCycle(new Set(members), 'rt', ALL);
      if (cycle !== undefined) {
        anomalies.push(cycleAnomaly(`${classify(cycle)}-realtime` as AnomalyType, cycle));
      }
    }
  }
  return anomalies;
}

export function checkTransactions(
  transactions: readonly Transaction[],
  options: TransactionCheckOptions = {},
): TransactionCheckResult {
  const workload =
    options.workload ??
    (transactions.some(
      (t) => Array.isArray(t.ops) && t.ops.some((op) => Array.isArray(op) && op[0] === 'append'),
    )
      ? 'list-append'
      : 'rw-register');
  const { graph, anomalies } =
    workload === 'list-append' ? inferListAppend(transactions) : inferRwRegister(transactions);
  if (options.realtime === true) addRealtimeEdges(graph, transactions);
  anomalies.push(...findCycles(graph, options.realtime === true));
  anomalies.sort((a, b) => ORDER.indexOf(a.type) - ORDER.indexOf(b.type));
  const anomalyTypes = ORDER.filter((type) => anomalies.some((a) => a.type === type));
  return {
    valid: anomalies.length === 0,
    models: modelVerdicts(anomalyTypes, options.realtime === true),
    transactionCount: transactions.length,
    workload,
    anomalyTypes,
    anomalies,
    edgeCounts: { ...graph.counts },
  };
}
