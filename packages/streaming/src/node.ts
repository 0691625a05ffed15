// Builds a whole broker node: the Kafka protocol listener, the broker state on disk, and the
// HTTP service (views, health, metrics). main.ts runs it; tests start it in-process.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  type Config,
  createService,
  type FlagSpec,
  HttpClient,
  registerRaftMetrics,
  type Service,
} from '@ddia/common';
import { randomSeed, SeededRandom, SystemClock } from '@ddia/common/core';
import { BROKER_DEFAULTS, Broker } from './broker/broker.js';
import { numericId, Replication } from './cluster/replication.js';
import { KafkaServer, REQUEST_BYTES_MAX_DEFAULT } from './kafka/server.js';
import { registerRoutes } from './server.js';

export const KAFKA_PORT_DEFAULT = 9092;
/** `streaming_raft_term` and the rest: the metric names of the cluster metadata's Raft group. */
export const RAFT_METRICS_PREFIX = 'streaming';

export const BROKER_FLAGS = {
  'kafka-port': {
    type: 'number',
    description: 'TCP port of the Kafka wire protocol',
    default: KAFKA_PORT_DEFAULT,
    min: 0,
    max: 65535,
  },
  'message-max-bytes': {
    type: 'number',
    description: "largest record batch accepted (Kafka's message.max.bytes)",
    default: BROKER_DEFAULTS.messageMaxBytes,
    min: 1024,
    max: 64 * 1024 * 1024,
  },
  'request-max-bytes': {
    type: 'number',
    description: "largest request frame accepted (Kafka's socket.request.max.bytes)",
    default: REQUEST_BYTES_MAX_DEFAULT,
    min: 1024,
    max: 1024 * 1024 * 1024,
  },
  'auto-create-topics': {
    type: 'string',
    description:
      "create a topic when a client asks for metadata of an unknown one (Kafka's auto.create.topics.enable)",
    default: 'true',
    choices: ['true', 'false'],
  },
  partitions: {
    type: 'number',
    description: 'partitions of an auto-created topic',
    default: 1,
    min: 1,
    max: 1000,
  },
  'retention-ms': {
    type: 'number',
    description: 'delete batches older than this (-1: keep forever)',
    default: BROKER_DEFAULTS.retentionMs,
    min: -1,
  },
  'retention-bytes': {
    type: 'number',
    description: 'delete the oldest batches beyond this size per partition (-1: no limit)',
    default: BROKER_DEFAULTS.retentionBytes,
    min: -1,
  },
  'segment-bytes': {
    type: 'number',
    description: 'roll to a new log segment at this size',
    default: BROKER_DEFAULTS.segmentBytes,
    min: 1024,
  },
  'replica-lag-time-max-ms': {
    type: 'number',
    description:
      "cluster mode: a follower not caught up for this long leaves the ISR (Kafka's replica.lag.time.max.ms)",
    default: 10_000,
    min: 100,
  },
  'min-insync-replicas': {
    type: 'number',
    description:
      'cluster mode: acks=all is refused (NOT_ENOUGH_REPLICAS) with fewer in the ISR (min.insync.replicas)',
    default: 1,
    min: 1,
    max: 32,
  },
  'broker-session-timeout-ms': {
    type: 'number',
    description:
      "cluster mode: the controller moves a broker's partitions when it has not answered for this long",
    default: 3000,
    min: 200,
  },
  'maintenance-interval-ms': {
    type: 'number',
    description: 'how often retention and compaction run',
    default: BROKER_DEFAULTS.maintenanceIntervalMs,
    min: 100,
  },
} as const satisfies Record<string, FlagSpec>;

export type BrokerConfig = Config<typeof BROKER_FLAGS>;

export interface BrokerNode {
  service: Service;
  broker: Broker;
  kafka: KafkaServer;
  /** Cluster mode (--peers with other brokers) only. */
  replication: Replication | null;
  /** host:port of the Kafka listener, for clients' `brokers`. */
  bootstrap: string;
  url: string;
  close(): Promise<void>;
}

export async function startBrokerNode(
  config: BrokerConfig,
  hooks: { onFrame?: (frame: Uint8Array) => void; handleSignals?: boolean } = {},
): Promise<BrokerNode> {
  // Without --data-dir the broker still needs files for its logs: a temporary directory,
  // removed on shutdown.
  const temporary = config.dataDir === undefined;
  const dataDir = config.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'ddia-streaming-')));
  const clock = new SystemClock();
  let broker: Broker | null = null;
  let kafka: KafkaServer | null = null;
  const clustered = config.peers.length > 1;
  let replication: Replication | null = null;
  const client = new HttpClient({ retries: 0 });
  const service = await createService({
    name: 'streaming',
    config,
    description: 'Chapter 11: a Kafka-protocol log broker (topics, partitions, consumer groups)',
    // In cluster mode: once this broker's cluster metadata is current (it can take roles).
    ready: () => broker !== null && broker.port > 0 && (!clustered || replication?.caughtUp === true),
    handleSignals: hooks.handleSignals,
    onClose: async () => {
      await kafka?.close();
      await replication?.close();
      await client.close();
      await broker?.close();
      if (temporary) await rm(dataDir, { recursive: true, force: true });
    },
  });
  broker = await Broker.open({
    dataDir,
    nodeId: numericId(config.id),
    host: config.host,
    clock,
    random: new SeededRandom(randomSeed()),
    logger: service.log,
    replicated: clustered,
    defaults: {
      messageMaxBytes: config.extra['message-max-bytes'],
      autoCreateTopics: config.extra['auto-create-topics'] === 'true',
      partitions: config.extra.partitions,
      retentionMs: config.extra['retention-ms'],
      retentionBytes: config.extra['retention-bytes'],
      segmentBytes: config.extra['segment-bytes'],
      maintenanceIntervalMs: config.extra['maintenance-interval-ms'],
    },
  });
  kafka = new KafkaServer(broker, {
    host: config.host,
    port: config.extra['kafka-port'],
    requestBytesMax: config.extra['request-max-bytes'],
    onFrame: hooks.onFrame,
  });
  const kafkaPort = await kafka.listen();
  registerRoutes(service.app, broker, kafka, service.registry);
  if (clustered) {
    replication = new Replication({
      selfId: config.id,
      peers: config.peers,
      broker,
      app: service.app,
      client,
      dataDir,
      lagTimeMaxMs: config.extra['replica-lag-time-max-ms'],
      minInsync: config.extra['min-insync-replicas'],
      sessionTimeoutMs: config.extra['broker-session-timeout-ms'],
      fetchWaitMs: 500,
    });
    broker.replication = replication;
    await replication.start(config.host, kafkaPort);
    // The metadata's Raft group, for monitoring's /raft/<job> page (kv-store exports `kv_*`).
    registerRaftMetrics(service.registry, RAFT_METRICS_PREFIX, 'cluster metadata', replication.raft);
  }
  const url = await service.listen();
  service.log.info({ url, kafka: `${config.host}:${kafkaPort}`, dataDir }, 'streaming broker ready');
  const b = broker;
  const k = kafka;
  return {
    service,
    broker: b,
    kafka: k,
    replication,
    bootstrap: `${config.host}:${kafkaPort}`,
    url,
    close: () => service.close(),
  };
}
