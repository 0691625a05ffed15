// One data node's view of the partitioned store: which partition a key is in, whether this node
// serves it now, local reads and writes on it, and where to send the request otherwise. The
// configuration it consults is its own copy of the controller's state (config-machine.ts):
// a node serves a partition only while the epoch it has applied says it owns it and it is not
// frozen, and it checks again after a read, so that an answer is never from a partition that
// was handed away while the read ran.
import { DdiaError } from '@ddia/common';
import type { ConfigMachine } from './controller/config-machine.js';
import type { ClusterConfig, PartitionInfo } from './core/index.js';
import {
  isReservedKey,
  PartitionLoad,
  type PartitionSize,
  type Posting,
  partitionIndexOf,
  partitionsForScan,
  postingTermPrefix,
} from './core/index.js';
import type { Condition, PartitionStore, SnapshotItem, WriteOutcome } from './data/partition-store.js';
import type { StoredValue } from './data/record.js';
import { PartErrors } from './errors.js';

export type Placement =
  | { kind: 'local'; partition: PartitionInfo; config: ClusterConfig }
  | { kind: 'remote'; partition: PartitionInfo; ownerId: string; ownerUrl: string; config: ClusterConfig };

export class PartitionNode {
  /** Partitions just split off here whose per-id state (sequence, local index) is being set up
   *  (partition-store.ts `splitOff`): refused with a retriable 503 until it is done. */
  readonly settling = new Set<number>();
  /** Requests served here per partition: the load a range split weighs (core/partition-load.ts). */
  readonly load = new PartitionLoad();

  constructor(
    readonly id: string,
    readonly machine: ConfigMachine,
    readonly store: PartitionStore,
  ) {}

  config(): ClusterConfig {
    const config = this.machine.config;
    if (!config)
      throw new DdiaError(PartErrors.notReady, 'the controller has not bootstrapped the cluster yet');
    return config;
  }

  place(key: string): Placement {
    const config = this.config();
    const partition = config.partitions[partitionIndexOf(config, key)] as PartitionInfo;
    if (partition.owner === this.id) return { kind: 'local', partition, config };
    const owner = config.nodes.find((n) => n.id === partition.owner);
    if (!owner) throw new DdiaError(PartErrors.notReady, `owner ${partition.owner} has no url`);
    return { kind: 'remote', partition, ownerId: owner.id, ownerUrl: owner.url, config };
  }

  /** The partition of `key` if this node serves it right now; else the retriable refusal. */
  servable(key: string): PartitionInfo {
    const placement = this.place(key);
    if (placement.kind === 'remote') throw this.wrongOwner(placement);
    // This node sealed the partition for a freeze it has not applied yet (it restarted with a
    // controller log behind its own seal): the partition may already be someone else's.
    if (this.store.sealedEpoch(placement.partition.id) > placement.config.epoch) {
      throw new DdiaError(
        PartErrors.moving,
        `partition ${placement.partition.id} was sealed here at epoch ${this.store.sealedEpoch(placement.partition.id)}; this node is at ${placement.config.epoch}`,
        { partition: placement.partition.id, epoch: placement.config.epoch },
      );
    }
    if (placement.partition.frozen || this.settling.has(placement.partition.id)) {
      throw new DdiaError(
        PartErrors.moving,
        `partition ${placement.partition.id} is moving to ${placement.partition.target}`,
        {
          partition: placement.partition.id,
          target: placement.partition.target,
          epoch: placement.config.epoch,
        },
      );
    }
    return placement.partition;
  }

  wrongOwner(placement: Extract<Placement, { kind: 'remote' }>): DdiaError {
    return new DdiaError(
      PartErrors.wrongOwner,
      `partition ${placement.partition.id} is owned by ${placement.ownerId} as of epoch ${placement.config.epoch}`,
      {
        partition: placement.partition.id,
        owner: placement.ownerId,
        ownerUrl: placement.ownerUrl,
        epoch: placement.config.epoch,
      },
    );
  }

  async get(key: string): Promise<{ partition: PartitionInfo; entry: StoredValue | undefined }> {
    const partition = this.servable(key);
    const entry = await this.store.get(partition.id, key);
    // Still ours and not frozen after the read: no handoff began while it ran (a handoff
    // freezes first and only then flips, both through this node's applied config).
    const after = this.servable(key);
    if (after.id !== partition.id)
      throw new DdiaError(PartErrors.moving, 'the partition changed shape during the read');
    return { partition, entry };
  }

  write(
    key: string,
    value: Uint8Array | null,
    condition: Condition,
  ): Promise<{ partition: PartitionInfo; outcome: WriteOutcome }> {
    const first = this.servable(key);
    return this.store.withLock(first.id, async () => {
      // Checked again under the lock: a freeze applied while this write waited wins.
      const partition = this.servable(key);
      if (partition.id !== first.id)
        throw new DdiaError(PartErrors.moving, 'the partition changed shape; retry');
      return { partition, outcome: await this.store.write(partition.id, key, value, condition) };
    });
  }

