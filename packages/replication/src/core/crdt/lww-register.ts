// Last-write-wins register (Shapiro et al. 2011, §3.2.1; Cassandra's cells): the value with the
// greatest timestamp wins, ties broken by node id. Deterministic and convergent, and it
// silently discards every concurrent write but one, and every write stamped by a clock that
// runs behind (DDIA ch. 8, "Timestamps for ordering events").
import type { NodeId } from '../version-vector.js';

export interface LwwRegister<T> {
  readonly value: T;
  readonly wallMs: number;
  readonly node: NodeId;
}

export function lwwWins<T>(a: LwwRegister<T>, b: LwwRegister<T>): boolean {
  return a.wallMs > b.wallMs || (a.wallMs === b.wallMs && a.node > b.node);
}

export function mergeLww<T>(a: LwwRegister<T>, b: LwwRegister<T>): LwwRegister<T> {
  if (a.wallMs === b.wallMs && a.node === b.node) return a;
  return lwwWins(a, b) ? a : b;
}
