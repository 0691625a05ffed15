// Partition shapes, as Jepsen's nemesis draws them (jepsen.nemesis: partition-random-node,
// partition-majorities-ring, bridge). Pure functions: node ids and a Random in, the directed
// paths to cut out. Every cut is symmetric here: a real partition stops traffic both ways.
import type { Random } from '@ddia/common';
import type { CutLink } from '../proxy/network.js';

export type PartitionShape = 'isolate' | 'majority-minority' | 'bridge' | 'ring';
export const PARTITION_SHAPES: readonly PartitionShape[] = ['isolate', 'majority-minority', 'bridge', 'ring'];

/** Cuts both directions between every member of `a` and every member of `b`. */
export function cutsBetween(a: readonly string[], b: readonly string[]): CutLink[] {
  const cuts: CutLink[] = [];
  for (const x of a) for (const y of b) cuts.push([x, y], [y, x]);
  return cuts;
}

/** One node cut off from all others (e.g. an old leader that keeps believing it leads). */
export function isolate(node: string, nodes: readonly string[]): CutLink[] {
  return cutsBetween(
    [node],
    nodes.filter((n) => n !== node),
  );
}

/** A random majority and minority that cannot talk to each other. */
export function majorityMinority(nodes: readonly string[], random: Random): CutLink[] {
  const shuffled = random.shuffle([...nodes]);
  const minority = shuffled.slice(0, Math.floor(nodes.length / 2));
  return cutsBetween(minority, shuffled.slice(minority.length));
}

/**
 * Two halves that cannot talk to each other, and one node in the middle that talks to both:
 * each half plus the bridge is a majority, so two leaders may each believe they have a quorum.
 */
export function bridge(nodes: readonly string[], random: Random): CutLink[] {
  const [, ...rest] = random.shuffle([...nodes]);
  const half = Math.floor(rest.length / 2);
  return cutsBetween(rest.slice(0, half), rest.slice(half));
}

/**
 * Nodes on a ring, each seeing only its nearest neighbours, so that every node sees a majority
 * (itself included) but no two nodes see the same one (Jepsen's majorities ring).
 */
export function ring(nodes: readonly string[], random: Random): CutLink[] {
  const order = random.shuffle([...nodes]);
  const n = order.length;
  const majority = Math.floor(n / 2) + 1;
  const reach = Math.ceil((majority - 1) / 2);
  const cuts: CutLink[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const distance = Math.min(Math.abs(i - j), n - Math.abs(i - j));
      if (i !== j && distance > reach) cuts.push([order[i]!, order[j]!]);
    }
  }
  return cuts;
}

export function partitionShape(shape: PartitionShape, nodes: readonly string[], random: Random): CutLink[] {
  switch (shape) {
    case 'isolate':
      return isolate(random.pick(nodes), nodes);
    case 'majority-minority':
      return majorityMinority(nodes, random);
    case 'bridge':
      return bridge(nodes, random);
    case 'ring':
      return ring(nodes, random);
  }
}
