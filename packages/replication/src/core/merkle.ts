// Merkle trees for anti-entropy (DDIA ch. 5, "Read repair and anti-entropy"; Dynamo §4.7): keys
// fall into a fixed number of buckets by hash; a leaf hashes its bucket's keys and states, an
// inner node its two children. Two replicas compare roots, descend only where hashes differ,
// and exchange only the buckets that differ: the bytes sent grow with the number of keys out
// of sync, not with the number of keys stored.
import { crc32c } from '@ddia/common/core';
import { hashText } from './placement.js';

/** 2^8 = 256 leaves: a bucket holds ~1/256 of the keys. */
export const MERKLE_DEPTH = 8;
export const MERKLE_LEAVES = 1 << MERKLE_DEPTH;

export function bucketOf(key: string): number {
  return hashText(key) & (MERKLE_LEAVES - 1);
}

export class MerkleTree {
  /** levels[0] is the root (1 node), levels[MERKLE_DEPTH] the leaves. */
  private constructor(readonly levels: Uint32Array[]) {}

  /** Builds the tree from (key, state hash) pairs; the order of the pairs does not matter. */
  static build(entries: Iterable<readonly [string, number]>): MerkleTree {
    const leaves = new Uint32Array(MERKLE_LEAVES);
    for (const [key, stateHash] of entries) {
      // Sum of per-key mixes: order-independent, and a change to any key changes its leaf.
      leaves[bucketOf(key)] = ((leaves[bucketOf(key)] ?? 0) + hashText(`${key}\u0000${stateHash}`)) >>> 0;
    }
    const levels: Uint32Array[] = [leaves];
    const pair = new Uint32Array(2);
    const pairBytes = new Uint8Array(pair.buffer);
    while ((levels[0]?.length ?? 0) > 1) {
      const below = levels[0] as Uint32Array;
      const above = new Uint32Array(below.length / 2);
      for (let i = 0; i < above.length; i++) {
        pair[0] = below[2 * i] ?? 0;
        pair[1] = below[2 * i + 1] ?? 0;
        above[i] = pair[0] === 0 && pair[1] === 0 ? 0 : crc32c(pairBytes) >>> 0;
      }
      levels.unshift(above);
    }
    return new MerkleTree(levels);
  }

  hashAt(level: number, index: number): number {
    return this.levels[level]?.[index] ?? 0;
  }

  get root(): number {
    return this.hashAt(0, 0);
  }
}
