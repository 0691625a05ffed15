// Version vectors (DDIA ch. 5, "Version vectors"): one counter per replica that minted a
// version. A vector says which versions a replica, or a client, has seen; comparing two vectors
// says whether one history contains the other or the two are concurrent.

export type NodeId = string;

/** Counters by replica id; a missing id counts as 0. Plain JSON, so it travels and persists as is. */
export type VersionVector = Readonly<Record<NodeId, number>>;

/** One event: the `counter`-th version minted by `node` (a "dot", Preguiça et al. 2010). */
export interface Dot {
  readonly node: NodeId;
  readonly counter: number;
}

export type Ordering = 'equal' | 'before' | 'after' | 'concurrent';

export const EMPTY_VECTOR: VersionVector = Object.freeze({});

export function counterOf(vector: VersionVector, node: NodeId): number {
  return vector[node] ?? 0;
}

/** True when the vector has seen the dot. */
export function covers(vector: VersionVector, dot: Dot): boolean {
  return counterOf(vector, dot.node) >= dot.counter;
}

/** The least vector that has seen everything both have seen (pointwise max). */
export function mergeVectors(a: VersionVector, b: VersionVector): VersionVector {
  const out: Record<NodeId, number> = { ...a };
  for (const [node, counter] of Object.entries(b)) if (counter > (out[node] ?? 0)) out[node] = counter;
  return sortedVector(out);
}

/** 'before' means a happened before b: b has seen all of a and more. */
export function compareVectors(a: VersionVector, b: VersionVector): Ordering {
  let aAhead = false;
  let bAhead = false;
  for (const node of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const ca = counterOf(a, node);
    const cb = counterOf(b, node);
    if (ca > cb) aAhead = true;
    if (cb > ca) bAhead = true;
  }
  if (aAhead && bAhead) return 'concurrent';
  if (aAhead) return 'after';
  if (bAhead) return 'before';
  return 'equal';
}

export function withCounter(vector: VersionVector, node: NodeId, counter: number): VersionVector {
  return sortedVector({ ...vector, [node]: Math.max(counter, counterOf(vector, node)) });
}

/** Keys in order, zeros dropped: equal vectors serialize to equal bytes (hashing, tests). */
export function sortedVector(vector: Record<NodeId, number>): VersionVector {
  const out: Record<NodeId, number> = {};
  for (const node of Object.keys(vector).sort()) {
    const counter = vector[node] ?? 0;
    if (counter > 0) out[node] = counter;
  }
  return out;
}

export function dotKey(dot: Dot): string {
  return `${dot.node}:${dot.counter}`;
}

export function compareDots(a: Dot, b: Dot): number {
  return a.node < b.node ? -1 : a.node > b.node ? 1 : a.counter - b.counter;
}
