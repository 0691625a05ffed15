// The follower's side of partition replication (src/replicas/replicator.ts):
//   POST /internal/partitions/:id/replica-snapshot {epoch, owner, seq, items} - replace this
//        node's copy of the partition by the owner's (sent before the owner adds it to the set);
//   POST /internal/partitions/:id/replicate {epoch, owner, changes} - apply changes in order.
// Both are taken only from the node this node's configuration names as the owner, once it has
// applied the sender's epoch: an owner that was failed over (it was paused, or cut off) gets a
// 409 here and so can never acknowledge another write. Changes must follow on from this copy's
// sequence number without a gap; one already applied (a retry) is skipped.
import { DdiaError, type Service } from '@ddia/common';
import { Type } from 'typebox';
import type { PartitionInfo } from '../core/index.js';
import type { Change, SnapshotItem } from '../data/partition-store.js';
import { PartErrors } from '../errors.js';
import type { PartitionNode } from '../partition-node.js';

/** Numbered changes as the owner sends them (a delete's value is null). Null comes first in the
 *  union: the service's ajv coerces types, and a string branch tried first turns null into "",
 *  so a delete would arrive as a put of an empty value. */
export const CHANGES_SCHEMA = Type.Array(
  Type.Object({
    seq: Type.Integer({ minimum: 1 }),
    key: Type.String(),
    value: Type.Union([Type.Null(), Type.String()]),
  }),
);

/** The largest partition snapshot a follower takes in one request. */
export const REPLICA_SNAPSHOT_BYTES_MAX = 256 * 1024 * 1024;

export interface ReplicaRouteOptions {
  service: Service;
  node: PartitionNode;
  requestTimeoutMs: number;
}

export function registerReplicaRoutes(options: ReplicaRouteOptions): void {
  const { node } = options;
  const app = options.service.app;
  const partitionParams = Type.Object({ id: Type.Integer({ minimum: 0 }) });

  /** The partition if `owner` owns it in a configuration at least as new as `epoch`. */
  const fromOwner = async (id: number, epoch: number, owner: string): Promise<PartitionInfo> => {
    const config = await node.machine.waitEpoch(epoch, options.requestTimeoutMs).catch(() => {
      throw new DdiaError(PartErrors.notReady, `epoch ${epoch} not applied here yet`);
    });
    const partition = config.partitions.find((p) => p.id === id);
    if (!partition) throw new DdiaError(PartErrors.unknownPartition, `no partition ${id}`);
    // A move's target rebuilds its copy from the owner's snapshot and change log
    // (data/receiver.ts); pushes in between could land out of order, so it is not a follower
    // while it receives (the owner drops it from the in-sync set on the refusal).
    if (partition.target === node.id && partition.owner !== node.id) {
      throw new DdiaError(PartErrors.configRefused, `partition ${id} is moving to ${node.id}`);
    }
    if (partition.owner !== owner || owner === node.id) {
      throw new DdiaError(
        PartErrors.configRefused,
        `partition ${id} is owned by ${partition.owner} as of epoch ${config.epoch}, not ${owner}`,
        { owner: partition.owner, epoch: config.epoch },
      );
    }
    return partition;
  };
  /** Runs `apply` under the partition's lock if `owner` owns it (checked before waiting for the
   *  lock and again under it: a failover applied while the request waited wins). */
  const underOwner = async <T>(
    id: number,
    sender: { epoch: number; owner: string },
    apply: (partition: PartitionInfo) => Promise<T>,
  ): Promise<T> => {
    await fromOwner(id, sender.epoch, sender.owner);
    return node.store.withLock(id, async () => apply(await fromOwner(id, sender.epoch, sender.owner)));
  };
  /** What every push from the owner says about its sender. */
  const sender = { epoch: Type.Integer({ minimum: 1 }), owner: Type.String() };

  app.post(
    '/internal/partitions/:id/replica-snapshot',
    {
      bodyLimit: REPLICA_SNAPSHOT_BYTES_MAX,
      schema: {
        tags: ['internal'],
        params: partitionParams,
        body: Type.Object({
          ...sender,
          seq: Type.Integer({ minimum: 0 }),
          items: Type.Array(
            Type.Object({ key: Type.String(), value: Type.String(), version: Type.Integer() }),
          ),
        }),
      },
    },
    async (request) => {
      const { id } = request.params as { id: number };
      const body = request.body as { epoch: number; owner: string; seq: number; items: SnapshotItem[] };
      await underOwner(id, body, (partition) => node.store.importSnapshot(partition, body.seq, body.items));
      return { seq: body.seq, keys: body.items.length };
    },
  );

  app.post(
    '/internal/partitions/:id/replicate',
    {
      schema: {
        tags: ['internal'],
        params: partitionParams,
        body: Type.Object({
          ...sender,
          changes: CHANGES_SCHEMA,
        }),
      },
    },
    async (request) => {
      const { id } = request.params as { id: number };
      const body = request.body as { epoch: number; owner: string; changes: Change[] };
      return underOwner(id, body, async (partition) => {
        if (!partition.replicas?.includes(node.id)) {
          throw new DdiaError(PartErrors.configRefused, `${node.id} is not an in-sync follower of ${id}`);
        }
        const seq = await node.store.seq(id);
        const fresh = body.changes.filter((c) => c.seq > seq);
        const first = fresh[0];
        if (first && first.seq !== seq + 1) {
          throw new DdiaError(
            PartErrors.configRefused,
            `partition ${id} is at ${seq} here; change ${first.seq} leaves a gap`,
          );
        }
        await node.store.applyChanges(id, fresh);
        return { seq: await node.store.seq(id) };
      });
    },
  );
}
