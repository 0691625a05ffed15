// PN-counter (Shapiro et al., "A comprehensive study of CRDTs", 2011, §3.1.2): each replica
// counts its own increments and decrements; merge takes the pointwise max, value is P - N.
import { mergeVectors, type NodeId, type VersionVector, withCounter } from '../version-vector.js';

export interface PnCounter {
  readonly p: VersionVector;
  readonly n: VersionVector;
}

export function emptyCounter(): PnCounter {
  return { p: {}, n: {} };
}

export function incrementCounter(counter: PnCounter, node: NodeId, amount: number): PnCounter {
  if (amount >= 0) return { p: withCounter(counter.p, node, (counter.p[node] ?? 0) + amount), n: counter.n };
  return { p: counter.p, n: withCounter(counter.n, node, (counter.n[node] ?? 0) - amount) };
}

export function mergeCounters(a: PnCounter, b: PnCounter): PnCounter {
  return { p: mergeVectors(a.p, b.p), n: mergeVectors(a.n, b.n) };
}

export function counterValue(counter: PnCounter): number {
  let total = 0;
  for (const v of Object.values(counter.p)) total += v;
  for (const v of Object.values(counter.n)) total -= v;
  return total;
}
