// One partitioning node: its store (openStore, LSM by default), its member of the controller
// Raft group (the configuration: partitions, owners, epochs), the mover it runs while it leads
// that group, and the HTTP service carrying client, admin, internal and Raft traffic on one
// port. main.ts starts one from flags; tests start several as real processes.
import { join } from 'node:path';
import {
  type Config,
  ConfigError,
  createService,
  type FileSystem,
  type FlagSpec,
  HttpClient,
  openStore,
  type RunningService,
  raftMemberFlags,
  registerRaftMetrics,
  requestTimeoutFlag,
  sizeLimitFlags,
  sizeLimits,
} from '@ddia/common';
import { lsmEngine } from '@ddia/lsm-engine';
import { FileStorage, MemoryStorage, RaftNode, registerRaftRoutes, serviceMemberOptions } from '@ddia/raft';
import { ConfigMachine } from './controller/config-machine.js';
import { Controller } from './controller/controller.js';
import { frozenMs, Mover } from './controller/mover.js';
import { Splitter } from './controller/splitter.js';
import {
  type ClusterConfig,
  HotKeyTracker,
  type IndexSpec,
  type KeyRange,
  PARTITIONS_MAX,
  type PartitionInfo,
  type PartitionSize,
  parseIndexSpecs,
  rangeContains,
  SALT_BUCKETS_MAX,
  SCHEMES,
  type Scheme,
  VNODES_DEFAULT,
} from './core/index.js';
import { Layout } from './data/layout.js';
import { PartitionStore } from './data/partition-store.js';
import { Receiver } from './data/receiver.js';
import { registerCounterRoutes } from './http/counter-routes.js';
import { registerIndexRoutes } from './http/index-routes.js';
import { registerReplicaRoutes } from './http/replica-routes.js';
import { KEY_BYTES_MAX_DEFAULT, VALUE_BYTES_MAX_DEFAULT } from './http/request-parts.js';
import { GlobalOutbox } from './indexes/global-outbox.js';
import { IndexBuilder } from './indexes/index-builder.js';
import { PartitionMetrics, RAFT_PREFIX } from './metrics.js';
import { PartitionNode } from './partition-node.js';
import { FailureDetector } from './replicas/failure-detector.js';
import { Learners } from './replicas/learners.js';
import { Replicator } from './replicas/replicator.js';
import { registerRoutes } from './server.js';

/** Copies of a partition: more would only add synchronous round trips on this lab's scale. */
export const REPLICAS_MAX = 5;

export const PARTITION_FLAGS = {
  scheme: {
    type: 'string',
    description: 'how keys map to partitions: hash (fixed partitions), range (key ranges) or consistent-hash',
    default: 'hash',
    choices: SCHEMES,
  },
  partitions: {
    type: 'number',
    description: 'number of partitions (hash slots, ring arcs, or initial key ranges; range: at most 256)',
    default: 64,
    min: 1,
    max: PARTITIONS_MAX,
  },
  replicas: {
    type: 'number',
    description:
      'copies of each partition: the owner and replicas-1 in-sync followers it writes through synchronously (at most the number of nodes)',
    default: 1,
    min: 1,
    max: REPLICAS_MAX,
  },
  'split-keys': {
    type: 'number',
    description:
      'range scheme: a partition holding more keys than this is split at its median key (0: never split automatically)',
    default: 10_000,
    min: 0,
    max: 10_000_000,
  },
  'split-rps': {
    type: 'number',
    description:
      'range scheme: a partition serving more requests/s than this is split at the median of its recently requested keys (0: never split for load)',
    default: 2_500,
    min: 0,
    max: 10_000_000,
  },
  'failover-ms': {
    type: 'number',
    description:
      'with --replicas > 1: a node whose /health has not answered the controller leader for this long is taken for dead and its partitions go to a follower',
    default: 3_000,
    min: 200,
    max: 600_000,
  },
  vnodes: {
    type: 'number',
    description: 'virtual nodes per node on the consistent-hash ring',
    default: VNODES_DEFAULT,
    min: 1,
    max: 1024,
  },
  ...sizeLimitFlags({ keyBytesMax: KEY_BYTES_MAX_DEFAULT, valueBytesMax: VALUE_BYTES_MAX_DEFAULT }),
  ...requestTimeoutFlag('how long a client request may wait for the owner (forwarding, moves) before 503'),
  ...raftMemberFlags({ group: 'controller', joinHow: 'then POST /cluster/nodes {id, url} to any member' }),
  indexes: {
    type: 'string',
    description:
      'secondary indexes on a JSON field of the values: name=field:local|global,... (every node must declare the same)',
    default: '',
  },
  'hot-keys': {
    type: 'string',
    description:
      'counter keys declared hot, comma-separated: their increments are salted over --salt-buckets sub-keys',
    default: '',
  },
  'salt-buckets': {
    type: 'number',
    description: 'sub-keys a hot key is spread over (the random suffix of DDIA ch. 6)',
    default: 8,
    min: 1,
    max: SALT_BUCKETS_MAX,
  },
} as const satisfies Record<string, FlagSpec>;

