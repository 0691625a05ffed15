// Replicas of a partition (`--replicas R`; DDIA ch. 6 "Partitioning and Replication", Figure 6-1:
// each node is the leader of some partitions and a follower of others). The partition's owner is
// its leader; its followers are the in-sync set the controller log records (`replicas`, the ISR
// of Kafka, whose controller plays the same role as ours). Replication is synchronous (ch. 5
// "Synchronous Versus Asynchronous Replication"): under the partition's lock, after a write is
// durable here, the owner pushes the change to every follower and acknowledges it only when all
// of them hold it. A follower that does not answer is first removed from the in-sync set through
// the controller log, and only then is the write acknowledged; so every follower the committed
// configuration lists holds every acknowledged write, and the controller may promote any of them
// when the owner dies (failure-detector.ts).
//
// The data travels with the same pieces as a move (partition-store.ts): a snapshot taken under
// the lock, then changes numbered by the partition's sequence, applied in order by the follower.
// Bringing a partition back to R copies (after a failover, a follower's death or a move) is the
// owner's job: holding the partition's lock (its writes wait), it pushes a snapshot to a node
// that holds no copy and has the controller add that node to the set; the next write reaches it.
import { DdiaError, type HttpClient } from '@ddia/common';
import type { ConfigMachine } from '../controller/config-machine.js';
import type { ClusterConfig, ConfigCommand, ConfigResult, PartitionInfo } from '../core/index.js';
import type { Change, PartitionStore } from '../data/partition-store.js';
import { PartErrors } from '../errors.js';

/** How often an owner looks for partitions with fewer copies than asked. */
export const REPAIR_EVERY_MS = 1_000;
/** Followers being added at once by one owner (each copies a whole partition). */
export const ADDS_PARALLEL_MAX = 2;
/** A node that failed to take a copy is not asked again for this long. */
export const ADD_BACKOFF_MS = 5_000;
/** Longest a push of one change to a follower may take before the follower is dropped. */
export const PUSH_TIMEOUT_MS = 2_000;
/** Longest a snapshot push may take. */
export const SNAPSHOT_PUSH_TIMEOUT_MS = 60_000;

export interface ReplicatorEnv {
  selfId: string;
  machine: ConfigMachine;
  store: PartitionStore;
  client: HttpClient;
  propose: (command: ConfigCommand) => Promise<ConfigResult>;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  onPushed: (outcome: 'ok' | 'failed') => void;
}

