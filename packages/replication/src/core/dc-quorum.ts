// Datacenter-aware quorums, as Cassandra's consistency levels define them for replicas spread
// over datacenters (NetworkTopologyStrategy):
//   LOCAL_QUORUM  a majority of the key's replicas in the datacenter of the node the client
//                 talks to: no wait for another datacenter
//   EACH_QUORUM   a majority of the key's replicas in every datacenter that holds some
//   QUORUM        a majority of all N (may or may not cross datacenters)
// A rule lists what must be reached: per datacenter (or anywhere, dc = null) a count of the
// key's home replicas. Plain counts (one, 2, quorum, all) are one need with dc = null.
import type { NodeId } from './version-vector.js';

export const DC_QUORUM_WORDS = ['local_quorum', 'each_quorum'] as const;
export type DcQuorumWord = (typeof DC_QUORUM_WORDS)[number];

export interface QuorumNeed {
  /** null: replicas anywhere count. */
  dc: string | null;
  count: number;
}

export interface QuorumRule {
  needs: QuorumNeed[];
  /** How the rule reads in answers and errors, e.g. `2` or `local_quorum(us: 2)`. */
  text: string;
}

export const majority = (n: number): number => Math.floor(n / 2) + 1;

export function isDcQuorumWord(spec: unknown): spec is DcQuorumWord {
  return (DC_QUORUM_WORDS as readonly unknown[]).includes(spec);
}

export function countRule(count: number): QuorumRule {
  return { needs: [{ dc: null, count }], text: String(count) };
}

/**
 * The rule of a datacenter word for one key. `home` are the key's home replicas, `localDc` the
 * datacenter of the node the client talks to. A string result is why the level cannot be met
 * (no replica of the key in the local datacenter: Cassandra's UnavailableException).
 */
export function dcRule(
  word: DcQuorumWord,
  home: readonly NodeId[],
  localDc: string,
  dcOf: ReadonlyMap<NodeId, string>,
): QuorumRule | string {
  const perDc = new Map<string, number>();
  for (const replica of home) {
    const dc = dcOf.get(replica);
    if (dc !== undefined) perDc.set(dc, (perDc.get(dc) ?? 0) + 1);
  }
  if (word === 'local_quorum') {
    const local = perDc.get(localDc) ?? 0;
    if (local === 0) return `local_quorum: no replica of this key is in datacenter ${localDc}`;
    const count = majority(local);
    return { needs: [{ dc: localDc, count }], text: `local_quorum(${localDc}: ${count})` };
  }
  const needs = [...perDc].map(([dc, replicas]) => ({ dc, count: majority(replicas) }));
  return { needs, text: `each_quorum(${needs.map((n) => `${n.dc}: ${n.count}`).join(', ')})` };
}

/** A plain rule as its count (what answers always said), a datacenter rule as its text. */
export function ruleDetail(rule: QuorumRule): number | string {
  const [first] = rule.needs;
  return rule.needs.length === 1 && first!.dc === null ? first!.count : rule.text;
}

/** Whether the replicas that answered (or acknowledged) meet the rule. */
export function quorumMet(
  rule: QuorumRule,
  replicas: Iterable<NodeId>,
  dcOf: ReadonlyMap<NodeId, string>,
): boolean {
  const list = [...replicas];
  return rule.needs.every(
    ({ dc, count }) => list.filter((replica) => dc === null || dcOf.get(replica) === dc).length >= count,
  );
}

/** Whether a replica's answer counts toward the rule (a local_quorum read merges only its own datacenter). */
export function countsToward(rule: QuorumRule, replica: NodeId, dcOf: ReadonlyMap<NodeId, string>): boolean {
  return rule.needs.some(({ dc }) => dc === null || dcOf.get(replica) === dc);
}

/**
 * Parses `--dcs us1=us,us2=us,eu1=eu`: each member's datacenter (as Cassandra's
 * PropertyFileSnitch lists every node's). Returns why it is bad as a string.
 */
export function parseDcs(text: string, members: readonly NodeId[]): Map<NodeId, string> | string {
  const dcOf = new Map<NodeId, string>();
  for (const part of text.split(',')) {
    const match = /^([^=\s]+)=([A-Za-z0-9_-]{1,64})$/.exec(part.trim());
    if (!match) return `expected id=datacenter, got '${part}'`;
    const [, id, dc] = match as unknown as [string, string, string];
    if (!members.includes(id)) return `'${id}' is not among --peers`;
    if (dcOf.has(id)) return `'${id}' is named twice`;
    dcOf.set(id, dc);
  }
  const missing = members.filter((id) => !dcOf.has(id));
  if (missing.length > 0) return `no datacenter for ${missing.join(', ')}`;
  return dcOf;
}
