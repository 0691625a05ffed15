// Metadata and ListOffsets: where topics live and which offsets they span.
import { ErrorCode, isInternalTopic } from '../../core/index.js';
import {
  EARLIEST_TIMESTAMP,
  LATEST_TIMESTAMP,
  type ListOffsetsRequest,
  type ListOffsetsResponse,
} from '../../protocol/list-offsets/v1-v3.js';
import type { MetadataRequest, MetadataResponse } from '../../protocol/metadata/v1-v6.js';
import type { Broker, Topic } from '../broker.js';
import { topicNameProblem } from '../topics.js';

/** One broker, so one cluster id and this broker is the controller. */
export const CLUSTER_ID = 'ddia-lab-streaming';

function describeTopic(broker: Broker, topic: Topic): MetadataResponse['topics'][number] {
  const roles = broker.replication?.partitionRoles(topic.meta.name);
  if (roles) {
    return {
      errorCode: ErrorCode.NONE,
      name: topic.meta.name,
      isInternal: isInternalTopic(topic.meta.name),
      partitions: roles.map((r, index) => ({
        errorCode: r.errorCode,
        partitionIndex: index,
        leaderId: r.leaderId,
        replicaNodes: r.replicaNodes,
        isrNodes: r.isrNodes,
        offlineReplicas: [],
      })),
    };
  }
  return {
    errorCode: ErrorCode.NONE,
    name: topic.meta.name,
    isInternal: isInternalTopic(topic.meta.name),
    partitions: topic.partitions.map((_, index) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex: index,
      leaderId: broker.nodeId,
      replicaNodes: [broker.nodeId],
      isrNodes: [broker.nodeId],
      offlineReplicas: [],
    })),
  };
}

export async function handleMetadata(broker: Broker, req: MetadataRequest): Promise<MetadataResponse> {
  const topics: MetadataResponse['topics'] = [];
  if (req.topics === null) {
    for (const topic of broker.allTopics()) topics.push(describeTopic(broker, topic));
  } else {
    for (const name of req.topics) {
      let topic = broker.topic(name);
      const problem = topicNameProblem(name);
      if (!topic && problem === null && req.allowAutoTopicCreation && broker.defaults.autoCreateTopics) {
        if (broker.replication) {
          await broker.replication.createTopic(name, broker.defaults.partitions, {});
          topic = broker.topic(name);
        } else topic = await broker.createTopic(name, broker.defaults.partitions, {});
      }
      if (topic) topics.push(describeTopic(broker, topic));
      else {
        topics.push({
          errorCode: problem ? ErrorCode.INVALID_TOPIC_EXCEPTION : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          name,
          isInternal: false,
          partitions: [],
        });
      }
    }
  }
  if (broker.replication) {
    return {
      brokers: broker.replication.brokers().map((b) => ({ ...b, rack: null })),
      clusterId: CLUSTER_ID,
      controllerId: broker.replication.controllerId(),
      topics,
    };
  }
  return {
    brokers: [{ nodeId: broker.nodeId, host: broker.options.host, port: broker.port, rack: null }],
    clusterId: CLUSTER_ID,
    controllerId: broker.nodeId,
    topics,
  };
}

export function handleListOffsets(broker: Broker, req: ListOffsetsRequest): ListOffsetsResponse {
  return {
    topics: req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        const partition = broker.partition(t.name, p.partitionIndex);
        if (!partition) {
          return {
            partitionIndex: p.partitionIndex,
            errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            timestamp: -1,
            offset: -1,
          };
        }
        const leaderError = broker.replication?.leaderError(t.name, p.partitionIndex) ?? ErrorCode.NONE;
        if (leaderError !== ErrorCode.NONE)
          return { partitionIndex: p.partitionIndex, errorCode: leaderError, timestamp: -1, offset: -1 };
        let offset: number;
        if (p.timestamp === LATEST_TIMESTAMP) offset = partition.highWatermark;
        else if (p.timestamp === EARLIEST_TIMESTAMP) offset = partition.logStartOffset;
        else offset = partition.offsetForTimestamp(p.timestamp);
        return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE, timestamp: -1, offset };
      }),
    })),
  };
}
