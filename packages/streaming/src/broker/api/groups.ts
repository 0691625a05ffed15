// The consumer-group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// OffsetCommit, OffsetFetch, DescribeGroups, ListGroups.
import { ErrorCode } from '../../core/index.js';
import type { DescribedGroup } from '../../protocol/describe-groups/v2.js';
import {
  COORDINATOR_KEY_GROUP,
  type FindCoordinatorRequest,
  type FindCoordinatorResponse,
} from '../../protocol/find-coordinator/v0-v2.js';
import {
  JOIN_MEMBER_ID_REQUIRED_VERSION,
  type JoinGroupRequest,
  type JoinGroupResponse,
} from '../../protocol/join-group/v0-v5.js';
import type { LeaveGroupRequest, LeaveGroupResponse } from '../../protocol/leave-group/v0-v3.js';
import type { OffsetCommitRequest, OffsetCommitResponse } from '../../protocol/offset-commit/v2-v5.js';
import type { OffsetFetchRequest, OffsetFetchResponse } from '../../protocol/offset-fetch/v1-v4.js';
import type { SyncGroupRequest, SyncGroupResponse } from '../../protocol/sync-group/v0-v3.js';
import type { Broker } from '../broker.js';
import { OFFSET_METADATA_BYTES_MAX } from '../coordinator.js';

const NO_OFFSET = -1;

export async function handleFindCoordinator(
  broker: Broker,
  req: FindCoordinatorRequest,
): Promise<FindCoordinatorResponse> {
  if (req.keyType !== COORDINATOR_KEY_GROUP) {
    return {
      errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE,
      errorMessage: 'transactions are not supported',
      nodeId: -1,
      host: '',
      port: -1,
    };
  }
  if (broker.replication) {
    const found = await broker.replication.locateCoordinator(req.key);
    return { ...found, errorMessage: null };
  }
  return {
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    nodeId: broker.nodeId,
    host: broker.options.host,
    port: broker.port,
  };
}

export function handleJoinGroup(
  broker: Broker,
  req: JoinGroupRequest,
  clientId: string,
  clientHost: string,
  version: number,
): Promise<JoinGroupResponse> {
  return broker.coordinator.join(req.groupId, {
    memberId: req.memberId,
    clientId,
    clientHost,
    sessionTimeoutMs: req.sessionTimeoutMs,
    rebalanceTimeoutMs: req.rebalanceTimeoutMs,
    protocolType: req.protocolType,
    protocols: req.protocols,
    memberIdRequired: version >= JOIN_MEMBER_ID_REQUIRED_VERSION,
  });
}

export function handleSyncGroup(broker: Broker, req: SyncGroupRequest): Promise<SyncGroupResponse> {
  return broker.coordinator.sync(req.groupId, req.generationId, req.memberId, req.assignments);
}

export function handleHeartbeat(
  broker: Broker,
  req: { groupId: string; generationId: number; memberId: string },
): {
  errorCode: number;
} {
  return { errorCode: broker.coordinator.heartbeat(req.groupId, req.generationId, req.memberId) };
}

export function handleLeaveGroup(broker: Broker, req: LeaveGroupRequest): LeaveGroupResponse {
  const members = req.members.map((m) => ({
    memberId: m.memberId,
    groupInstanceId: m.groupInstanceId,
    errorCode: broker.coordinator.leave(req.groupId, m.memberId),
  }));
  return { errorCode: ErrorCode.NONE, members };
}

export async function handleOffsetCommit(
  broker: Broker,
  req: OffsetCommitRequest,
): Promise<OffsetCommitResponse> {
  const perPartition = new Map<string, number>();
  const accepted: { topic: string; partition: number; offset: number; metadata: string | null }[] = [];
  for (const t of req.topics) {
    for (const p of t.partitions) {
      const key = `${t.name}\u0000${p.partitionIndex}`;
      if (!broker.partition(t.name, p.partitionIndex))
        perPartition.set(key, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      else if (p.metadata !== null && p.metadata.length > OFFSET_METADATA_BYTES_MAX) {
        perPartition.set(key, ErrorCode.OFFSET_METADATA_TOO_LARGE);
      } else
        accepted.push({
          topic: t.name,
          partition: p.partitionIndex,
          offset: p.committedOffset,
          metadata: p.metadata,
        });
    }
  }
  const groupError = await broker.coordinator.commit(req.groupId, req.generationId, req.memberId, accepted);
  return {
    topics: req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partitionIndex,
        errorCode: perPartition.get(`${t.name}\u0000${p.partitionIndex}`) ?? groupError,
      })),
    })),
  };
}

export function handleOffsetFetch(broker: Broker, req: OffsetFetchRequest): OffsetFetchResponse {
  const { coordinator } = broker;
  const refused = coordinator.offsets.coordinatorError(req.groupId);
  if (refused !== ErrorCode.NONE) {
    // v1 has no top-level error code: each partition asked carries it.
    return {
      errorCode: refused,
      topics: (req.topics ?? []).map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => ({
          partitionIndex,
          committedOffset: NO_OFFSET,
          metadata: '',
          errorCode: refused,
        })),
      })),
    };
  }
  let wanted: { name: string; partitionIndexes: number[] }[];
  if (req.topics === null) {
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of coordinator.offsets.partitionsOf(req.groupId)) {
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    }
    wanted = [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
  } else wanted = req.topics;
  return {
    errorCode: ErrorCode.NONE,
    topics: wanted.map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((partitionIndex) => {
        const committed = coordinator.committed(req.groupId, t.name, partitionIndex);
        return {
          partitionIndex,
          committedOffset: committed?.offset ?? NO_OFFSET,
          metadata: committed?.metadata ?? '',
          errorCode: ErrorCode.NONE,
        };
      }),
    })),
  };
}

export function handleDescribeGroups(
  broker: Broker,
  req: { groups: string[] },
): { groups: DescribedGroup[] } {
  return {
    groups: req.groups.map((groupId): DescribedGroup => {
      const refused = broker.coordinator.offsets.coordinatorError(groupId);
      const group = broker.coordinator.find(groupId);
      if (refused !== ErrorCode.NONE || !group) {
        // Kafka describes an unknown group as Dead rather than failing; a group coordinated
        // elsewhere (a cluster) gets NOT_COORDINATOR, and the client asks FindCoordinator again.
        return {
          errorCode: refused,
          groupId,
          groupState: 'Dead',
          protocolType: '',
          protocolData: '',
          members: [],
        };
      }
      return {
        errorCode: ErrorCode.NONE,
        groupId,
        groupState: group.state,
        protocolType: group.protocolType,
        protocolData: group.protocolName,
        members: [...group.members.values()].map((m) => ({
          memberId: m.memberId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata:
            m.protocols.find((p) => p.name === group.protocolName)?.metadata ?? new Uint8Array(0),
          memberAssignment: m.assignment,
        })),
      };
    }),
  };
}

export function handleListGroups(broker: Broker): {
  errorCode: number;
  groups: { groupId: string; protocolType: string }[];
} {
  return {
    errorCode: ErrorCode.NONE,
    groups: broker.coordinator.groupIds().map((groupId) => ({
      groupId,
      protocolType: broker.coordinator.find(groupId)?.protocolType || 'consumer',
    })),
  };
}
