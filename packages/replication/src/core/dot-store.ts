// A dot store with a causal context: the shape shared by the multi-value register (Riak's
// siblings with dotted version vectors) and the observed-remove set. Each live value carries
// the dot that minted it; the context records every dot this replica has seen, live or
// overwritten. Merging keeps a value when both sides hold it, or when the other side has never
// seen its dot; a value one side has seen and dropped stays dropped (Almeida, Shoker, Baquero,
// "Delta state replicated data types", 2018, §4: causal CRDTs). The merge is a join:
// commutative, associative and idempotent (test/crdt-laws.test.ts).
import {
  compareDots,
  counterOf,
  covers,
  type Dot,
  dotKey,
  mergeVectors,
  type NodeId,
  type VersionVector,
  withCounter,
} from './version-vector.js';

export interface Dotted<T> {
  readonly dot: Dot;
  readonly value: T;
}

export interface DotStore<T> {
  /** Live values, sorted by dot (canonical form). */
  readonly entries: readonly Dotted<T>[];
  /** Every dot this store has seen. Down-closed per node: a counter c means dots 1..c. */
  readonly context: VersionVector;
}

export function emptyDotStore<T>(): DotStore<T> {
  return { entries: [], context: {} };
}

/**
 * The next dot `node` mints for this store. Only a replica that holds the store's whole
 * history for the key may mint (it has seen its own earlier dots), which keeps contexts
 * down-closed; `seen` is the client's context, in case it is ahead (it never should be).
 */
export function nextDot<T>(store: DotStore<T>, node: NodeId, seen: VersionVector = {}): Dot {
  return { node, counter: Math.max(counterOf(store.context, node), counterOf(seen, node)) + 1 };
}

/**
 * A write that has seen `seen`: it supersedes exactly the values whose dots `seen` covers and
 * leaves the others as siblings (DDIA ch. 5, "Capturing the happens-before relationship").
 */
export function writeSeen<T>(
  store: DotStore<T>,
  node: NodeId,
  seen: VersionVector,
  values: T[],
): DotStore<T> {
  const kept = store.entries.filter((e) => !covers(seen, e.dot));
  let context = mergeVectors(store.context, seen);
  const added: Dotted<T>[] = [];
  let dot = nextDot(store, node, seen);
  for (const value of values) {
    added.push({ dot, value });
    context = withCounter(context, node, dot.counter);
    dot = { node, counter: dot.counter + 1 };
  }
  return { entries: sortEntries([...kept, ...added]), context };
}

/** Drops the live values `remove` selects; their dots stay in the context (so they stay dead). */
export function removeWhere<T>(store: DotStore<T>, remove: (value: T) => boolean): DotStore<T> {
  return { entries: store.entries.filter((e) => !remove(e.value)), context: store.context };
}

export function mergeDotStores<T>(a: DotStore<T>, b: DotStore<T>): DotStore<T> {
  const inA = new Set(a.entries.map((e) => dotKey(e.dot)));
  const inB = new Set(b.entries.map((e) => dotKey(e.dot)));
  const entries: Dotted<T>[] = [];
  for (const e of a.entries) if (inB.has(dotKey(e.dot)) || !covers(b.context, e.dot)) entries.push(e);
  for (const e of b.entries) if (!inA.has(dotKey(e.dot)) && !covers(a.context, e.dot)) entries.push(e);
  return { entries: sortEntries(entries), context: mergeVectors(a.context, b.context) };
}

function sortEntries<T>(entries: Dotted<T>[]): Dotted<T>[] {
  return entries.sort((x, y) => compareDots(x.dot, y.dot));
}
