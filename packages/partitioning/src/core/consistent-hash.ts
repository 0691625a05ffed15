// Consistent hashing with virtual nodes (Karger et al. 1997; Dynamo and Cassandra's vnodes;
// DDIA ch. 6 "Partitioning by Hash of Key" and its aside on consistent hashing). Each node owns
// `vnodes` tokens on a ring of 2^32 points; a point belongs to the first token clockwise from it.
// A joining node takes over only the arcs just before its own tokens, so about 1/N of the
// points change owner, taken from every other node alike; a leaving node's arcs go to the next
// tokens clockwise. Many tokens per node even out the arc lengths (variance falls as 1/vnodes).
import { assert } from '@ddia/common/core';
import { HASH_SPACE, hashKey } from './hash.js';

export const VNODES_DEFAULT = 64;

interface Token {
  point: number;
  node: string;
}

export class HashRing {
  private readonly tokens: Token[];

  constructor(
    nodes: readonly string[],
    readonly vnodes = VNODES_DEFAULT,
  ) {
    assert(nodes.length > 0, 'a ring needs a node');
    assert(Number.isInteger(vnodes) && vnodes >= 1, 'vnodes must be a positive integer');
    const tokens: Token[] = [];
    for (const node of nodes) {
      for (let v = 0; v < vnodes; v++) tokens.push({ point: hashKey(`${node}#${v}`), node });
    }
    // Ties (two tokens on one point) are broken by node id so every process builds the same ring.
    tokens.sort((a, b) => a.point - b.point || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    this.tokens = tokens;
  }

  /** The node owning `point`: the first token at or after it, wrapping around. */
  ownerOfPoint(point: number): string {
    assert(point >= 0 && point < HASH_SPACE, 'point outside the ring');
    let lo = 0;
    let hi = this.tokens.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.tokens[mid] as Token).point < point) lo = mid + 1;
      else hi = mid;
    }
    return (this.tokens[lo === this.tokens.length ? 0 : lo] as Token).node;
  }

  ownerOfKey(key: string): string {
    return this.ownerOfPoint(hashKey(key));
  }
}

/**
 * The service splits the ring into `slots` equal arcs (Redis Cluster's hash slots) and gives
 * each slot to the node owning the slot's start point: moving a slot is the unit of transfer,
 * and which slots move on a join or leave is decided by the ring, not by a balancer.
 */
export function ringSlotOwners(nodes: readonly string[], slots: number, vnodes = VNODES_DEFAULT): string[] {
  const ring = new HashRing(nodes, vnodes);
  return Array.from({ length: slots }, (_, s) => ring.ownerOfPoint(slotStartPoint(s, slots)));
}

/** The slot holding a key's point: slots are contiguous arcs of the ring, in ring order. */
export function arcSlotOf(key: string, slots: number): number {
  return Math.floor((hashKey(key) * slots) / HASH_SPACE);
}

export function slotStartPoint(slot: number, slots: number): number {
  return Math.floor((slot * HASH_SPACE) / slots);
}
