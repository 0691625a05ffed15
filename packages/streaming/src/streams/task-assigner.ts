// The partition assignor of a StreamApp's consumer group: it assigns TASKS, not partitions.
// A task is one input partition number p: partition p of every source topic (Kafka Streams'
// task 0_p for co-partitioned sources; or, for a topology that must see all partitions in one
// place, a single task 0 holding them all: `taskOf`), with its own state stores and its own changelog
// partition p. All the partitions of one task must go to the same instance (a join or an
// aggregation over two co-partitioned topics sees both sides there), which kafkajs' round-robin
// assignor does not promise: it deals topic-partitions out one by one.
//
// Tasks are dealt to the members sorted by member id; a member that owned a task in the last
// generation and is still there keeps it when that does not unbalance the group (sticky, so a
// rebalance moves only the tasks of the member that left or the share of the one that joined:
// each moved task costs a restore from its changelog on the new owner).
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';
import { memberAssignment, topicPartitions } from './assignment.js';

export const TASK_ASSIGNER_NAME = 'DdiaStreamTasks';

/** Pure: tasks per member. `previous` is each member's tasks of the last generation. */
export function assignTasks(
  members: readonly string[],
  tasks: readonly number[],
  previous: ReadonlyMap<string, readonly number[]> = new Map(),
): Map<string, number[]> {
  const sorted = [...members].sort();
  const out = new Map<string, number[]>(sorted.map((m) => [m, []]));
  if (sorted.length === 0) return out;
  const all = [...new Set(tasks)].sort((a, b) => a - b);
  // At most ceil(tasks / members) each; the first (tasks % members) members may take one more.
  const base = Math.floor(all.length / sorted.length);
  const extra = all.length % sorted.length;
  const capacity = new Map(sorted.map((m, i) => [m, base + (i < extra ? 1 : 0)]));
  const free = new Set(all);
  for (const m of sorted) {
    for (const t of previous.get(m) ?? []) {
      if (!free.has(t) || out.get(m)!.length >= capacity.get(m)!) continue;
      out.get(m)!.push(t);
      free.delete(t);
    }
  }
  for (const t of free) {
    const m = sorted.find((x) => out.get(x)!.length < capacity.get(x)!)!;
    out.get(m)!.push(t);
  }
  for (const list of out.values()) list.sort((a, b) => a - b);
  return out;
}

/**
 * A kafkajs PartitionAssigner: each member's metadata carries the tasks it owns now (its
 * userData), the leader deals the tasks with `assignTasks` and gives every member partition p of
 * every subscribed topic that has one for each task p it got.
 */
export function taskAssigner(
  ownedTasks: () => readonly number[],
  taskOf: (partition: number) => number = (p) => p,
): PartitionAssigner {
  return ({ cluster }) => ({
    name: TASK_ASSIGNER_NAME,
    version: 0,
    async assign({ members, topics }) {
      const partitions = topicPartitions(cluster, topics);
      const tasks = [...new Set([...partitions.values()].flat().map(taskOf))];
      const previous = new Map<string, number[]>();
      for (const m of members) {
        const meta = AssignerProtocol.MemberMetadata.decode(m.memberMetadata);
        previous.set(m.memberId, decodeTasks(meta?.userData));
      }
      const dealt = assignTasks(
        members.map((m) => m.memberId),
        tasks,
        previous,
      );
      return [...dealt].map(([memberId, owned]) => {
        const assignment: Record<string, number[]> = {};
        for (const [topic, ps] of partitions) {
          const mine = ps.filter((p) => owned.includes(taskOf(p)));
          if (mine.length > 0) assignment[topic] = mine;
        }
        return memberAssignment(memberId, assignment);
      });
    },
    protocol({ topics }) {
      return {
        name: TASK_ASSIGNER_NAME,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: 0,
          topics,
          userData: Buffer.from(JSON.stringify(ownedTasks())),
        }),
      };
    },
  });
}

function decodeTasks(userData: Buffer | undefined): number[] {
  if (!userData || userData.length === 0) return [];
  try {
    const parsed: unknown = JSON.parse(userData.toString('utf8'));
    return Array.isArray(parsed) ? parsed.filter((t): t is number => Number.isSafeInteger(t)) : [];
  } catch {
    return [];
  }
}
