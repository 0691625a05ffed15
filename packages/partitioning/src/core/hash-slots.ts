// Fixed number of partitions (Riak, Elasticsearch, Couchbase; DDIA ch. 6 "Fixed number of
// partitions"): many more partitions than nodes, chosen once; a key's partition is its hash
// mod the partition count and never changes. Rebalancing moves whole partitions between nodes,
// so only the partitions that change owner move - never a key between partitions.
import { assert } from '@ddia/common/core';
import { hashKey } from './hash.js';

export const PARTITIONS_MAX = 4096;

export function slotOf(key: string, partitions: number): number {
  assert(
    Number.isInteger(partitions) && partitions >= 1 && partitions <= PARTITIONS_MAX,
    'bad partition count',
  );
  return hashKey(key) % partitions;
}

/** The anti-pattern the book warns about: node = hash(key) mod N. Here only to measure it. */
export function modNodeOf(key: string, nodes: readonly string[]): string {
  assert(nodes.length > 0, 'no nodes');
  return nodes[hashKey(key) % nodes.length] as string;
}
