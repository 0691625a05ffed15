// Automatic splitting of key ranges (DDIA ch. 6 "Partitioning by Key Range" and "Dynamic
// partitioning": HBase and RethinkDB split a partition that grows past a configured size, and
// each half can then be moved to another node). Every node checks the range partitions it owns;
// one holding more than `--split-keys` keys proposes `split` at its median key through the
// controller log. The balancer then retargets (cluster-config.ts) and the mover may hand one
// half to a less loaded node, so data that piled into one pre-split range (all ASCII words land
// in one of the initial ranges) spreads over the cluster as it grows.
import { type ConfigCommand, type ConfigResult, type PartitionInfo, partitionKeyOf } from '../core/index.js';
import type { PartitionNode } from '../partition-node.js';

/** How often an owner looks at the size of its range partitions. */
export const SPLIT_CHECK_MS = 2_000;

/** Two neighbours merge when together they hold fewer keys than this share of the split limit:
 *  far enough below it that the merged partition does not split again soon (the halves of a
 *  fresh split hold about the limit together, four times as much). */
export const MERGE_FRACTION = 0.25;

export interface SplitterEnv {
  node: PartitionNode;
  splitKeys: number;
  /** Merges never take the cluster below this many partitions (--partitions: the pre-split). */
  minPartitions: number;
  propose: (command: ConfigCommand) => Promise<ConfigResult>;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  onSplit: () => void;
  onMerge?: () => void;
}

/** The split point of a partition whose first keys (in order) are `keys`: the partition key of
 *  the median key (or of the first key after it with another partition key), or null when the
 *  partition is within its limit or holds one partition key only. Splitting at a partition key
 *  keeps every sort key of a compound key (and every posting of a term) in one partition; the
 *  point is past the first key's partition key, so both halves keep data and it is strictly
 *  inside the range. */
export function splitPoint(keys: readonly string[], splitKeys: number): string | null {
  if (splitKeys <= 0 || keys.length <= splitKeys || keys.length === 0) return null;
  const first = partitionKeyOf(keys[0] as string);
  for (let i = Math.floor(keys.length / 2); i < keys.length; i++) {
    const at = partitionKeyOf(keys[i] as string);
    if (at > first) return at;
  }
  return null;
}

/** Whether two neighbouring range partitions holding `keys` keys together should merge. */
export function shouldMerge(keys: number, splitKeys: number): boolean {
  return splitKeys > 0 && keys < Math.floor(splitKeys * MERGE_FRACTION);
}

/** Neighbours that can merge without copying data: both resting, on the same owner, with the
 *  same followers. Answers the index of the left one of each such pair, in key order. */
export function mergeablePairs(partitions: readonly PartitionInfo[], owner: string): number[] {
  const out: number[] = [];
  const resting = (p: PartitionInfo) => p.owner === owner && p.target === owner && !p.frozen;
  const followers = (p: PartitionInfo) => JSON.stringify([...(p.replicas ?? [])].sort());
  for (let i = 0; i + 1 < partitions.length; i++) {
    const left = partitions[i] as PartitionInfo;
    const right = partitions[i + 1] as PartitionInfo;
    if (resting(left) && resting(right) && followers(left) === followers(right)) out.push(i);
  }
  return out;
}

export class Splitter {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly env: SplitterEnv) {}

  start(): void {
    if (this.env.splitKeys <= 0) return;
    this.timer = setInterval(() => void this.check(), SPLIT_CHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Proposes at most one merge of two small neighbours this node owns (none below the
   *  pre-split count: merges undo automatic splits, not the operator's --partitions). */
  private async checkMerges(partitions: readonly PartitionInfo[]): Promise<void> {
    const { node, splitKeys } = this.env;
    if (partitions.length <= Math.max(this.env.minPartitions, 1) || splitKeys <= 0) return;
    for (const i of mergeablePairs(partitions, node.id)) {
      const left = partitions[i] as PartitionInfo;
      const right = partitions[i + 1] as PartitionInfo;
      if (node.settling.has(left.id) || node.settling.has(right.id)) continue;
      const limit = Math.floor(splitKeys * MERGE_FRACTION);
      let keys = 0;
      for (const part of [left, right]) {
        const bounds = node.store.layout.bounds(part);
        for await (const _ of node.store.db.keys({ gte: bounds.gte, lt: bounds.lt, limit })) keys++;
      }
      if (!shouldMerge(keys, splitKeys)) continue;
      const result = await this.env.propose({ op: 'merge', partition: left.id });
      if (result.ok) {
        this.env.onMerge?.();
        this.env.log.info(
          { partition: left.id, right: right.id, keys, epoch: result.epoch },
          'range partitions merged',
        );
      }
      return;
    }
  }

  /** One pass: proposes at most one split (the next pass sees the new configuration). */
  async check(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const { node } = this.env;
      const config = node.machine.config;
      if (config?.scheme !== 'range') return;
      for (const partition of config.partitions) {
        if (partition.owner !== node.id || partition.target !== node.id || partition.frozen) continue;
        if (node.settling.has(partition.id)) continue;
        const bounds = node.store.layout.bounds(partition);
        // Twice the limit is enough to find a median of a partition just past it; a partition
        // far past it is split again on the next passes.
        const keys: string[] = [];
        for await (const key of node.store.db.keys({
          gte: bounds.gte,
          lt: bounds.lt,
          limit: 2 * this.env.splitKeys,
        }))
          keys.push(node.store.layout.userKey(key as string));
        const at = splitPoint(keys, this.env.splitKeys);
        if (at === null) continue;
        const result = await this.env.propose({ op: 'split', partition: partition.id, at });
        if (result.ok) {
          this.env.onSplit();
          this.env.log.info(
            { partition: partition.id, at, keys: keys.length, epoch: result.epoch },
            'range partition split',
          );
        }
        return;
      }
      await this.checkMerges(config.partitions);
    } catch (error) {
      this.env.log.warn({ err: error }, 'split check failed; will retry');
    } finally {
      this.running = false;
    }
  }
}
