// Builds a whole broker node: the Kafka protocol listener, the broker state on disk, and the
// HTTP service (views, health, metrics). main.ts runs it; tests start it in-process.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Config, createService, type FlagSpec, type Service } from '@ddia/common';
import { randomSeed, SeededRandom, SystemClock } from '@ddia/common/core';
import { BROKER_DEFAULTS, Broker } from './broker/broker.js';
import { KafkaServer, REQUEST_BYTES_MAX_DEFAULT } from './kafka/server.js';
import { registerRoutes } from './server.js';

export const KAFKA_PORT_DEFAULT = 9092;

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
  /** host:port of the Kafka listener, for clients' `brokers`. */
  bootstrap: string;
  url: string;
  close(): Promise<void>;
}

/** Node ids in Kafka are integers: n1 -> 1, anything without digits -> 1. */
function numericId(id: string): number {
  const digits = /(\d+)$/.exec(id);
  return digits ? Number(digits[1]) : 1;
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
  const service = await createService({
    name: 'streaming',
    config,
    description: 'Chapter 11: a Kafka-protocol log broker (topics, partitions, consumer groups)',
    ready: () => broker !== null && broker.port > 0,
    handleSignals: hooks.handleSignals,
    onClose: async () => {
      await kafka?.close();
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
  const url = await service.listen();
  service.log.info({ url, kafka: `${config.host}:${kafkaPort}`, dataDir }, 'streaming broker ready');
  const b = broker;
  const k = kafka;
  return {
    service,
    broker: b,
    kafka: k,
    bootstrap: `${config.host}:${kafkaPort}`,
    url,
    close: () => service.close(),
  };
}
