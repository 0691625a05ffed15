// Kafka's range assignor for kafkajs consumer groups (kafkajs 2.2.4 ships only round-robin).
// In Kafka the broker never assigns partitions: the group's leader member runs an assignor
// named in the JoinGroup protocols, and every member must support the one chosen. Range, the
// Java client's long-time default, works per topic: the members subscribed to the topic, sorted
// by member id, each take a contiguous run of its partitions in partition order; the first
// (partitions % members) take one more. Co-partitioned topics therefore line up (partition p of
// both goes to the same member), at the price of imbalance when many topics have few partitions.
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';
import { memberAssignment, topicPartitions } from './assignment.js';

/** The protocol name Kafka's Java client uses, so a mixed group can agree on it. */
export const RANGE_ASSIGNER_NAME = 'range';

/** Pure: each member's partitions per topic. `subscriptions`: member id → topics it reads. */
export function assignRanges(
  subscriptions: ReadonlyMap<string, readonly string[]>,
  partitions: ReadonlyMap<string, readonly number[]>,
): Map<string, Record<string, number[]>> {
  const out = new Map<string, Record<string, number[]>>(
    [...subscriptions.keys()].map((member) => [member, {}]),
  );
  for (const [topic, ids] of partitions) {
    const members = [...subscriptions]
      .filter(([, topics]) => topics.includes(topic))
      .map(([member]) => member)
      .sort();
    if (members.length === 0) continue;
    const sorted = [...ids].sort((a, b) => a - b);
    const each = Math.floor(sorted.length / members.length);
    const extra = sorted.length % members.length;
    members.forEach((member, i) => {
      const start = i * each + Math.min(i, extra);
      const run = sorted.slice(start, start + each + (i < extra ? 1 : 0));
      if (run.length > 0) out.get(member)![topic] = run;
    });
  }
  return out;
}

/** `kafka.consumer({ groupId, partitionAssigners: [rangeAssigner] })`. */
export const rangeAssigner: PartitionAssigner = ({ cluster }) => ({
  name: RANGE_ASSIGNER_NAME,
  version: 0,
  async assign({ members, topics }) {
    const subscriptions = new Map<string, string[]>();
    for (const m of members) {
      const meta = AssignerProtocol.MemberMetadata.decode(m.memberMetadata);
      subscriptions.set(m.memberId, meta?.topics ?? topics);
    }
    return [...assignRanges(subscriptions, topicPartitions(cluster, topics))].map(([memberId, assignment]) =>
      memberAssignment(memberId, assignment),
    );
  },
  protocol({ topics }) {
    return {
      name: RANGE_ASSIGNER_NAME,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
    };
  },
});
