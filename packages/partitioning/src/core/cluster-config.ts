// The controller's state: which partitions exist, who owns each, where each is going, and the
// epoch that numbers every version of this configuration. It is a deterministic state machine
// replicated by a Raft group (the role ZooKeeper plays for HBase and Kafka, DDIA ch. 6
// "Request Routing"): every node applies the same commands in the same order and so holds the
// same assignment, and a node that has applied epoch E knows exactly what E says it owns.
//
// A partition moves in two committed steps (6.5840 shardkv's "handoff"):
//   freeze  - the owner stops serving the partition (reads and writes) once it applies this;
//   finish  - ownership flips to the target; the target serves from the copied data.
// Between them the data is copied; `abort` unfreezes when a copy fails.
//
// Replicas (`--replicas R`, DDIA ch. 5 "Leaders and Followers" applied per partition, ch. 6
// "Partitioning and Replication"): the owner is the partition's leader and `replicas` lists its
// in-sync followers, the replica set Kafka calls the ISR. The owner acknowledges a write only
// once every follower listed in the configuration it has applied holds it (src/replicas/), so
// every follower in the committed set holds every acknowledged write. The set changes only
// through this log: the owner adds a follower after pushing it a snapshot (`add_replica`) and
// removes one it cannot reach before it acknowledges anything more (`drop_replica`); the
// controller leader promotes a follower of a dead owner (`fail_over`). A promoted follower may
// lack a write the dead owner sent to others but never acknowledged, so after a failover the
// followers are copied again from the new owner rather than trusted.
import { rebalance } from './assignment.js';
import { ringSlotOwners, VNODES_DEFAULT } from './consistent-hash.js';
import { initialRanges, type KeyRange, mergeRanges, splitRanges } from './key-ranges.js';
import type { IndexSpec } from './secondary-index.js';

export const SCHEMES = ['hash', 'range', 'consistent-hash'] as const;
export type Scheme = (typeof SCHEMES)[number];

export interface NodeInfo {
  id: string;
  url: string;
  state: 'active' | 'leaving';
}

export interface PartitionInfo {
  /** Stable id; for hash schemes the slot number. */
  id: number;
  owner: string;
  /** Where the balancer wants it; differs from `owner` while a move is pending. */
  target: string;
  /** The owner has stopped serving it: the final copy and the flip are under way. */
  frozen: boolean;
  /** Range scheme only: the keys it holds. Partitions are kept in key order. */
  range?: KeyRange;
  /** Epoch at which this partition last changed owner or shape. */
  since: number;
  /** In-sync followers (never the owner); absent when the cluster keeps one copy. */
  replicas?: string[];
}

export interface ClusterConfig {
  epoch: number;
  scheme: Scheme;
  vnodes: number;
  nodes: NodeInfo[];
  partitions: PartitionInfo[];
  nextPartitionId: number;
  /** Copies of each partition (owner + followers) the owners keep up; absent means 1. */
  replicas?: number;
  /** Secondary indexes created online (POST /indexes), with the epoch that created each: every
   *  node maintains one from the moment it applies that epoch and backfills its partitions. */
  indexes?: (IndexSpec & { since: number })[];
}

export type ConfigCommand =
  | {
      op: 'bootstrap';
      scheme: Scheme;
      partitions: number;
      nodes: { id: string; url: string }[];
      vnodes?: number;
      replicas?: number;
    }
  | { op: 'join'; id: string; url: string }
  | { op: 'leave'; id: string }
  | { op: 'freeze'; partition: number; to: string }
  | { op: 'finish'; partition: number; to: string }
  | { op: 'abort'; partition: number }
  | { op: 'split'; partition: number; at: string }
  | { op: 'merge'; partition: number }
  | { op: 'colocate'; partition: number }
  | { op: 'create_index'; index: IndexSpec }
  | { op: 'add_replica'; partition: number; node: string; owner: string }
  | { op: 'drop_replica'; partition: number; node: string }
  | { op: 'fail_over'; partition: number; from: string; to: string };

export type ConfigRefusal =
  | 'not_bootstrapped'
  | 'already_bootstrapped'
  | 'node_exists'
  | 'unknown_node'
  | 'last_node'
  | 'too_many_nodes'
  | 'unknown_partition'
  | 'stale_move'
  | 'bad_split'
  | 'index_exists'
  | 'bad_replica';

