// Read-only views of the broker for the HTTP API and /metrics: topics, partitions, groups, lag.
import type { Broker } from './broker/broker.js';

export interface PartitionView {
  partition: number;
  logStartOffset: number;
  highWatermark: number;
  bytes: number;
  batches: number;
  segments: number;
}

export interface GroupPartitionLag {
  topic: string;
  partition: number;
  committedOffset: number;
  highWatermark: number;
  /** Messages written but not yet consumed (committed) by the group. */
  lag: number;
}

export interface GroupView {
  groupId: string;
  state: string;
  generationId: number;
  protocol: string;
  members: { memberId: string; clientId: string; clientHost: string }[];
  offsets: GroupPartitionLag[];
  totalLag: number;
}

export function topicsView(broker: Broker) {
  return broker.allTopics().map((t) => ({
    name: t.meta.name,
    partitions: t.partitions.length,
    configs: t.meta.configs,
    bytes: t.partitions.reduce((sum, p) => sum + p.bytes, 0),
    messages: t.partitions.reduce((sum, p) => sum + (p.highWatermark - p.logStartOffset), 0),
  }));
}

export function partitionsView(broker: Broker, topic: string): PartitionView[] | null {
  const t = broker.topic(topic);
  if (!t) return null;
  return t.partitions.map((p, partition) => ({
    partition,
    logStartOffset: p.logStartOffset,
    highWatermark: p.highWatermark,
    bytes: p.bytes,
    batches: p.batchCount,
    segments: p.segments,
  }));
}

export function groupView(broker: Broker, groupId: string): GroupView | null {
  const { coordinator } = broker;
  const group = coordinator.find(groupId);
  const committed = coordinator.offsets.partitionsOf(groupId);
  if (!group && committed.length === 0) return null;
  const offsets: GroupPartitionLag[] = [];
  for (const { topic, partition, committed: c } of committed) {
    const log = broker.partition(topic, partition);
    if (!log) continue;
    offsets.push({
      topic,
      partition,
      committedOffset: c.offset,
      highWatermark: log.highWatermark,
      lag: Math.max(0, log.highWatermark - c.offset),
    });
  }
  offsets.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  return {
    groupId,
    state: group?.state ?? 'Empty',
    generationId: group?.generationId ?? 0,
    protocol: group?.protocolName ?? '',
    members: [...(group?.members.values() ?? [])].map((m) => ({
      memberId: m.memberId,
      clientId: m.clientId,
      clientHost: m.clientHost,
    })),
    offsets,
    totalLag: offsets.reduce((sum, o) => sum + o.lag, 0),
  };
}

export function groupsView(broker: Broker): GroupView[] {
  return broker.coordinator
    .groupIds()
    .map((id) => groupView(broker, id))
    .filter((g): g is GroupView => g !== null);
}
