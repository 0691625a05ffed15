// CreateTopics, DeleteTopics, DescribeConfigs and InitProducerId: the admin and producer setup calls.
import { ErrorCode, isInternalTopic } from '../../core/index.js';
import type { CreateTopicsRequest, CreateTopicsResponse } from '../../protocol/create-topics/v3.js';
import type { DeleteTopicsRequest } from '../../protocol/delete-topics/v1.js';
import {
  ConfigSource,
  type DescribeConfigsRequest,
  type DescribeConfigsResult,
  ResourceType,
} from '../../protocol/describe-configs/v2.js';
import type { InitProducerIdRequest, InitProducerIdResponse } from '../../protocol/init-producer-id/v1.js';
import type { Broker } from '../broker.js';
import { TOPIC_CONFIG_NAMES, type TopicConfigName, type TopicMeta } from '../topics.js';

export async function handleCreateTopics(
  broker: Broker,
  req: CreateTopicsRequest,
): Promise<CreateTopicsResponse> {
  const topics: CreateTopicsResponse['topics'] = [];
  const seen = new Set<string>();
  for (const t of req.topics) {
    const partitions = t.numPartitions === -1 ? broker.defaults.partitions : t.numPartitions;
    // Cluster mode: every broker holds every partition, so the factor is the broker count.
    const brokersHere = broker.replication?.replicationFactor() ?? 1;
    const replicationFactor = t.replicationFactor === -1 ? brokersHere : t.replicationFactor;
    let check = broker.topics.validate(
      t.name,
      partitions,
      replicationFactor === brokersHere ? 1 : -1,
      t.configs,
    );
    if (check.errorCode === ErrorCode.INVALID_REPLICATION_FACTOR)
      check.message = `Replication factor: ${replicationFactor} must be ${brokersHere} (every broker holds every partition).`;
    if (seen.has(t.name))
      check = { errorCode: ErrorCode.INVALID_REQUEST, message: `topic '${t.name}' appears twice` };
    if (check.errorCode === ErrorCode.NONE && t.assignments.length > 0) {
      check = { errorCode: ErrorCode.INVALID_REQUEST, message: 'manual replica assignment is not supported' };
    }
    seen.add(t.name);
    if (check.errorCode !== ErrorCode.NONE || req.validateOnly) {
      topics.push({ name: t.name, errorCode: check.errorCode, errorMessage: check.message });
      continue;
    }
    const configs: TopicMeta['configs'] = {};
    for (const c of t.configs) configs[c.name as TopicConfigName] = c.value!;
    if (broker.topic(t.name)) {
      topics.push({
        name: t.name,
        errorCode: ErrorCode.TOPIC_ALREADY_EXISTS,
        errorMessage: `Topic '${t.name}' already exists.`,
      });
      continue;
    }
    if (broker.replication) {
      const errorCode = await broker.replication.createTopic(t.name, partitions, configs);
      topics.push({
        name: t.name,
        errorCode,
        errorMessage:
          errorCode === ErrorCode.TOPIC_ALREADY_EXISTS ? `Topic '${t.name}' already exists.` : null,
      });
      continue;
    }
    await broker.createTopic(t.name, partitions, configs);
    topics.push({ name: t.name, errorCode: ErrorCode.NONE, errorMessage: null });
  }
  return { topics };
}

export async function handleDeleteTopics(
  broker: Broker,
  req: DeleteTopicsRequest,
): Promise<{ topics: { name: string; errorCode: number }[] }> {
  const topics: { name: string; errorCode: number }[] = [];
  for (const name of req.topicNames) {
    // Kafka refuses to delete its internal topics: the offsets would go with them.
    if (isInternalTopic(name)) {
      topics.push({ name, errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION });
      continue;
    }
    if (broker.replication) {
      topics.push({ name, errorCode: await broker.replication.deleteTopic(name) });
      continue;
    }
    const deleted = await broker.deleteTopic(name);
    topics.push({ name, errorCode: deleted ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
  }
  return { topics };
}

function brokerConfigs(broker: Broker): { name: string; value: string }[] {
  const d = broker.defaults;
  return [
    { name: 'message.max.bytes', value: String(d.messageMaxBytes) },
    { name: 'auto.create.topics.enable', value: String(d.autoCreateTopics) },
    { name: 'num.partitions', value: String(d.partitions) },
    { name: 'log.retention.ms', value: String(d.retentionMs) },
    { name: 'log.retention.bytes', value: String(d.retentionBytes) },
    { name: 'log.segment.bytes', value: String(d.segmentBytes) },
    { name: 'log.cleanup.policy', value: d.cleanupPolicy },
    { name: 'log.cleaner.delete.retention.ms', value: String(d.deleteRetentionMs) },
  ];
}

export function handleDescribeConfigs(
  broker: Broker,
  req: DescribeConfigsRequest,
): { results: DescribeConfigsResult[] } {
  const results = req.resources.map((r): DescribeConfigsResult => {
    const base = { resourceType: r.resourceType, resourceName: r.resourceName };
    const wanted = (name: string) => r.configurationKeys === null || r.configurationKeys.includes(name);
    if (r.resourceType === ResourceType.topic) {
      const topic = broker.topic(r.resourceName);
      if (!topic) {
        return {
          ...base,
          errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          errorMessage: `unknown topic '${r.resourceName}'`,
          configs: [],
        };
      }
      const configs = TOPIC_CONFIG_NAMES.filter(wanted).map((name) => {
        const { value, fromTopic } = broker.config(topic.meta, name);
        return {
          name,
          value,
          readOnly: false,
          configSource: fromTopic ? ConfigSource.topic : ConfigSource.default,
          isSensitive: false,
        };
      });
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs };
    }
    if (r.resourceType === ResourceType.broker) {
      if (r.resourceName !== '' && r.resourceName !== String(broker.nodeId)) {
        return {
          ...base,
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: `no broker '${r.resourceName}'`,
          configs: [],
        };
      }
      const configs = brokerConfigs(broker)
        .filter((c) => wanted(c.name))
        .map((c) => ({ ...c, readOnly: true, configSource: ConfigSource.default, isSensitive: false }));
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs };
    }
    return {
      ...base,
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: `resource type ${r.resourceType} is not supported`,
      configs: [],
    };
  });
  return { results };
}

export async function handleInitProducerId(
  broker: Broker,
  req: InitProducerIdRequest,
): Promise<InitProducerIdResponse> {
  if (req.transactionalId !== null) {
    // Transactions are not implemented; an idempotent producer sends a null transactional id.
    return { errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1, producerEpoch: -1 };
  }
  return { errorCode: ErrorCode.NONE, producerId: await broker.nextProducerId(), producerEpoch: 0 };
}
