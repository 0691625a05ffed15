// HTTP routes of the broker: read-only JSON views of topics, partitions and groups (with lag),
// one admin action (run compaction or retention now, for the experiments), and the metrics.
// Producing and consuming go through the Kafka protocol, not HTTP.
import { DdiaError, type ServiceApp } from '@ddia/common';
import { Gauge, type Registry } from 'prom-client';
import { Type } from 'typebox';
import type { Broker } from './broker/broker.js';
import { StreamingErrors } from './errors.js';
import type { KafkaServer } from './kafka/server.js';
import type { PartitionLog } from './log/partition-log.js';
import { groupsView, groupView, partitionsView, topicsView } from './views.js';

const TopicParams = Type.Object({ topic: Type.String({ minLength: 1, maxLength: 249 }) });
const GroupParams = Type.Object({ group: Type.String({ minLength: 1, maxLength: 255 }) });

export function registerRoutes(
  app: ServiceApp,
  broker: Broker,
  kafka: KafkaServer,
  registry: Registry,
): void {
  registerMetrics(broker, kafka, registry);

  app.get('/broker', async () => ({
    nodeId: broker.nodeId,
    kafka: `${broker.options.host}:${broker.port}`,
    defaults: broker.defaults,
    openConnections: kafka.openConnections,
    ...kafka.stats,
  }));
  app.get('/topics', async () => ({ topics: topicsView(broker) }));
  app.get('/topics/:topic', { schema: { params: TopicParams } }, async (request) => {
    const partitions = partitionsView(broker, request.params.topic);
    if (!partitions) throw new DdiaError(StreamingErrors.unknownTopic, `no topic '${request.params.topic}'`);
    const topic = broker.topic(request.params.topic)!;
    return { name: topic.meta.name, configs: topic.meta.configs, partitions };
  });
  app.post('/topics/:topic/compact', { schema: { params: TopicParams } }, async (request) => {
    const topic = broker.topic(request.params.topic);
    if (!topic) throw new DdiaError(StreamingErrors.unknownTopic, `no topic '${request.params.topic}'`);
    return { topic: topic.meta.name, ...(await broker.compactTopic(topic)) };
  });
  app.post('/topics/:topic/retention', { schema: { params: TopicParams } }, async (request) => {
    const topic = broker.topic(request.params.topic);
    if (!topic) throw new DdiaError(StreamingErrors.unknownTopic, `no topic '${request.params.topic}'`);
    const bytesBefore = topic.partitions.reduce((sum, p) => sum + p.bytes, 0);
    const batchesDropped = await broker.applyRetention(topic);
    const bytesAfter = topic.partitions.reduce((sum, p) => sum + p.bytes, 0);
    return { topic: topic.meta.name, batchesDropped, bytesBefore, bytesAfter };
  });
  app.get('/groups', async () => ({ groups: groupsView(broker) }));
  app.get('/groups/:group', { schema: { params: GroupParams } }, async (request) => {
    const view = groupView(broker, request.params.group);
    if (!view) throw new DdiaError(StreamingErrors.unknownGroup, `no group '${request.params.group}'`);
    return view;
  });
}

function registerMetrics(broker: Broker, kafka: KafkaServer, registry: Registry): void {
  const perPartition = (name: string, help: string, value: (p: PartitionLog) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const t of broker.allTopics()) {
          t.partitions.forEach((p, i) => {
            this.set({ topic: t.meta.name, partition: String(i) }, value(p));
          });
        }
      },
    });
  perPartition('streaming_partition_bytes', 'Bytes of record batches stored per partition', (p) => p.bytes);
  perPartition(
    'streaming_partition_high_watermark',
    'Next offset to be written per partition (messages ever written)',
    (p) => p.highWatermark,
  );
  new Gauge({
    name: 'streaming_partition_isr_size',
    help: 'In-sync replicas per partition (1 for a broker alone; in a cluster, as its metadata says)',
    labelNames: ['topic', 'partition'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const t of broker.allTopics()) {
        const roles = broker.replication?.partitionRoles(t.meta.name);
        t.partitions.forEach((_, i) => {
          this.set({ topic: t.meta.name, partition: String(i) }, roles?.[i]?.isrNodes.length ?? 1);
        });
      }
    },
  });
  new Gauge({
    name: 'streaming_consumer_group_lag',
    help: 'Messages not yet committed by a consumer group, per partition',
    labelNames: ['group', 'topic', 'partition'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const g of groupsView(broker)) {
        for (const o of g.offsets)
          this.set({ group: g.groupId, topic: o.topic, partition: String(o.partition) }, o.lag);
      }
    },
  });
  new Gauge({
    name: 'streaming_group_members',
    help: 'Members of each consumer group',
    labelNames: ['group'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const g of groupsView(broker)) this.set({ group: g.groupId }, g.members.length);
    },
  });
  new Gauge({
    name: 'streaming_kafka_connections',
    help: 'Open Kafka protocol connections',
    registers: [registry],
    collect() {
      this.set(kafka.openConnections);
    },
  });
}
