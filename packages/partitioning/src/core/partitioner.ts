// Which partition holds a key, for each scheme (the service's routing step).

import type { ClusterConfig } from './cluster-config.js';
import { arcSlotOf } from './consistent-hash.js';
import { slotOf } from './hash-slots.js';
import { findRange, type KeyRange, rangeOverlaps } from './key-ranges.js';
import { partitionKeyOf } from './secondary-index.js';

/** Index into config.partitions of the partition holding `key`. */
export function partitionIndexOf(config: ClusterConfig, fullKey: string): number {
  // Global index postings are partitioned by their term (secondary-index.ts).
  const key = partitionKeyOf(fullKey);
  switch (config.scheme) {
    case 'hash':
      return slotOf(key, config.partitions.length);
    case 'consistent-hash':
      return arcSlotOf(key, config.partitions.length);
    case 'range':
      return findRange(
        config.partitions.map((p) => p.range as KeyRange),
        key,
      );
  }
}

/** Indexes of the partitions a scan [start, end) must visit, in key order for ranges; only the
 *  one holding `partitionKey` when the scan is of one partition key's sort keys. */
export function partitionsForScan(
  config: ClusterConfig,
  start: string,
  end: string | null,
  partitionKey?: string,
): number[] {
  if (partitionKey !== undefined) return [partitionIndexOf(config, partitionKey)];
  if (config.scheme !== 'range') return config.partitions.map((_, i) => i);
  const out: number[] = [];
  config.partitions.forEach((p, i) => {
    if (rangeOverlaps(p.range as KeyRange, start, end)) out.push(i);
  });
  return out;
}