export type PartitionConfig = Config<typeof PARTITION_FLAGS>;

export interface PartitionService extends RunningService {
  raft: RaftNode<unknown>;
  machine: ConfigMachine;
  node: PartitionNode;
}

/** The --indexes flag, or a ConfigError naming it. */
export function indexSpecsOf(config: PartitionConfig): IndexSpec[] {
  try {
    return parseIndexSpecs(config.extra.indexes ?? '');
  } catch (error) {
    throw new ConfigError('indexes', (error as Error).message);
  }
}

/** Checks the flags that depend on each other (the flag parser checks each alone). */
export function checkPartitionConfig(config: PartitionConfig): void {
  indexSpecsOf(config);
  const scheme = config.extra.scheme as Scheme;
  const partitions = config.extra.partitions;
  if (scheme === 'range' && partitions > 256) {
    throw new ConfigError(
      'partitions',
      `the range scheme pre-splits into at most 256 partitions, got ${partitions}`,
    );
  }
  const nodes = Math.max(1, config.peers.length);
  if (!config.extra.join && config.extra.replicas > nodes) {
    throw new ConfigError(
      'replicas',
      `${config.extra.replicas} copies of each partition need at least ${config.extra.replicas} nodes, got ${nodes}`,
    );
  }
  if (!config.extra.join && partitions < nodes) {
    throw new ConfigError(
      'partitions',
      `${partitions} partitions cannot be spread over ${nodes} nodes (need >= nodes)`,
    );
  }
}

export interface PartitionServiceHooks {
  onFatal?: (error: unknown) => void;
  /** The file system under --data-dir (the partition store and the controller's Raft log):
   *  the real one unless a test passes testkit's FaultFileSystem (test/power-loss.test.ts). */
  fs?: FileSystem;
  /** Holds each move this node runs between its copy and its freeze until it resolves. */
  moveCopied?: (partition: number) => Promise<void>;
}

