// Committed offsets as records of an internal compacted topic, as Kafka keeps them in
// __consumer_offsets: key (group, topic, partition), value the offset; a null value is a
// tombstone that compaction drops. A group's coordinator is the leader of the partition its
// id hashes to, so offsets and coordination move together when that partition fails over.
// The same partition holds each group's metadata record (key (group), value its stable
// generation: protocol, leader, members with their subscriptions and assignments), as Kafka's
// GroupMetadata record, so the next coordinator carries the generation on.
import type { GroupSnapshot } from './group.js';
import type { Record as BatchRecord } from './record-batch.js';

export const OFFSETS_TOPIC = '__consumer_offsets';
/** offsets.topic.num.partitions (Kafka's default is 50; three spread the lab's three brokers'
 *  coordinators one each, since partition p starts led by replica p mod n). */
export const OFFSETS_TOPIC_PARTITIONS = 3;
export const OFFSETS_TOPIC_CONFIGS: Readonly<Record<string, string>> = { 'cleanup.policy': 'compact' };

/** Topics clients may read but not write or delete (Metadata's is_internal). */
export function isInternalTopic(name: string): boolean {
  return name === OFFSETS_TOPIC;
}

/** Java's String.hashCode, as Kafka's partitionFor(groupId) uses it: 31·h + UTF-16 unit, 32-bit. */
function javaHashCode(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (Math.imul(31, h) + text.charCodeAt(i)) | 0;
  return h;
}

/** Which partition of the offsets topic holds a group (Kafka: Utils.abs(hashCode) % n). */
export function offsetsPartitionFor(groupId: string, partitions: number): number {
  const h = javaHashCode(groupId);
  return (h === -2147483648 ? 0 : Math.abs(h)) % partitions;
}

export interface OffsetCommitValue {
  offset: number;
  metadata: string | null;
  commitTimestampMs: number;
}

export interface OffsetEntry {
  group: string;
  topic: string;
  partition: number;
  /** null: a tombstone (the offset is forgotten). */
  value: OffsetCommitValue | null;
}

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

export function encodeOffsetEntry(entry: OffsetEntry, offset: number, timestampMs: number): BatchRecord {
  const v = entry.value;
  return {
    offset,
    timestamp: timestampMs,
    key: ENCODER.encode(JSON.stringify([entry.group, entry.topic, entry.partition])),
    value: v === null ? null : ENCODER.encode(JSON.stringify([v.offset, v.metadata, v.commitTimestampMs])),
    headers: [],
  };
}

/** Reads a record back; null for a record that is not an offset entry (never written by us). */
export function decodeOffsetEntry(record: BatchRecord): OffsetEntry | null {
  if (record.key === null) return null;
  const key: unknown = JSON.parse(DECODER.decode(record.key));
  if (!Array.isArray(key) || key.length !== 3) return null;
  const [group, topic, partition] = key as [string, string, number];
  if (record.value === null) return { group, topic, partition, value: null };
  const [offset, metadata, commitTimestampMs] = JSON.parse(DECODER.decode(record.value)) as [
    number,
    string | null,
    number,
  ];
  return { group, topic, partition, value: { offset, metadata, commitTimestampMs } };
}

/** A group's metadata record; null snapshot: a tombstone. */
export interface GroupEntry {
  group: string;
  snapshot: GroupSnapshot | null;
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
function unhex(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The key is a one-element array, so it never collides with an offset's three-element key. */
export function encodeGroupEntry(entry: GroupEntry, offset: number, timestampMs: number): BatchRecord {
  const s = entry.snapshot;
  const value =
    s === null
      ? null
      : ENCODER.encode(
          JSON.stringify({
            ...s,
            members: s.members.map((m) => ({
              ...m,
              protocols: m.protocols.map((p) => ({ name: p.name, metadata: hex(p.metadata) })),
              assignment: hex(m.assignment),
            })),
          }),
        );
  return {
    offset,
    timestamp: timestampMs,
    key: ENCODER.encode(JSON.stringify([entry.group])),
    value,
    headers: [],
  };
}

type StoredMember = Omit<GroupSnapshot['members'][number], 'protocols' | 'assignment'> & {
  protocols: { name: string; metadata: string }[];
  assignment: string;
};

/** Reads a group metadata record back; null for any other record. */
export function decodeGroupEntry(record: BatchRecord): GroupEntry | null {
  if (record.key === null) return null;
  const key: unknown = JSON.parse(DECODER.decode(record.key));
  if (!Array.isArray(key) || key.length !== 1) return null;
  const group = key[0] as string;
  if (record.value === null) return { group, snapshot: null };
  const stored = JSON.parse(DECODER.decode(record.value)) as Omit<GroupSnapshot, 'members'> & {
    members: StoredMember[];
  };
  return {
    group,
    snapshot: {
      ...stored,
      members: stored.members.map((m) => ({
        ...m,
        protocols: m.protocols.map((p) => ({ name: p.name, metadata: unhex(p.metadata) })),
        assignment: unhex(m.assignment),
      })),
    },
  };
}
