// One kv-store node: the state machine on an abstract-level store, a Raft node whose log
// carries the commands, and the HTTP service that carries client, admin and Raft traffic on
// one port. main.ts starts one from flags; tests start several in one process.
import { join } from 'node:path';
import {
  type Config,
  createService,
  type FileSystem,
  type FlagSpec,
  HttpClient,
  openStore,
  type RunningService,
  raftMemberFlags,
  requestTimeoutFlag,
  type Service,
  sizeLimitFlags,
  sizeLimits,
} from '@ddia/common';
import { lsmEngine, prewarmTableWorkers } from '@ddia/lsm-engine';
import {
  FileStorage,
  MemoryStorage,
  RaftNode,
  registerRaftRoutes,
  serviceMemberOptions,
  serviceMembers,
} from '@ddia/raft';
import { KEY_BYTES_MAX_DEFAULT, VALUE_BYTES_MAX_DEFAULT } from './http/request-parts.js';
import { KvMetrics } from './metrics.js';
import { registerKvRoutes } from './server.js';
import { decodeCommand } from './store/command.js';
import type { ApplyOutcome } from './store/result.js';
import { SESSIONS_MAX_DEFAULT } from './store/sessions.js';
import { KvStateMachine } from './store/state-machine.js';

/** The state machine's memtable: RocksDB's default size rather than LevelDB's 4 MiB, so that
 *  flushes and compactions (CPU taken from request handling on a small machine) come 16x less
 *  often. The Raft log, not this memtable, is what makes writes durable first. */
export const STORE_WRITE_BUFFER_BYTES = 64 * 1024 * 1024;

export const KV_FLAGS = {
  ...sizeLimitFlags({ keyBytesMax: KEY_BYTES_MAX_DEFAULT, valueBytesMax: VALUE_BYTES_MAX_DEFAULT }),
  ...requestTimeoutFlag('how long a request waits for a leader / commit before 503/504'),
  ...raftMemberFlags({ joinHow: 'added with POST /cluster/members' }),
  'snapshot-entries': {
    type: 'number',
    // etcd's --snapshot-count default. The image is built while Raft applies on, but the walk
    // of the store and the save still cost CPU and syncs on every member at the same index:
    // every 20,000 entries measured worse than every 100,000 (README, "What a write costs").
    description: 'snapshot and compact the Raft log after this many applied entries',
    default: 100_000,
    min: 10,
    max: 10_000_000,
  },
  'read-only': {
    type: 'string',
    description: 'linearizable read mode: safe (ReadIndex) or lease',
    default: 'safe',
    choices: ['safe', 'lease'],
  },
  'sessions-max': {
    type: 'number',
    description: 'client sessions remembered for at-most-once writes',
    default: SESSIONS_MAX_DEFAULT,
    min: 1,
    max: 10_000_000,
  },
} as const satisfies Record<string, FlagSpec>;

export type KvConfig = Config<typeof KV_FLAGS>;

export interface KvNode extends RunningService {
  raft: RaftNode<ApplyOutcome>;
  machine: KvStateMachine;
}

export interface KvNodeHooks {
  /** The file system under `--data-dir` (the Raft log and an `lsm` store): default the real
   *  one; power-loss tests pass testkit's FaultFileSystem. */
  fs?: FileSystem;
  /** Zero-filled room kept ahead of the Raft log's end (raft's PREALLOCATE_BYTES_DEFAULT when
   *  absent): tests on a file system in memory keep it small, where 4 MiB of zeros per start
   *  only costs time. */
  raftPreallocateBytes?: number;
  /** Whether SIGTERM/SIGINT close the node (default true; tests that start many nodes in one
   *  process say false). */
  handleSignals?: boolean;
  /** Raft stopped after a storage or apply failure: the process should exit (main.ts does). */
  onFatal?: (error: unknown) => void;
}

