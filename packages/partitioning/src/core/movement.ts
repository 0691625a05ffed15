// How many keys each scheme moves when the cluster grows or shrinks, against the ideal: when
// N nodes become N+1, the new node should receive 1/(N+1) of the keys and nothing else should
// move (DDIA ch. 6 "How not to do it: hash mod N"). Pure: the caller supplies the key sample.
import { rebalance } from './assignment.js';
import { arcSlotOf, ringSlotOwners } from './consistent-hash.js';
import { modNodeOf, slotOf } from './hash-slots.js';

export type SchemeName = 'mod-n' | 'fixed-partitions' | 'consistent-hash';

export interface MovementReport {
  scheme: SchemeName;
  keys: number;
  moved: number;
  movedFraction: number;
  /** The least any balanced scheme could move: the share of keys the changed nodes gain/lose. */
  idealFraction: number;
}

export interface MovementOptions {
  partitions: number;
  vnodes: number;
}

/** The node of every key under `scheme` for one node list. */
export function placeKeys(
  scheme: SchemeName,
  keys: readonly string[],
  nodes: readonly string[],
  options: MovementOptions,
  previous?: readonly (string | null)[],
): { nodeOf: string[]; owners: string[] } {
  switch (scheme) {
    case 'mod-n':
      return { nodeOf: keys.map((k) => modNodeOf(k, nodes)), owners: [] };
    case 'fixed-partitions': {
      const owners = rebalance(previous ?? new Array(options.partitions).fill(null), nodes);
      return { nodeOf: keys.map((k) => owners[slotOf(k, options.partitions)] as string), owners };
    }
    case 'consistent-hash': {
      const owners = ringSlotOwners(nodes, options.partitions, options.vnodes);
      return { nodeOf: keys.map((k) => owners[arcSlotOf(k, options.partitions)] as string), owners };
    }
  }
}

/** Keys that change node when the node list goes from `before` to `after`. */
export function measureMovement(
  scheme: SchemeName,
  keys: readonly string[],
  before: readonly string[],
  after: readonly string[],
  options: MovementOptions,
): MovementReport {
  const first = placeKeys(scheme, keys, before, options);
  const second = placeKeys(scheme, keys, after, options, first.owners);
  let moved = 0;
  for (let i = 0; i < keys.length; i++) if (first.nodeOf[i] !== second.nodeOf[i]) moved++;
  const joined = after.filter((n) => !before.includes(n)).length;
  const left = before.filter((n) => !after.includes(n)).length;
  const idealFraction = Math.max(joined / after.length, left / before.length);
  return { scheme, keys: keys.length, moved, movedFraction: moved / Math.max(1, keys.length), idealFraction };
}