export type ConfigResult =
  | { ok: true; epoch: number }
  | { ok: false; refusal: ConfigRefusal; detail: string };

/** Applies one command; returns the next config (unchanged when refused) and the result. */
export function applyConfigCommand(
  config: ClusterConfig | null,
  command: ConfigCommand,
): { config: ClusterConfig | null; result: ConfigResult } {
  if (command.op === 'bootstrap') {
    if (config !== null) return refuse(config, 'already_bootstrapped', `already at epoch ${config.epoch}`);
    return done(bootstrap(command));
  }
  if (config === null) return refuse(config, 'not_bootstrapped', 'the cluster has no configuration yet');
  const next: ClusterConfig = structuredClone(config);
  next.epoch = config.epoch + 1;
  const partition =
    'partition' in command ? next.partitions.find((p) => p.id === command.partition) : undefined;
  switch (command.op) {
    case 'join': {
      const existing = next.nodes.find((n) => n.id === command.id);
      if (existing)
        return refuse(config, 'node_exists', `node ${command.id} is already a member (${existing.state})`);
      if (next.scheme !== 'consistent-hash' && active(next).length + 1 > next.partitions.length) {
        return refuse(
          config,
          'too_many_nodes',
          `${next.partitions.length} partitions cannot be spread over ${active(next).length + 1} nodes`,
        );
      }
      next.nodes.push({ id: command.id, url: command.url, state: 'active' });
      retarget(next);
      return done(next);
    }
    case 'leave': {
      const node = next.nodes.find((n) => n.id === command.id);
      if (node?.state !== 'active') return refuse(config, 'unknown_node', `no active node ${command.id}`);
      if (active(next).length === 1)
        return refuse(config, 'last_node', `${command.id} is the last active node`);
      node.state = 'leaving';
      // A leaving node stops being anyone's follower at once: removing a follower from the
      // in-sync set is always safe (the remaining ones still hold every acknowledged write).
      for (const p of next.partitions)
        if (p.replicas) p.replicas = p.replicas.filter((r) => r !== command.id);
      retarget(next);
      dropDeparted(next);
      return done(next);
    }
    case 'freeze': {
      if (!partition) return refuse(config, 'unknown_partition', `no partition ${command.partition}`);
      if (partition.target !== command.to || partition.owner === command.to) {
        return refuse(config, 'stale_move', `partition ${partition.id} is not moving to ${command.to}`);
      }
      partition.frozen = true;
      return done(next);
    }
    case 'finish': {
      if (!partition) return refuse(config, 'unknown_partition', `no partition ${command.partition}`);
      if (!partition.frozen || partition.target !== command.to) {
        return refuse(config, 'stale_move', `partition ${partition.id} is not frozen for ${command.to}`);
      }
      partition.owner = command.to;
      partition.frozen = false;
      partition.since = next.epoch;
      // The followers hold exactly what the sealed owner had (each write reached them before it
      // was acknowledged, and the seal waited for writes in flight): the new owner keeps them.
      if (partition.replicas) partition.replicas = partition.replicas.filter((r) => r !== command.to);
      dropDeparted(next);
      return done(next);
    }
    case 'abort': {
      if (!partition) return refuse(config, 'unknown_partition', `no partition ${command.partition}`);
      partition.frozen = false;
      return done(next);
    }
    case 'split': {
      const index = next.partitions.findIndex((p) => p.id === command.partition);
      const part = next.partitions[index];
      if (!part?.range) return refuse(config, 'unknown_partition', `no range partition ${command.partition}`);
      const { start, end } = part.range;
      if (part.frozen || part.owner !== part.target)
        return refuse(config, 'bad_split', 'the partition is moving');
      if (!(command.at > start && (end === null || command.at < end))) {
        return refuse(
          config,
          'bad_split',
          `split point ${JSON.stringify(command.at)} is not inside the range`,
        );
      }
      const ranges = splitRanges(
        next.partitions.map((p) => p.range as KeyRange),
        index,
        command.at,
      );
      const right: PartitionInfo = { ...part, id: next.nextPartitionId++, since: next.epoch };
      part.since = next.epoch;
      next.partitions.splice(index + 1, 0, right);
      next.partitions.forEach((p, i) => {
        p.range = ranges[i] as KeyRange;
      });
      retarget(next);
      return done(next);
    }
    case 'create_index': {
      const existing = next.indexes?.find((i) => i.name === command.index.name);
      if (existing) {
        return refuse(
          config,
          'index_exists',
          `index ${command.index.name} exists since epoch ${existing.since}`,
        );
      }
      const { name, field, kind } = command.index;
      next.indexes = [...(next.indexes ?? []), { name, field, kind, since: next.epoch }];
      return done(next);
    }
    case 'add_replica': {
      if (!partition) return refuse(config, 'unknown_partition', `no partition ${command.partition}`);
      const node = next.nodes.find((n) => n.id === command.node);
      if (partition.owner !== command.owner)
        return refuse(config, 'stale_move', `partition ${partition.id} is not owned by ${command.owner}`);
      if (node?.state !== 'active' || command.node === partition.owner || command.node === partition.target)
        return refuse(config, 'bad_replica', `${command.node} cannot follow partition ${partition.id}`);
      const replicas = partition.replicas ?? [];
      if (replicas.includes(command.node))
        return refuse(config, 'bad_replica', `${command.node} already follows partition ${partition.id}`);
      if (replicas.length + 1 >= (next.replicas ?? 1))
        return refuse(
          config,
          'bad_replica',
          `partition ${partition.id} has its ${next.replicas ?? 1} copies`,
        );
      partition.replicas = [...replicas, command.node];
      return done(next);
    }
    case 'drop_replica': {
      if (!partition) return refuse(config, 'unknown_partition', `no partition ${command.partition}`);
      if (!partition.replicas?.includes(command.node))
        return refuse(config, 'bad_replica', `${command.node} does not follow partition ${partition.id}`);
      partition.replicas = partition.replicas.filter((r) => r !== command.node);
      return done(next);
    }
    case 'fail_over': {
      if (!partition) return refuse(config, 'unknown_partition', `no partition ${command.partition}`);
      if (partition.owner !== command.from || !partition.replicas?.includes(command.to)) {
        return refuse(
          config,
          'bad_replica',
          `partition ${partition.id} is not owned by ${command.from} with ${command.to} in sync`,
        );
      }
      partition.owner = command.to;
      if (partition.target === command.from) partition.target = command.to;
      // A move of the dead owner's partition cannot finish (its seal needs the owner): the new
      // owner serves it, and the mover starts again from there if the target is elsewhere.
      partition.frozen = false;
      partition.since = next.epoch;
      // The other followers may hold a write the dead owner sent them but never acknowledged,
      // which the new owner lacks: they are copied again rather than kept.
      partition.replicas = [];
      return done(next);
    }
    case 'colocate': {
      // Two neighbouring small ranges on different owners cannot merge in place: one of them
      // moves to the other's owner first (an ordinary move: copy, freeze, flip), then that
      // owner merges them. The one that moves is the one whose owner holds more partitions, so
      // that after the merge the counts are balanced again; until then they may differ by two.
      const index = next.partitions.findIndex((p) => p.id === command.partition);
      const left = next.partitions[index];
      const right = next.partitions[index + 1];
      if (!left?.range || !right)
        return refuse(config, 'unknown_partition', 'colocate needs a range partition with a right neighbour');
      const still = (p: PartitionInfo) => !p.frozen && p.owner === p.target;
      if (left.owner === right.owner || !still(left) || !still(right))
        return refuse(config, 'bad_split', 'only two resting partitions on different nodes colocate');
      if (pendingMoves(next).length > 0)
        return refuse(config, 'bad_split', 'moves are pending; colocate after the cluster is balanced');
      if (next.partitions.length - 1 < active(next).length)
        return refuse(config, 'too_many_nodes', 'merging would leave fewer partitions than nodes');
      const owned = (node: string) => next.partitions.filter((p) => p.owner === node).length;
      const [giver, receiver] = owned(left.owner) > owned(right.owner) ? [left, right] : [right, left];
      giver.target = receiver.owner;
      return done(next);
    }
    case 'merge': {
      const index = next.partitions.findIndex((p) => p.id === command.partition);
      const left = next.partitions[index];
      const right = next.partitions[index + 1];
      if (!left?.range || !right)
        return refuse(config, 'unknown_partition', 'merge needs a range partition with a right neighbour');
      const still = (p: PartitionInfo) => !p.frozen && p.owner === p.target;
      if (left.owner !== right.owner || !still(left) || !still(right)) {
        return refuse(config, 'bad_split', 'only two resting partitions on one node merge');
      }
      if (next.partitions.length - 1 < active(next).length) {
        return refuse(config, 'too_many_nodes', 'merging would leave fewer partitions than nodes');
      }
      const ranges = mergeRanges(
        next.partitions.map((p) => p.range as KeyRange),
        index,
      );
      next.partitions.splice(index + 1, 1);
      left.since = next.epoch;
      // Only a follower that held both halves holds the merged partition; the owner copies it
      // to others to get back to its number of copies.
      if (left.replicas) left.replicas = left.replicas.filter((r) => right.replicas?.includes(r));
      next.partitions.forEach((p, i) => {
        p.range = ranges[i] as KeyRange;
      });
      retarget(next);
      return done(next);
    }
  }
}

