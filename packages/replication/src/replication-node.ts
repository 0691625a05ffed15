// One replication node: the mode's pure core driven by the I/O shell (journal, HTTP transport,
// ticks) behind the HTTP service. main.ts starts one from flags; tests start some in-process.
import { join } from 'node:path';
import { createService, type FileSystem, HttpClient, type Service, SkewableClock } from '@ddia/common';
import type { LeaderlessMessage } from './core/leaderless.js';
import type { MultiLeaderMessage } from './core/multi-leader.js';
import type { KeyRecord } from './core/ready.js';
import type { SingleLeaderMessage, SingleLeaderRecord } from './core/single-leader.js';
import type { Topology } from './core/topology.js';
import { type ReplicationConfig, settingsOf } from './flags.js';
import { registerClusterRoutes } from './http/cluster-routes.js';
import { registerKvRoutes } from './http/kv-routes.js';
import { ReplicationMetrics } from './metrics.js';
import { Journal } from './node/journal.js';
import { LeaderlessMode } from './node/leaderless-mode.js';
import type { ModeNode } from './node/mode.js';
import { MultiLeaderMode } from './node/multi-leader-mode.js';
import { SingleLeaderMode } from './node/single-leader-mode.js';
import { PeerTransport } from './node/transport.js';

/** Peer batches carry whole key states (anti-entropy, pushes): allow more than one value. */
const BODY_BYTES_MIN = 64 * 1024 * 1024;

export interface ReplicationNode {
  service: Service;
  node: ModeNode;
  clock: SkewableClock;
  url: string;
  /** Records replayed from the journal at start. */
  recovered: number;
  close(): Promise<void>;
}

export interface NodeHooks {
  /** The file system under the journal (tests: testkit's FaultFileSystem). */
  fs?: FileSystem;
  /** The disk failed: the process should exit (main.ts does). */
  onFatal?: (error: unknown) => void;
  handleSignals?: boolean;
}

export async function startReplicationNode(
  config: ReplicationConfig,
  hooks: NodeHooks = {},
): Promise<ReplicationNode> {
  const settings = settingsOf(config);
  const extra = config.extra;
  const clock = new SkewableClock();
  const urls = new Map(
    config.peers.length > 0
      ? config.peers.map((p) => [p.id, p.url] as const)
      : [[config.id, `http://${config.host}:${config.port}`] as const],
  );
  const journalDir = config.dataDir ? join(config.dataDir, 'journal') : undefined;
  const onFatal = (error: unknown) => hooks.onFatal?.(error);
  const compactRecords = journalDir ? extra['journal-compact-records'] : 0;
  const common = {
    id: config.id,
    nodes: settings.nodes,
    antiEntropyEveryMs: extra['anti-entropy-ms'],
    tombstoneGraceMs: extra['tombstone-grace-ms'],
  };

  let node: ModeNode;
  let journal: Journal<KeyRecord> | Journal<SingleLeaderRecord>;
  let receive: (from: string, messages: unknown[]) => void;
  let transport: PeerTransport<unknown>;
  if (settings.mode === 'single-leader') {
    const j = journalDir
      ? await Journal.open<SingleLeaderRecord>(journalDir, hooks.fs, extra['journal-segment-bytes'])
      : Journal.memory<SingleLeaderRecord>();
    const t = new PeerTransport<SingleLeaderMessage>(config.id, urls);
    const mode = new SingleLeaderMode(
      {
        id: config.id,
        nodes: settings.nodes,
        initialLeader: settings.leader,
        syncStandbys: settings.syncStandbys,
        fencing: extra.fencing as 'lease' | 'none',
        leaseMs: extra['lease-ms'],
        failoverAfterMs: extra['failover-after-ms'],
        replicationFormat: extra['replication-format'] as 'row' | 'statement',
        syncTimeoutMs: extra['request-timeout-ms'],
        logRetainEntries: extra['log-retain-entries'],
      },
      { clock, journal: j, transport: t, onFatal, compactRecords },
    );
    node = mode;
    journal = j;
    transport = t as PeerTransport<unknown>;
    receive = (from, messages) => mode.driver.receive(from, messages as SingleLeaderMessage[]);
  } else if (settings.mode === 'multi-leader') {
    const j = journalDir
      ? await Journal.open<KeyRecord>(journalDir, hooks.fs, extra['journal-segment-bytes'])
      : Journal.memory<KeyRecord>();
    const t = new PeerTransport<MultiLeaderMessage>(config.id, urls);
    const mode = new MultiLeaderMode(
      { ...common, topology: extra.topology as Topology },
      { clock, journal: j, transport: t, onFatal, compactRecords },
      extra.resolution ?? 'mv',
    );
    node = mode;
    journal = j;
    transport = t as PeerTransport<unknown>;
    receive = (from, messages) => mode.driver.receive(from, messages as MultiLeaderMessage[]);
  } else {
    const j = journalDir
      ? await Journal.open<KeyRecord>(journalDir, hooks.fs, extra['journal-segment-bytes'])
      : Journal.memory<KeyRecord>();
    const t = new PeerTransport<LeaderlessMessage>(config.id, urls);
    const mode = new LeaderlessMode(
      {
        ...common,
        n: settings.n,
        w: settings.w,
        r: settings.r,
        requestTimeoutMs: extra['request-timeout-ms'],
        ...(settings.dcOf ? { dcOf: settings.dcOf } : {}),
      },
      { clock, journal: j, transport: t, onFatal, compactRecords },
      extra.sloppy,
    );
    node = mode;
    journal = j;
    transport = t as PeerTransport<unknown>;
    receive = (from, messages) => mode.driver.receive(from, messages as LeaderlessMessage[]);
  }
  // A follower's forwarded write waits as long as the leader may (a sync write) and a little more.
  const forwardClient =
    settings.mode === 'single-leader' && extra['forward-writes']
      ? new HttpClient({ deadlineMs: extra['request-timeout-ms'] + 1_000, retries: 0 })
      : null;
  const recovered = await (node as LeaderlessMode | MultiLeaderMode | SingleLeaderMode).driver.recover();

  const service = await createService({
    name: 'replication',
    description: 'Chapter 5: single-leader, multi-leader and leaderless replication',
    config,
    wallClock: clock,
    bodyLimitBytes: Math.max(BODY_BYTES_MIN, 2 * extra['value-bytes-max']),
    paramBytesMax: extra['key-bytes-max'] * 3,
    ready: () => node.ready(),
    ...(hooks.handleSignals !== undefined ? { handleSignals: hooks.handleSignals } : {}),
    onClose: async () => {
      node.stop();
      await node.settle();
      await transport.close();
      await forwardClient?.close();
      await journal.close();
    },
  });
  const streams = registerClusterRoutes({ service, node, urls, clock, receive });
  const metrics = new ReplicationMetrics(service.registry, node, urls, transport.stats, streams);
  registerKvRoutes({
    service,
    node,
    resolution: (extra.resolution ?? 'mv') as 'mv' | 'lww',
    keyBytesMax: extra['key-bytes-max'],
    valueBytesMax: extra['value-bytes-max'],
    urls,
    onResult: (op, status) => metrics.requests.inc({ op, status: String(status) }),
    ...(settings.mode === 'leaderless' ? { replicas: settings.n } : {}),
    ...(forwardClient ? { forward: { self: config.id, client: forwardClient } } : {}),
  });
  node.start(extra['tick-ms']);
  const url = await service.listen();
  service.log.info({ mode: settings.mode, recovered, members: settings.nodes }, 'replication node started');
  return { service, node, clock, url, recovered, close: () => service.close() };
}