export async function startKvNode(config: KvConfig, hooks: KvNodeHooks = {}): Promise<KvNode> {
  const durable = config.dataDir !== undefined;
  const engine = durable ? config.engine : 'memory';
  if (engine === 'lsm' && hooks.fs === undefined) {
    // A long-running member starts the engine's table workers now, at boot. Left to the engine,
    // they start when the first memtable is half full: on every member at the same log index,
    // nine threads loading at once on two cores, and every request waits for them. (They write
    // only through the real file system: none for a node on a test's.)
    prewarmTableWorkers();
  }
  const db = await openStore({
    engine,
    ...(config.dataDir ? { dataDir: config.dataDir } : {}),
    name: 'kv',
    lsm: lsmEngine,
    keyEncoding: 'view',
    valueEncoding: 'view',
    writeBufferBytes: STORE_WRITE_BUFFER_BYTES,
    ...(hooks.fs ? { fs: hooks.fs } : {}),
  });
  let storage: FileStorage | MemoryStorage | undefined;
  let raft: RaftNode<ApplyOutcome> | undefined;
  const client = new HttpClient({ deadlineMs: config.extra['request-timeout-ms'], retries: 0 });
  // The store is closed even when Raft's files cannot be (a failed disk).
  const closeAll = async () => {
    try {
      if (raft) await raft.stop();
      else await storage?.close();
    } finally {
      await client.close();
      await db.close();
    }
  };
  let started: Service | undefined;
  try {
    const machine = await KvStateMachine.open(db, { sessionsMax: config.extra['sessions-max'] });
    const service = await createService({
      name: 'kv-store',
      description: 'Chapter 1: a replicated key-value store on Raft',
      config,
      bodyLimitBytes: Math.max(config.extra['value-bytes-max'], 64 * 1024),
      ready: () => raft !== undefined && raft.status().leaderId !== null,
      onClose: closeAll,
      ...(hooks.handleSignals !== undefined ? { handleSignals: hooks.handleSignals } : {}),
    });
    started = service;
    const metrics = new KvMetrics(service.registry, () => raft, machine);

    storage = durable
      ? await FileStorage.open({
          dir: join(config.dataDir as string, 'raft'),
          fsync: 'group',
          ...(hooks.fs ? { fs: hooks.fs } : {}),
          ...(hooks.raftPreallocateBytes !== undefined
            ? { preallocateBytes: hooks.raftPreallocateBytes }
            : {}),
        })
      : new MemoryStorage();
    const members = serviceMembers(config);
    raft = await RaftNode.start<ApplyOutcome>({
      ...serviceMemberOptions(config),
      storage,
      stateMachine: {
        apply: async (command, meta) => {
          const outcome: ApplyOutcome = await machine.apply(command, meta);
          metrics.applied.inc({
            op: decodeCommand(command).op,
            status: outcome.duplicate ? 'duplicate' : outcome.result.status,
          });
          return outcome;
        },
        // A Ready's run of committed commands in one atomic store batch (one WAL write, not one
        // per command); the metric still counts every command.
        applyBatch: async (commands) => {
          const outcomes = await machine.applyBatch(commands);
          for (let i = 0; i < commands.length; i++) {
            const outcome = outcomes[i] as ApplyOutcome;
            const result = outcome.result;
            // An executed write names its op; only the others need the command decoded again.
            const op =
              !outcome.duplicate && result.status === 'ok'
                ? result.op
                : decodeCommand((commands[i] as (typeof commands)[number]).command).op;
            metrics.applied.inc({ op, status: outcome.duplicate ? 'duplicate' : result.status });
          }
          return outcomes;
        },
        snapshot: () => machine.snapshot(),
        restore: (data, meta) => machine.restore(data, meta),
      },
      readOnly: config.extra['read-only'] as 'safe' | 'lease',
      snapshotEntries: config.extra['snapshot-entries'],
      // A follower hands a client's write to the leader inside a Raft message (etcd's MsgProp)
      // and answers when it applies it: no extra request per write between nodes.
      forwardProposals: true,
      logger: service.log,
    });
    const node = raft;
    node.on('leader', (leaderId, term) => {
      metrics.leaderChanges.inc();
      service.log.info({ leader: leaderId, term }, 'leader changed');
    });
    node.on('fatal', (error: unknown) => {
      service.log.fatal({ err: error }, 'raft stopped; this node can no longer serve');
      hooks.onFatal?.(error);
    });
    registerRaftRoutes(service.app, node);
    registerKvRoutes({
      service,
      node: () => node,
      machine,
      client,
      metrics,
      ...sizeLimits(config.extra),
      requestTimeoutMs: config.extra['request-timeout-ms'],
      peerUrls: new Map(members.map((m) => [m.id, m.url])),
    });
    const url = await service.listen();
    return { service, raft: node, machine, url, close: () => service.close() };
  } catch (error) {
    // A start that failed (a damaged log, a crash in the middle of a restore) leaves nothing
    // open behind it: the store, the Raft files and the service are closed again.
    await (started ? started.close() : closeAll()).catch(() => undefined);
    throw error;
  }
}