function bootstrap(command: Extract<ConfigCommand, { op: 'bootstrap' }>): ClusterConfig {
  const ids = command.nodes.map((n) => n.id);
  const vnodes = command.vnodes ?? VNODES_DEFAULT;
  const owners =
    command.scheme === 'consistent-hash'
      ? ringSlotOwners(ids, command.partitions, vnodes)
      : rebalance(new Array(command.partitions).fill(null), ids);
  const ranges = command.scheme === 'range' ? initialRanges(command.partitions) : null;
  const copies = Math.min(command.replicas ?? 1, ids.length);
  // Followers of a partition: the next copies-1 nodes after its owner in the member list.
  const followersOf = (owner: string): string[] => {
    const at = ids.indexOf(owner);
    return Array.from({ length: copies - 1 }, (_, i) => ids[(at + 1 + i) % ids.length] as string);
  };
  return {
    epoch: 1,
    scheme: command.scheme,
    vnodes,
    nodes: command.nodes.map((n) => ({ id: n.id, url: n.url, state: 'active' })),
    partitions: owners.map((owner, id) => ({
      id,
      owner,
      target: owner,
      frozen: false,
      since: 1,
      ...(ranges ? { range: ranges[id] as KeyRange } : {}),
      ...(copies > 1 ? { replicas: followersOf(owner) } : {}),
    })),
    nextPartitionId: command.partitions,
    ...(copies > 1 ? { replicas: copies } : {}),
  };
}

