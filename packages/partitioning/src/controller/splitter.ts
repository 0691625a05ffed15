// Automatic splitting and merging of key ranges (DDIA ch. 6 "Partitioning by Key Range" and
// "Dynamic partitioning": HBase and RethinkDB split a partition that grows past a configured
// size, and each half can then be moved to another node; CockroachDB also splits one whose load
// stays past a threshold). Every node checks the range partitions it owns; one holding more than
// `--split-keys` keys proposes `split` at its median key through the controller log, and one
// serving more than `--split-rps` requests/s proposes `split` at the median of its recently
// requested keys (core/partition-load.ts). The balancer then retargets (cluster-config.ts) and
// the mover may hand one half to a less loaded node, so data that piled into one pre-split range
// (all ASCII words land in one of the initial ranges) spreads over the cluster as it grows.
// The reverse: two neighbours small and cold together merge; on one owner at once, on two owners
// after one of them moves to the other (`colocate`, then `merge` on the next checks).
import {
  type ConfigCommand,
  type ConfigResult,
  loadSplitPoint,
  medianPartitionKey,
  type PartitionInfo,
  type PartitionSize,
} from '../core/index.js';
import type { PartitionNode } from '../partition-node.js';

/** How often an owner looks at the size and load of its range partitions. */
export const SPLIT_CHECK_MS = 2_000;

/** Two neighbours merge when together they hold fewer keys than this share of the split limit
 *  (far enough below it that the merged partition does not split again soon: the halves of a
 *  fresh split hold about the limit together, four times as much), and, with load splitting on,
 *  serve fewer requests than this share of the load limit. */
export const MERGE_FRACTION = 0.25;

export interface SplitterEnv {
  node: PartitionNode;
  splitKeys: number;
  /** Requests/s past which a range partition splits (0: never for load). */
  splitPerSecond: number;
  /** Merges never take the cluster below this many partitions (--partitions: the pre-split). */
  minPartitions: number;
  propose: (command: ConfigCommand) => Promise<ConfigResult>;
  /** Asks another node for the size of a partition it owns. */
  remoteSize: (ownerUrl: string, partition: number, keysLimit: number) => Promise<PartitionSize>;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  onSplit: (reason: 'size' | 'load') => void;
  onMerge?: (how: 'merge' | 'colocate') => void;
}

/** The split point of a partition whose first keys (in order) are `keys`: the partition key of
 *  the median key (or of the first key after it with another partition key), or null when the
 *  partition is within its limit or holds one partition key only. Splitting at a partition key
 *  keeps every sort key of a compound key (and every posting of a term) in one partition; the
 *  point is past the first key's partition key, so both halves keep data and it is strictly
 *  inside the range. */
export function splitPoint(keys: readonly string[], splitKeys: number): string | null {
  if (splitKeys <= 0 || keys.length <= splitKeys) return null;
  return medianPartitionKey(keys);
}

/** Whether two neighbouring range partitions holding `keys` keys and serving `perSecond`
 *  requests/s together should merge. */
export function shouldMerge(keys: number, splitKeys: number, perSecond = 0, splitPerSecond = 0): boolean {
  const cold = splitPerSecond <= 0 || perSecond < splitPerSecond * MERGE_FRACTION;
  return splitKeys > 0 && keys < Math.floor(splitKeys * MERGE_FRACTION) && cold;
}

/** Neighbours that can merge without moving: both resting on `owner`. Answers the index of the
 *  left one of each such pair, in key order. (Followers of only one half are dropped by the
 *  merge and the owner copies the merged partition to others, as after any change of set.) */
export function mergeablePairs(partitions: readonly PartitionInfo[], owner: string): number[] {
  return restingPairs(partitions, owner).filter((i) => partitions[i + 1]?.owner === owner);
}

/** Neighbours `owner` may ask to bring together: the left one resting here, the right one
 *  resting on another node. Answers the index of the left one of each pair. */
export function colocatablePairs(partitions: readonly PartitionInfo[], owner: string): number[] {
  return restingPairs(partitions, owner).filter((i) => partitions[i + 1]?.owner !== owner);
}

function restingPairs(partitions: readonly PartitionInfo[], leftOwner: string): number[] {
  const out: number[] = [];
  const resting = (p: PartitionInfo) => p.owner === p.target && !p.frozen;
  for (let i = 0; i + 1 < partitions.length; i++) {
    const left = partitions[i] as PartitionInfo;
    const right = partitions[i + 1] as PartitionInfo;
    if (left.owner === leftOwner && resting(left) && resting(right)) out.push(i);
  }
  return out;
}