export class Replicator {
  private readonly backoffUntil = new Map<string, number>();
  private addsRunning = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly env: ReplicatorEnv) {}

  start(): void {
    this.timer = setInterval(() => this.repair(), REPAIR_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The followers a write of the partition must reach before it is acknowledged. */
  followers(partition: PartitionInfo): string[] {
    return partition.replicas ?? [];
  }

  /**
   * Ships one change (the caller holds the partition's lock and the change is durable here).
   * Resolves once every follower holds it or has been removed from the in-sync set by a
   * committed configuration; rejects (the write's outcome is then unknown to the client) when
   * neither could be done.
   */
  async ship(partitionId: number, change: Change): Promise<void> {
    const config = this.env.machine.config;
    if (!config || (config.replicas ?? 1) <= 1) return;
    const partition = config.partitions.find((p) => p.id === partitionId);
    // The configuration changed while the write ran (a failover took the partition away): the
    // change is only here, on a node that no longer owns it, so it must not be acknowledged.
    if (partition?.owner !== this.env.selfId) throw this.notOwner(partitionId);
    const followers = this.followers(partition);
    if (followers.length === 0) return;
    await Promise.all(
      followers.map(async (follower) => {
        try {
          await this.push(config, follower, partitionId, [change]);
          this.env.onPushed('ok');
        } catch (error) {
          this.env.onPushed('failed');
          await this.drop(partitionId, follower, error);
        }
      }),
    );
  }

  private async push(config: ClusterConfig, follower: string, partitionId: number, changes: Change[]) {
    const url = config.nodes.find((n) => n.id === follower)?.url;
    if (!url) throw new Error(`follower ${follower} has no url`);
    await this.env.client.json(`${url}/internal/partitions/${partitionId}/replicate`, {
      method: 'POST',
      body: { epoch: config.epoch, owner: this.env.selfId, changes },
      deadlineMs: PUSH_TIMEOUT_MS,
      retry: false,
    });
  }

  /** Removes a follower that missed a change from the in-sync set, through the controller. */
  private async drop(partitionId: number, follower: string, cause: unknown): Promise<void> {
    this.env.log.warn(
      { partition: partitionId, follower, err: cause },
      'a follower missed a change; removing it from the in-sync replicas',
    );
    this.backoffUntil.set(follower, performance.now() + ADD_BACKOFF_MS);
    const result = await this.env.propose({ op: 'drop_replica', partition: partitionId, node: follower });
    // Refused means it was no longer in the set (the controller dropped it first): also fine.
    const config = await this.env.machine.waitEpoch(result.ok ? result.epoch : 0, PUSH_TIMEOUT_MS);
    const now = config.partitions.find((p) => p.id === partitionId);
    // Refused because this node was failed over (the follower took the partition): not acked.
    if (now?.owner !== this.env.selfId) throw this.notOwner(partitionId);
    if (now.replicas?.includes(follower)) {
      throw new DdiaError(
        PartErrors.outcomeUnknown,
        `could not remove ${follower} from the in-sync replicas`,
      );
    }
  }

  private notOwner(partitionId: number): DdiaError {
    return new DdiaError(
      PartErrors.outcomeUnknown,
      `partition ${partitionId} was handed to a follower while this write ran; it may not survive`,
    );
  }

  /** Once a second: partitions this node owns with fewer copies than asked get a new follower. */
  private repair(): void {
    const config = this.env.machine.config;
    const copies = config?.replicas ?? 1;
    if (!config || copies <= 1) return;
    const active = config.nodes.filter((n) => n.state === 'active').map((n) => n.id);
    const load = new Map(active.map((id) => [id, 0]));
    for (const p of config.partitions) for (const r of p.replicas ?? []) load.set(r, (load.get(r) ?? 0) + 1);
    const now = performance.now();
    for (const partition of config.partitions) {
      if (this.addsRunning >= ADDS_PARALLEL_MAX) return;
      if (partition.owner !== this.env.selfId || partition.frozen) continue;
      const have = this.followers(partition);
      if (have.length >= copies - 1) continue;
      const candidates = active
        .filter((id) => id !== partition.owner && id !== partition.target && !have.includes(id))
        .filter((id) => (this.backoffUntil.get(id) ?? 0) <= now)
        .sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0) || (a < b ? -1 : 1));
      const follower = candidates[0];
      if (follower === undefined) continue;
      load.set(follower, (load.get(follower) ?? 0) + 1);
      this.addsRunning++;
      void this.add(partition.id, follower)
        .catch((error: unknown) => {
          this.backoffUntil.set(follower, performance.now() + ADD_BACKOFF_MS);
          this.env.log.warn({ partition: partition.id, follower, err: error }, 'adding a follower failed');
        })
        .finally(() => {
          this.addsRunning--;
        });
    }
  }

  /**
   * Copies the partition to `follower` and makes it an in-sync follower. The lock is held from
   * the snapshot to the committed `add_replica`: no write can fall between the copy and the
   * configuration that makes the owner push every later write to it.
   */
  add(partitionId: number, follower: string): Promise<void> {
    return this.env.store.withLock(partitionId, async () => {
      const config = this.env.machine.config;
      const partition = config?.partitions.find((p) => p.id === partitionId);
      if (!config || !partition || partition.owner !== this.env.selfId || partition.frozen)
        throw new Error(`partition ${partitionId} is not served here now`);
      const url = config.nodes.find((n) => n.id === follower)?.url;
      if (!url) throw new Error(`no url for ${follower}`);
      const seq = await this.env.store.seq(partitionId);
      const items = await this.env.store.scan(
        this.env.store.layout.bounds(partition),
        Number.POSITIVE_INFINITY,
      );
      await this.env.client.json(`${url}/internal/partitions/${partitionId}/replica-snapshot`, {
        method: 'POST',
        body: { epoch: config.epoch, owner: this.env.selfId, seq, items },
        deadlineMs: SNAPSHOT_PUSH_TIMEOUT_MS,
        retry: false,
      });
      try {
        const result = await this.env.propose({
          op: 'add_replica',
          partition: partitionId,
          node: follower,
          owner: this.env.selfId,
        });
        if (!result.ok) throw new Error(`the controller refused: ${result.detail}`);
        await this.env.machine.waitEpoch(result.epoch, PUSH_TIMEOUT_MS);
        this.env.log.info({ partition: partitionId, follower, epoch: result.epoch }, 'follower added');
      } catch (error) {
        // The outcome may be unknown (a timeout after the command was appended): take the node
        // out again before any write goes by without reaching it.
        await this.env
          .propose({ op: 'drop_replica', partition: partitionId, node: follower })
          .catch(() => undefined);
        throw error;
      }
    });
  }
}
