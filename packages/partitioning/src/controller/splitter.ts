// Automatic splitting of key ranges (DDIA ch. 6 "Partitioning by Key Range" and "Dynamic
// partitioning": HBase and RethinkDB split a partition that grows past a configured size, and
// each half can then be moved to another node). Every node checks the range partitions it owns;
// one holding more than `--split-keys` keys proposes `split` at its median key through the
// controller log. The balancer then retargets (cluster-config.ts) and the mover may hand one
// half to a less loaded node, so data that piled into one pre-split range (all ASCII words land
// in one of the initial ranges) spreads over the cluster as it grows.
import { type ConfigCommand, type ConfigResult, partitionKeyOf } from '../core/index.js';
import type { PartitionNode } from '../partition-node.js';

/** How often an owner looks at the size of its range partitions. */
export const SPLIT_CHECK_MS = 2_000;

export interface SplitterEnv {
  node: PartitionNode;
  splitKeys: number;
  propose: (command: ConfigCommand) => Promise<ConfigResult>;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  onSplit: () => void;
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
    } catch (error) {
      this.env.log.warn({ err: error }, 'split check failed; will retry');
    } finally {
      this.running = false;
    }
  }
}