export class Splitter {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly env: SplitterEnv) {}

  start(): void {
    if (this.env.splitKeys <= 0 && this.env.splitPerSecond <= 0) return;
    this.timer = setInterval(() => void this.check(), SPLIT_CHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One pass: proposes at most one split, else at most one merge or colocation (the next pass
   *  sees the new configuration). */
  async check(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const config = this.env.node.machine.config;
      if (config?.scheme !== 'range') return;
      for (const partition of config.partitions) {
        if (await this.checkSplit(partition)) return;
      }
      const pending = config.partitions.some((p) => p.owner !== p.target);
      if (!pending)
        await this.checkMerges(config.partitions, config.nodes.filter((n) => n.state === 'active').length);
    } catch (error) {
      this.env.log.warn({ err: error }, 'split check failed; will retry');
    } finally {
      this.running = false;
    }
  }

  /** Splits one partition owned here that is past the size or the load limit. */
  private async checkSplit(partition: PartitionInfo): Promise<boolean> {
    const { node, splitKeys } = this.env;
    const { load } = node;
    if (partition.owner !== node.id || partition.target !== node.id || partition.frozen) return false;
    if (node.settling.has(partition.id)) return false;
    let at: string | null = null;
    let reason: 'size' | 'load' = 'size';
    if (splitKeys > 0) {
      // Twice the limit is enough to find a median of a partition just past it; a partition
      // far past it is split again on the next passes.
      const keys = await node.firstKeys(partition, 2 * splitKeys);
      at = splitPoint(keys, splitKeys);
    }
    if (at === null) {
      at = loadSplitPoint(
        load.perSecond(partition.id, performance.now()),
        load.sample(partition.id),
        this.env.splitPerSecond,
      );
      reason = 'load';
    }
    if (at === null) return false;
    const perSecond = Math.round(load.perSecond(partition.id, performance.now()));
    const result = await this.env.propose({ op: 'split', partition: partition.id, at });
    if (!result.ok) return false;
    load.forget(partition.id);
    this.env.onSplit(reason);
    this.env.log.info(
      { partition: partition.id, at, reason, perSecond, epoch: result.epoch },
      'range partition split',
    );
    return true;
  }

  /** Proposes at most one merge of two small, cold neighbours owned here, else at most one
   *  colocation of such a pair whose right one another node owns (none below the pre-split
   *  count or the node count: merges undo automatic splits, not the operator's --partitions). */
  private async checkMerges(partitions: readonly PartitionInfo[], activeNodes: number): Promise<void> {
    const { node, splitKeys } = this.env;
    if (partitions.length <= Math.max(this.env.minPartitions, activeNodes, 1) || splitKeys <= 0) return;
    const limit = Math.floor(splitKeys * MERGE_FRACTION);
    const candidates = [
      ...mergeablePairs(partitions, node.id).map((i) => ({ i, op: 'merge' as const })),
      ...colocatablePairs(partitions, node.id).map((i) => ({ i, op: 'colocate' as const })),
    ];
    for (const { i, op } of candidates) {
      const left = partitions[i] as PartitionInfo;
      const right = partitions[i + 1] as PartitionInfo;
      if (node.settling.has(left.id) || node.settling.has(right.id)) continue;
      const sizes = [await this.sizeOf(left, limit), await this.sizeOf(right, limit)];
      const keys = sizes[0].keys + sizes[1].keys;
      const perSecond = sizes[0].perSecond + sizes[1].perSecond;
      if (!shouldMerge(keys, splitKeys, perSecond, this.env.splitPerSecond)) continue;
      const result = await this.env.propose({ op, partition: left.id });
      if (result.ok) {
        if (op === 'merge') {
          this.env.node.load.forget(left.id);
          this.env.node.load.forget(right.id);
        }
        this.env.onMerge?.(op);
        this.env.log.info(
          {
            partition: left.id,
            right: right.id,
            owners: [left.owner, right.owner],
            keys,
            epoch: result.epoch,
          },
          op === 'merge' ? 'range partitions merged' : 'small neighbour ranges brought to one node to merge',
        );
      }
      return;
    }
  }

  private async sizeOf(partition: PartitionInfo, keysLimit: number): Promise<PartitionSize> {
    const { node } = this.env;
    if (partition.owner === node.id) return node.size(partition.id, keysLimit);
    const url = node.machine.config?.nodes.find((n) => n.id === partition.owner)?.url;
    if (!url) return { keys: Number.POSITIVE_INFINITY, perSecond: 0 };
    return this.env.remoteSize(url, partition.id, keysLimit);
  }
}
