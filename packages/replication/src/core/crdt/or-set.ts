// Observed-remove set (Shapiro et al. 2011, §3.3.5) on a dot store: an add mints a dot, a remove
// drops the dots it has observed. An add concurrent with a remove survives ("add wins").
import { type DotStore, emptyDotStore, mergeDotStores, removeWhere, writeSeen } from '../dot-store.js';
import type { NodeId } from '../version-vector.js';

export type OrSet = DotStore<string>;

export const emptySet: () => OrSet = emptyDotStore;

export function addElement(set: OrSet, node: NodeId, element: string): OrSet {
  // Re-adding replaces the element's observed dots with a fresh one (keeps the store small).
  const without = removeWhere(set, (e) => e === element);
  return writeSeen(without, node, without.context, [element]);
}

export function removeElement(set: OrSet, element: string): OrSet {
  return removeWhere(set, (e) => e === element);
}

export function mergeSets(a: OrSet, b: OrSet): OrSet {
  return mergeDotStores(a, b);
}

export function setElements(set: OrSet): string[] {
  return [...new Set(set.entries.map((e) => e.value))].sort();
}
