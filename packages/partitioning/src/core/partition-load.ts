// Load-based splitting of key ranges (DDIA ch. 6 "Skewed Workloads and Relieving Hot Spots" and
// "Dynamic partitioning"; CockroachDB splits a range whose queries per second stay over a
// threshold, at a key chosen from sampled requests). Size alone misses a range that is small
// but hot: its owner is the bottleneck however few keys it holds. Each owner keeps, per
// partition, a decayed request rate (the same exponential decay as the hot-key tracker) and the
// last LOAD_SAMPLE_KEYS keys requested; a partition over the rate threshold is split at the
// median of those keys, so each half takes about half of the recent requests, which need not
// be half of the keys. A single hot key cannot be split this way (the split point must be a
// partition key past the first one sampled): that is what salting is for.
// Pure: the caller passes the time.

import { PARTITIONS_MAX } from './hash-slots.js';
import { HotKeyTracker } from './hot-keys.js';
import { partitionKeyOf } from './secondary-index.js';

/** How fast a partition's measured rate follows its load: short enough that a split or a merge
 *  reacts within a few splitter checks, long enough to smooth a burst of one check. */
export const LOAD_HALF_LIFE_MS = 2_000;
/** Recent keys kept per partition to choose a load split point. */
export const LOAD_SAMPLE_KEYS = 256;
/** Fewer sampled requests than this say too little about where the load is. */
export const LOAD_SAMPLE_MIN = 32;

/** A partition's size and load as its owner measures them. */
export interface PartitionSize {
  /** Keys, counted up to the limit asked for. */
  keys: number;
  perSecond: number;
}

export class PartitionLoad {
  private readonly rates: HotKeyTracker;
  private readonly recent = new Map<number, { keys: string[]; next: number }>();

  constructor(halfLifeMs = LOAD_HALF_LIFE_MS) {
    this.rates = new HotKeyTracker(halfLifeMs, PARTITIONS_MAX);
  }

  record(partition: number, key: string, nowMs: number): void {
    this.rates.record(String(partition), nowMs);
    let ring = this.recent.get(partition);
    if (!ring) {
      ring = { keys: [], next: 0 };
      this.recent.set(partition, ring);
    }
    if (ring.keys.length < LOAD_SAMPLE_KEYS) ring.keys.push(key);
    else ring.keys[ring.next] = key;
    ring.next = (ring.next + 1) % LOAD_SAMPLE_KEYS;
  }

  /** Requests/s the partition served here lately. */
  perSecond(partition: number, nowMs: number): number {
    return this.rates.rate(String(partition), nowMs);
  }

  /** The recently requested keys, in key order. */
  sample(partition: number): string[] {
    return [...(this.recent.get(partition)?.keys ?? [])].sort();
  }

  /** Starts a partition's measurement afresh (after it split, merged or left this node). */
  forget(partition: number): void {
    this.rates.forget(String(partition));
    this.recent.delete(partition);
  }
}

/** The partition key at or after the median of `sortedKeys` that is past the first one's, or
 *  null when they name one partition key only: a point strictly inside the keys' span, which
 *  never cuts one partition key's sort keys apart. */
export function medianPartitionKey(sortedKeys: readonly string[]): string | null {
  if (sortedKeys.length === 0) return null;
  const first = partitionKeyOf(sortedKeys[0] as string);
  for (let i = Math.floor(sortedKeys.length / 2); i < sortedKeys.length; i++) {
    const at = partitionKeyOf(sortedKeys[i] as string);
    if (at > first) return at;
  }
  return null;
}

/** Where to split a partition for load: null unless it serves more than `splitPerSecond`
 *  (0 = never) and enough requests were sampled to place the point. */
export function loadSplitPoint(
  perSecond: number,
  sortedSample: readonly string[],
  splitPerSecond: number,
): string | null {
  if (splitPerSecond <= 0 || perSecond <= splitPerSecond || sortedSample.length < LOAD_SAMPLE_MIN)
    return null;
  return medianPartitionKey(sortedSample);
}