export async function startPartitionService(
  config: PartitionConfig,
  hooks: PartitionServiceHooks = {},
): Promise<PartitionService> {
  checkPartitionConfig(config);
  const scheme = config.extra.scheme as Scheme;
  const durable = config.dataDir !== undefined;
  const db = await openStore({
    engine: durable ? config.engine : 'memory',
    ...(config.dataDir ? { dataDir: config.dataDir } : {}),
    name: 'partitions',
    lsm: lsmEngine,
    ...(hooks.fs ? { fs: hooks.fs } : {}),
    keyEncoding: 'utf8',
    valueEncoding: 'view',
  });
  const machine = new ConfigMachine();
  // The layout follows the cluster's scheme once known (a joining node learns it from the log).
  const layout = new Layout(() => machine.config?.scheme ?? scheme);
  const indexes = indexSpecsOf(config);
  const hotKeys = new Set(
    (config.extra['hot-keys'] ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter((k) => k !== ''),
  );
  const store = new PartitionStore(db, layout, indexes);
  await store.init();
  const node = new PartitionNode(config.id, machine, store);
  const client = new HttpClient({ deadlineMs: config.extra['request-timeout-ms'], retries: 0 });
  let raft: RaftNode<unknown> | undefined;
  let controller: Controller | undefined;
  let outbox: GlobalOutbox | undefined;
  let builder: IndexBuilder | undefined;
  let replicator: Replicator | undefined;
  let detector: FailureDetector | undefined;
  let splitter: Splitter | undefined;

  const service = await createService({
    name: 'partitioning',
    description: 'Chapter 6: a partitioned store with rebalancing and request routing',
    config,
    bodyLimitBytes: Math.max(config.extra['value-bytes-max'], 64 * 1024),
    ready: () => machine.config !== null,
    onClose: async () => {
      controller?.stop();
      replicator?.stop();
      detector?.stop();
      splitter?.stop();
      outbox?.stop();
      builder?.stop();
      await raft?.stop();
      await client.close();
      await db.close();
    },
  });

  const storage = durable
    ? await FileStorage.open({
        dir: join(config.dataDir as string, 'controller-raft'),
        fsync: 'group',
        ...(hooks.fs ? { fs: hooks.fs } : {}),
      })
    : new MemoryStorage();
  const started = await RaftNode.start<unknown>({
    ...serviceMemberOptions(config),
    storage,
    stateMachine: {
      apply: (command) => machine.apply(command),
      snapshot: () => machine.snapshot(),
      restore: (data) => machine.restore(data),
    },
    snapshotEntries: 1_000,
    forwardProposals: true,
    logger: service.log,
  });
  raft = started;
  started.on('fatal', (error: unknown) => {
    service.log.fatal({ err: error }, 'the controller group stopped; this node can no longer serve');
    hooks.onFatal?.(error);
  });

  const metrics = new PartitionMetrics(service.registry, {
    epoch: () => machine.config?.epoch ?? 0,
    owned: () => machine.config?.partitions.filter((p) => p.owner === config.id).length ?? 0,
    moving: () => machine.config?.partitions.filter((p) => p.owner !== p.target).length ?? 0,
  });
  registerRaftMetrics(service.registry, RAFT_PREFIX, 'controller group (the partition map)', started);
  const receiver = new Receiver(store, client, machine, config.id);
  const learners = new Learners({
    selfId: config.id,
    machine,
    client,
    log: service.log,
    onFed: (outcome) => metrics.learnerFeeds.inc({ outcome }),
  });
  let ctl: Controller;
  const mover = new Mover({
    client,
    config: () => machine.config,
    propose: (command) => ctl.propose(command),
    isLeader: () => started.isLeader,
    log: service.log,
    onFinished: (move, ok) => {
      metrics.moves.inc({ outcome: ok ? 'ok' : 'failed' });
      if (!ok) return;
      metrics.moveFrozen.observe(frozenMs(move) / 1000);
      for (const [stage, ms] of Object.entries(move.stageMs)) metrics.moveStage.observe({ stage }, ms / 1000);
    },
    ...(hooks.moveCopied ? { copied: hooks.moveCopied } : {}),
  });
  ctl = new Controller(
    () => started,
    machine,
    mover,
    client,
    {
      scheme,
      partitions: config.extra.partitions,
      vnodes: config.extra.vnodes,
      replicas: config.extra.replicas,
    },
    service.log,
  );
  controller = ctl;

  replicator = new Replicator({
    selfId: config.id,
    machine,
    store,
    client,
    propose: (command) => ctl.propose(command),
    log: service.log,
    onPushed: (outcome) => metrics.replicaPushes.inc({ outcome }),
  });
  const shipper = replicator;
  // A write reaches the partition's followers and, during a move's copy, its target.
  store.onWrite = async (partitionId, change) => {
    await Promise.all([learners.feed(partitionId, change), shipper.ship(partitionId, change)]);
  };
  detector = new FailureDetector({
    selfId: config.id,
    machine,
    client,
    isLeader: () => started.isLeader,
    propose: (command) => ctl.propose(command),
    failoverMs: config.extra['failover-ms'],
    log: service.log,
    onFailover: () => metrics.failovers.inc(),
  });

  // Garbage collection after a handoff: once this node applies an epoch in which a partition it
  // owned or followed is neither its own nor followed by it nor headed to it, its copy is
  // dropped (a new owner has every write: the flip happens only after the sealed catch-up, and a
  // failover promotes only an in-sync follower).
  const holds = (p: PartitionInfo | undefined) =>
    p !== undefined &&
    (p.owner === config.id || p.target === config.id || (p.replicas ?? []).includes(config.id));
  let previous: ClusterConfig | null = machine.config;
  machine.on('config', (next) => {
    const before = previous;
    previous = next;
    if (!before) return;
    // A range split: the new partition's per-id state is set up on every node that held the
    // partition it came from, before it serves (the lock of the new id is queued first, here,
    // synchronously with the apply, so no request or copy of it runs before).
    for (const part of next.partitions) {
      if (!part.range || before.partitions.some((p) => p.id === part.id)) continue;
      const start = part.range.start;
      const left = before.partitions.find((p) => p.range && rangeContains(p.range, start));
      const leftNow = left && next.partitions.find((p) => p.id === left.id);
      if (!left || !leftNow || !(left.owner === config.id || (left.replicas ?? []).includes(config.id)))
        continue;
      node.settling.add(part.id);
      void store
        .withLock(part.id, () => store.withLock(leftNow.id, () => store.splitOff(leftNow, part)))
        .catch((error: unknown) =>
          service.log.error({ err: error, partition: part.id }, 'setting up a split-off partition failed'),
        )
        .finally(() => node.settling.delete(part.id));
    }
    // A range merge: the right partition's id is gone and its range is the left's now. A node
    // that held both folds the right's per-id state into the left (mergeIn); one that held the
    // right alone drops its copy of it.
    for (const gone of before.partitions) {
      if (!gone.range || next.partitions.some((p) => p.id === gone.id)) continue;
      if (gone.owner !== config.id && !(gone.replicas ?? []).includes(config.id)) continue;
      const merged = next.partitions.find(
        (p) => p.range && rangeContains(p.range, (gone.range as KeyRange).start),
      );
      if (!merged) continue;
      const keeps = holds(merged) && holds(before.partitions.find((p) => p.id === merged.id));
      node.settling.add(merged.id);
      void store
        .withLock(merged.id, () =>
          store.withLock(gone.id, () =>
            keeps ? store.mergeIn(merged.id, gone.id) : store.drop(gone).then(() => undefined),
          ),
        )
        .catch((error: unknown) =>
          service.log.error({ err: error, partition: gone.id }, 'folding a merged partition failed'),
        )
        .finally(() => node.settling.delete(merged.id));
    }
    for (const part of before.partitions) {
      if (part.owner !== config.id && !(part.replicas ?? []).includes(config.id)) continue;
      const now = next.partitions.find((p) => p.id === part.id);
      if (now && !holds(now)) {
        receiver.forget(part.id);
        void store
          .withLock(part.id, () => store.drop(now))
          .catch((error: unknown) =>
            service.log.warn({ err: error, partition: part.id }, 'dropping a moved partition failed'),
          );
      }
    }
  });

  const tracker = new HotKeyTracker();
  outbox = new GlobalOutbox(node, client, metrics, service.log);
  registerRaftRoutes(service.app, started);
  registerReplicaRoutes({ service, node, requestTimeoutMs: config.extra['request-timeout-ms'] });
  builder = new IndexBuilder(config.id, machine, store, new Set(indexes.map((i) => i.name)), service.log);
  registerIndexRoutes({
    service,
    node,
    client,
    metrics,
    declared: indexes,
    indexes: () => store.indexes,
    builder,
    controller: ctl,
    requestTimeoutMs: config.extra['request-timeout-ms'],
  });
  registerCounterRoutes({
    service,
    node,
    client,
    metrics,
    tracker,
    hotKeys,
    saltBuckets: config.extra['salt-buckets'],
    keyBytesMax: config.extra['key-bytes-max'],
    requestTimeoutMs: config.extra['request-timeout-ms'],
  });
  const shapeChanges = { splitsBySize: 0, splitsByLoad: 0, merges: 0, colocations: 0 };
  splitter = new Splitter({
    node,
    splitKeys: config.extra['split-keys'],
    splitPerSecond: config.extra['split-rps'],
    minPartitions: config.extra.partitions,
    propose: (command) => ctl.propose(command),
    remoteSize: (ownerUrl, partition, keysLimit) =>
      client.json<PartitionSize>(`${ownerUrl}/internal/partitions/${partition}/size?limit=${keysLimit}`, {
        deadlineMs: config.extra['request-timeout-ms'],
      }),
    log: service.log,
    onSplit: (reason) => {
      metrics.splits.inc({ reason });
      if (reason === 'size') shapeChanges.splitsBySize++;
      else shapeChanges.splitsByLoad++;
    },
    onMerge: (kind) => {
      metrics.merges.inc({ kind });
      if (kind === 'merge') shapeChanges.merges++;
      else shapeChanges.colocations++;
    },
  });
  registerRoutes({
    service,
    node,
    controller: ctl,
    receiver,
    learners,
    raft: () => started,
    client,
    metrics,
    tracker,
    ...sizeLimits(config.extra),
    requestTimeoutMs: config.extra['request-timeout-ms'],
    shapeChanges: () => ({ ...shapeChanges }),
  });
  ctl.start();
  splitter.start();
  replicator.start();
  detector.start();
  const url = await service.listen();
  outbox.start();
  builder.start();
  // Once a configuration is known, deliver what the outbox kept over a restart.
  machine.once('config', () => outbox?.kick());
  return { service, raft: started, machine, node, url, close: () => service.close() };
}
