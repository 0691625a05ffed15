// Skewed workloads and hot spots (DDIA ch. 6 "Skewed Workloads and Relieving Hot Spots").
// Detection: a per-key request rate, decayed exponentially (each request adds 1; the count
// halves every `halfLifeMs`), kept for a bounded number of keys; the rate in requests/s is
// count * ln 2 / halfLife. Relief, for keys declared hot: the book's random suffix - writes to a
// hot key go to one of `buckets` sub-keys ("key#salt3"), which hash to different partitions and
// so to different nodes; a read must visit all of them and combine (here: sum counters).
// Pure: the caller passes the time.
import { assert } from '@ddia/common/core';

export const HOT_KEYS_TRACKED_MAX = 1_000;
export const HOT_KEY_HALF_LIFE_MS = 5_000;
export const SALT_BUCKETS_MAX = 256;

interface Decayed {
  count: number;
  atMs: number;
}

export interface KeyRate {
  key: string;
  perSecond: number;
}

export class HotKeyTracker {
  private readonly keys = new Map<string, Decayed>();

  constructor(
    readonly halfLifeMs = HOT_KEY_HALF_LIFE_MS,
    readonly trackedMax = HOT_KEYS_TRACKED_MAX,
  ) {
    assert(halfLifeMs > 0 && trackedMax > 0, 'bad hot key tracker settings');
  }

  record(key: string, nowMs: number): void {
    const entry = this.keys.get(key);
    if (entry) {
      entry.count = this.decayed(entry, nowMs) + 1;
      entry.atMs = nowMs;
      return;
    }
    this.keys.set(key, { count: 1, atMs: nowMs });
    // Bounded: past twice the limit keep the `trackedMax` hottest (amortised O(1) per record).
    if (this.keys.size > 2 * this.trackedMax) {
      const kept = this.ranked(nowMs).slice(0, this.trackedMax);
      this.keys.clear();
      for (const { key: k, count } of kept) this.keys.set(k, { count, atMs: nowMs });
    }
  }

  /** The current rate of one key in requests/s (0 for a key not tracked). */
  rate(key: string, nowMs: number): number {
    const entry = this.keys.get(key);
    return entry ? this.perSecond(this.decayed(entry, nowMs)) : 0;
  }

  /** Forgets one key (its rate starts again from 0). */
  forget(key: string): void {
    this.keys.delete(key);
  }

  /** The `n` keys with the highest current rate. */
  top(n: number, nowMs: number): KeyRate[] {
    return this.ranked(nowMs)
      .slice(0, n)
      .map(({ key, count }) => ({ key, perSecond: this.perSecond(count) }));
  }

  private ranked(nowMs: number): { key: string; count: number }[] {
    return [...this.keys.entries()]
      .map(([key, entry]) => ({ key, count: this.decayed(entry, nowMs) }))
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1));
  }

  private perSecond(count: number): number {
    return (count * Math.LN2 * 1000) / this.halfLifeMs;
  }

  private decayed(entry: Decayed, nowMs: number): number {
    return entry.count * 2 ** (-Math.max(0, nowMs - entry.atMs) / this.halfLifeMs);
  }
}

/** The sub-key of salt bucket `bucket` of a hot key. */
export function saltedKey(key: string, bucket: number): string {
  return `${key}#salt${bucket}`;
}

/** All sub-keys a read of a salted key must visit. */
export function saltedKeys(key: string, buckets: number): string[] {
  assert(Number.isInteger(buckets) && buckets >= 1 && buckets <= SALT_BUCKETS_MAX, 'bad salt bucket count');
  return Array.from({ length: buckets }, (_, b) => saltedKey(key, b));
}

/** The key a salted sub-key belongs to ("likes#salt3" -> "likes"); other keys are their own. */
export function logicalKeyOf(key: string): string {
  const match = /^(.*)#salt\d+$/.exec(key);
  return match ? (match[1] as string) : key;
}

export interface NodeHotKeys {
  node: string;
  keys: KeyRate[];
}

export interface ClusterKeyRate {
  /** The key as clients name it (salted sub-keys are summed into their key). */
  key: string;
  perSecond: number;
  /** Its part of all the request rate the nodes reported (0..1). */
  share: number;
  /** Rate per node that served it as owner (a key moved mid-window shows on both owners). */
  nodes: Record<string, number>;
  /** Sub-keys seen, for a salted key. */
  subKeys?: number;
}

/**
 * Cluster-wide hot keys: each node only sees the keys of the partitions it owns, so the
 * cluster's view is the sum of every node's decayed rates per key, with salted sub-keys folded
 * into the key they spread. `share` compares a key with everything the nodes reported; a key
 * whose share is above 1/N of an N-node cluster is more than any one node's fair load.
 */
export function mergeHotKeys(
  perNode: NodeHotKeys[],
  limit: number,
): { total: number; keys: ClusterKeyRate[] } {
  const merged = new Map<
    string,
    { perSecond: number; nodes: Record<string, number>; subKeys: Set<string> }
  >();
  let total = 0;
  for (const { node, keys } of perNode) {
    for (const { key, perSecond } of keys) {
      total += perSecond;
      const logical = logicalKeyOf(key);
      const entry = merged.get(logical) ?? { perSecond: 0, nodes: {}, subKeys: new Set<string>() };
      entry.perSecond += perSecond;
      entry.nodes[node] = (entry.nodes[node] ?? 0) + perSecond;
      if (logical !== key) entry.subKeys.add(key);
      merged.set(logical, entry);
    }
  }
  const keys = [...merged.entries()]
    .sort(([ka, a], [kb, b]) => b.perSecond - a.perSecond || (ka < kb ? -1 : 1))
    .slice(0, limit)
    .map(([key, entry]) => ({
      key,
      perSecond: entry.perSecond,
      share: total > 0 ? entry.perSecond / total : 0,
      nodes: entry.nodes,
      ...(entry.subKeys.size > 0 ? { subKeys: entry.subKeys.size } : {}),
    }));
  return { total, keys };
}
