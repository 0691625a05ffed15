// The shard controller's balancer (MIT 6.5840 Lab 4A "shardctrler"; DDIA ch. 6 "Rebalancing
// Partitions"): given who owns each of a fixed number of partitions and the nodes now in the
// cluster, decide the new owners so that
//   1. every partition has an owner among the nodes,
//   2. the nodes' partition counts differ by at most one,
//   3. as few partitions as possible change owner: only partitions of departed nodes and the
//      excess of nodes above their share move, and a node never both gives and receives.
// Deterministic (ties broken by node id, then partition index), so that every replica of the
// controller state machine computes the same assignment from the same log.
import { assert } from '@ddia/common/core';

export type Owners = readonly (string | null)[];

export interface Move {
  partition: number;
  from: string | null;
  to: string;
}

/** Each node's share: the nodes holding most now keep the `P mod N` larger shares. */
export function targetCounts(owners: Owners, nodes: readonly string[]): Map<string, number> {
  const counts = countsOf(owners, nodes);
  const order = [...nodes].sort((a, b) => (counts.get(b) as number) - (counts.get(a) as number) || cmp(a, b));
  const base = Math.floor(owners.length / nodes.length);
  const extra = owners.length % nodes.length;
  return new Map(order.map((node, i) => [node, base + (i < extra ? 1 : 0)]));
}

export function rebalance(owners: Owners, nodes: readonly string[]): string[] {
  assert(nodes.length > 0, 'rebalance needs at least one node');
  assert(new Set(nodes).size === nodes.length, 'node ids repeat');
  const alive = new Set(nodes);
  const target = targetCounts(owners, nodes);
  const held = new Map<string, number[]>(nodes.map((n) => [n, []]));
  const pool: number[] = [];
  owners.forEach((owner, p) => {
    if (owner !== null && alive.has(owner)) (held.get(owner) as number[]).push(p);
    else pool.push(p);
  });
  // Givers hand over their highest-numbered partitions beyond their share.
  for (const node of [...nodes].sort(cmp)) {
    const mine = held.get(node) as number[];
    const share = target.get(node) as number;
    while (mine.length > share) pool.push(mine.pop() as number);
  }
  pool.sort((a, b) => a - b);
  const next: (string | null)[] = [...owners];
  for (const node of [...nodes].sort(cmp)) {
    const mine = held.get(node) as number[];
    const share = target.get(node) as number;
    for (const p of mine) next[p] = node;
    for (let k = mine.length; k < share; k++) {
      const p = pool.shift();
      assert(p !== undefined, 'pool ran dry: shares do not add up');
      next[p] = node;
    }
  }
  assert(pool.length === 0, 'partitions left unassigned');
  return next as string[];
}

export function movesBetween(before: Owners, after: Owners): Move[] {
  assert(before.length === after.length, 'assignments of different sizes');
  const moves: Move[] = [];
  for (let p = 0; p < after.length; p++) {
    const to = after[p];
    if (to !== null && to !== undefined && before[p] !== to)
      moves.push({ partition: p, from: before[p] ?? null, to });
  }
  return moves;
}

export function countsOf(owners: Owners, nodes: readonly string[]): Map<string, number> {
  const counts = new Map(nodes.map((n) => [n, 0]));
  for (const owner of owners)
    if (owner !== null && counts.has(owner)) counts.set(owner, (counts.get(owner) as number) + 1);
  return counts;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
