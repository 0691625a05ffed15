// What every kafkajs PartitionAssigner of this package does around its own rule: read the
// partitions of the subscribed topics from the client's metadata, and encode each member's
// share in the consumer protocol's MemberAssignment (version 0, no user data).
import { AssignerProtocol, type GroupMemberAssignment, type PartitionAssigner } from 'kafkajs';

type Cluster = Parameters<PartitionAssigner>[0]['cluster'];

/** Topic → its partition ids, from the client's cluster metadata. */
export function topicPartitions(cluster: Cluster, topics: readonly string[]): Map<string, number[]> {
  return new Map(
    topics.map((topic) => [topic, cluster.findTopicPartitionMetadata(topic).map((p) => p.partitionId)]),
  );
}

/** One member's share as the JoinGroup leader hands it to SyncGroup. */
export function memberAssignment(
  memberId: string,
  assignment: Record<string, number[]>,
): GroupMemberAssignment {
  return {
    memberId,
    memberAssignment: AssignerProtocol.MemberAssignment.encode({
      version: 0,
      assignment,
      userData: Buffer.alloc(0),
    }),
  };
}