function active(config: ClusterConfig): string[] {
  return config.nodes.filter((n) => n.state === 'active').map((n) => n.id);
}

/** Recomputes every partition's target from the active nodes; owners stay until moves finish. */
function retarget(config: ClusterConfig): void {
  const nodes = active(config);
  const targets =
    config.scheme === 'consistent-hash'
      ? ringSlotOwners(nodes, config.partitions.length, config.vnodes)
      : rebalance(
          config.partitions.map((p) => p.target),
          nodes,
        );
  config.partitions.forEach((p, i) => {
    p.target = targets[i] as string;
  });
}

/** A leaving node is gone once it owns nothing and nothing is headed to it. */
function dropDeparted(config: ClusterConfig): void {
  config.nodes = config.nodes.filter(
    (n) => n.state === 'active' || config.partitions.some((p) => p.owner === n.id || p.target === n.id),
  );
}

function done(config: ClusterConfig): { config: ClusterConfig; result: ConfigResult } {
  return { config, result: { ok: true, epoch: config.epoch } };
}

function refuse(
  config: ClusterConfig | null,
  refusal: ConfigRefusal,
  detail: string,
): { config: ClusterConfig | null; result: ConfigResult } {
  return { config, result: { ok: false, refusal, detail } };
}

/** Partitions whose owner differs from their target: the moves still to make. */
export function pendingMoves(config: ClusterConfig): PartitionInfo[] {
  return config.partitions.filter((p) => p.owner !== p.target);
}