  /** Partition `id` by id if this node serves it now (one part of a scan or scatter/gather
   *  names partitions, not keys); else the retriable refusal. */
  private servedHere(id: number): PartitionInfo {
    const config = this.config();
    const partition = config.partitions.find((p) => p.id === id);
    if (!partition) throw new DdiaError(PartErrors.unknownPartition, `no partition ${id}`);
    if (
      partition.owner !== this.id ||
      partition.frozen ||
      this.settling.has(id) ||
      this.store.sealedEpoch(id) > config.epoch
    ) {
      throw new DdiaError(PartErrors.moving, `partition ${id} is not served here now`, { partition: id });
    }
    return partition;
  }

  /** The first `limit` user keys of a partition held here, in order. */
  async firstKeys(partition: PartitionInfo, limit: number): Promise<string[]> {
    const bounds = this.store.layout.bounds(partition);
    const keys: string[] = [];
    for await (const key of this.store.db.keys({ gte: bounds.gte, lt: bounds.lt, limit }))
      keys.push(this.store.layout.userKey(key as string));
    return keys;
  }

  /** Keys (up to `keysLimit`) and recent requests/s of partition `id`, served here: what the
   *  splitter of a neighbour's owner weighs before merging with it. */
  async size(id: number, keysLimit: number): Promise<PartitionSize> {
    const keys = (await this.firstKeys(this.servedHere(id), keysLimit)).length;
    return { keys, perSecond: this.load.perSecond(id, performance.now()) };
  }

  /** Scan of the partitions `ids` (all served here) over [start, end). */
  async scanLocal(ids: number[], start: string, end: string | null, limit: number): Promise<SnapshotItem[]> {
    const out: SnapshotItem[] = [];
    for (const id of ids) {
      const partition = this.servedHere(id);
      const items = await this.store.scan(this.store.layout.scanBounds(partition, start, end), limit);
      // Global index postings are keys of the store but not of the client's key space.
      out.push(...items.filter((item) => !isReservedKey(item.key)));
    }
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return out.slice(0, limit);
  }

  /** Adds `by` to the decimal counter at `key` (absent = 0); answers the new value. */
  increment(key: string, by: number): Promise<{ partition: PartitionInfo; value: number; version: number }> {
    const first = this.servable(key);
    return this.store.withLock(first.id, async () => {
      const partition = this.servable(key);
      if (partition.id !== first.id)
        throw new DdiaError(PartErrors.moving, 'the partition changed shape; retry');
      const current = await this.store.get(partition.id, key);
      const text = current ? Buffer.from(current.value).toString('utf8') : '0';
      if (!/^-?\d{1,15}$/.test(text)) {
        throw new DdiaError(
          PartErrors.notACounter,
          `${JSON.stringify(key)} holds a value that is not an integer`,
        );
      }
      const value = Number(text) + by;
      const outcome = await this.store.write(partition.id, key, Buffer.from(String(value)), { kind: 'none' });
      if (outcome.status !== 'ok') throw new Error(`unconditional write answered ${outcome.status}`);
      return { partition, value, version: outcome.version };
    });
  }

  /** Stores a global index posting in the partition its term belongs to (if served here). */
  applyPosting(key: string, posting: Posting): Promise<boolean> {
    const first = this.servable(key);
    return this.store.withLock(first.id, async () => {
      const partition = this.servable(key);
      if (partition.id !== first.id)
        throw new DdiaError(PartErrors.moving, 'the partition changed shape; retry');
      return this.store.applyPosting(partition.id, key, posting);
    });
  }

  /** Global index lookup: the one partition holding the term's postings must be served here. */
  async postings(index: string, term: string, limit: number): Promise<{ partition: number; keys: string[] }> {
    const prefix = postingTermPrefix(index, term);
    const partition = this.servable(prefix);
    const keys = await this.store.postings(partition.id, index, term, limit);
    this.servable(prefix);
    return { partition: partition.id, keys };
  }

  /** Local index lookup in the partitions `ids` (all served here): one part of a scatter/gather. */
  async localLookup(ids: number[], index: string, term: string, limit: number): Promise<string[]> {
    const out: string[] = [];
    for (const id of ids) {
      this.servedHere(id);
      out.push(...(await this.store.localLookup(id, index, term, limit)));
    }
    return out;
  }

  /** Every partition grouped by owner: the fan-out of a scatter/gather query. */
  ownerGroups(): Map<string, { url: string; ids: number[] }> {
    const config = this.config();
    const plan = new Map<string, { url: string; ids: number[] }>();
    for (const partition of config.partitions) {
      const url = config.nodes.find((n) => n.id === partition.owner)?.url ?? '';
      const group = plan.get(partition.owner) ?? { url, ids: [] };
      group.ids.push(partition.id);
      plan.set(partition.owner, group);
    }
    return plan;
  }

  /** The partitions a scan visits, grouped by owner (one, for one partition key's sort keys). */
  scanPlan(
    start: string,
    end: string | null,
    partitionKey?: string,
  ): Map<string, { url: string; ids: number[] }> {
    const config = this.config();
    const plan = new Map<string, { url: string; ids: number[] }>();
    for (const index of partitionsForScan(config, start, end, partitionKey)) {
      const partition = config.partitions[index] as PartitionInfo;
      const url = config.nodes.find((n) => n.id === partition.owner)?.url ?? '';
      const group = plan.get(partition.owner) ?? { url, ids: [] };
      group.ids.push(partition.id);
      plan.set(partition.owner, group);
    }
    return plan;
  }
}
