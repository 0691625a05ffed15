// A node's partitions on its local store: reads, versioned writes, scans, and the two halves
// of copying a partition to another node while it keeps taking writes (DDIA ch. 6
// "Rebalancing Partitions"; the snapshot-then-catch-up of MongoDB's chunk migration and of
// 6.5840 shardkv): the owner hands out a snapshot at a sequence number and from then on keeps
// every change in a bounded log, so the receiver can catch up from where its copy stopped.
// Writes of one partition are serialised by a per-partition lock: the lock is what makes the
// sequence number, the change log and the store agree, and what `seal` waits for.
import { randomUUID } from 'node:crypto';
import type { Store } from '@ddia/common';
import type { PartitionInfo } from '../core/index.js';
import { type Layout, metaKey, type StoreBounds } from './layout.js';
import { decodeRecord, encodeRecord, type StoredValue } from './record.js';

/** Changes kept per partition while it is being copied; past this the receiver copies a
 *  snapshot again (410) rather than the owner holding unbounded memory. */
export const CHANGES_PER_PARTITION_MAX = 50_000;
/** Entries per store batch when importing a snapshot. */
const IMPORT_BATCH_ENTRIES = 1_000;
/** abstract-level's batch options do not declare `sync`; the LSM engine and LevelDB honour it. */
const SYNCED = { sync: true } as Record<string, unknown>;
const UNSYNCED = { sync: false } as Record<string, unknown>;

export type Condition = { kind: 'none' } | { kind: 'absent' } | { kind: 'version'; version: number };

export type WriteOutcome =
  | { status: 'ok'; version: number; created: boolean; deleted: boolean }
  | { status: 'not_found' }
  | { status: 'precondition_failed'; current: number | null };

export interface Change {
  seq: number;
  key: string;
  /** base64 of the value, or null for a delete */
  value: string | null;
}

export interface SnapshotItem {
  key: string;
  value: string;
  version: number;
}

interface ChangeLog {
  /** The partition's sequence number when recording began: changes after it are all here. */
  from: number;
  changes: Change[];
}

export class PartitionStore {
  /** Names this process's change logs: after a restart they are gone and a receiver must
   *  copy a snapshot again. */
  readonly generation = randomUUID();
  private readonly seqs = new Map<number, number>();
  private readonly locks = new Map<number, Promise<unknown>>();
  private readonly logs = new Map<number, ChangeLog>();

  constructor(
    readonly db: Store,
    readonly layout: Layout,
  ) {}

  /** Runs `fn` with the partition's lock held (writes, snapshots, seals, imports). */
  withLock<T>(partitionId: number, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(partitionId) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(partitionId, tail);
    void tail.then(() => {
      if (this.locks.get(partitionId) === tail) this.locks.delete(partitionId);
    });
    return run;
  }

  async seq(partitionId: number): Promise<number> {
    const known = this.seqs.get(partitionId);
    if (known !== undefined) return known;
    const stored = (await this.db.get(metaKey(partitionId))) as Uint8Array | undefined;
    const seq = stored === undefined ? 0 : Number(Buffer.from(stored).toString('utf8'));
    this.seqs.set(partitionId, seq);
    return seq;
  }

  async get(partitionId: number, key: string): Promise<StoredValue | undefined> {
    const bytes = (await this.db.get(this.layout.dataKey(partitionId, key))) as Uint8Array | undefined;
    return bytes === undefined ? undefined : decodeRecord(bytes);
  }

  /** A put (value) or delete (null). The caller holds the partition's lock. Synced before it
   *  resolves: an acknowledged write survives kill -9. */
  async write(
    partitionId: number,
    key: string,
    value: Uint8Array | null,
    condition: Condition,
  ): Promise<WriteOutcome> {
    const current = await this.get(partitionId, key);
    if (condition.kind === 'absent' && current)
      return { status: 'precondition_failed', current: current.version };
    if (condition.kind === 'version' && current?.version !== condition.version) {
      return { status: 'precondition_failed', current: current?.version ?? null };
    }
    if (value === null && !current) return { status: 'not_found' };
    const seq = (await this.seq(partitionId)) + 1;
    const dataKey = this.layout.dataKey(partitionId, key);
    await this.db.batch(
      [
        value === null
          ? { type: 'del', key: dataKey }
          : { type: 'put', key: dataKey, value: encodeRecord(seq, value) },
        { type: 'put', key: metaKey(partitionId), value: Buffer.from(String(seq)) },
      ],
      SYNCED,
    );
    this.seqs.set(partitionId, seq);
    const log = this.logs.get(partitionId);
    if (log) {
      log.changes.push({ seq, key, value: value === null ? null : Buffer.from(value).toString('base64') });
      if (log.changes.length > CHANGES_PER_PARTITION_MAX) log.from = (log.changes.shift() as Change).seq;
    }
    return { status: 'ok', version: seq, created: value !== null && !current, deleted: value === null };
  }

  async scan(bounds: StoreBounds, limit: number): Promise<SnapshotItem[]> {
    const items: SnapshotItem[] = [];
    for await (const [storeKey, bytes] of this.db.iterator({ gte: bounds.gte, lt: bounds.lt, limit })) {
      const record = decodeRecord(bytes as Uint8Array);
      items.push({
        key: this.layout.userKey(storeKey as string),
        value: Buffer.from(record.value).toString('base64'),
        version: record.version,
      });
    }
    return items;
  }

  /** The partition as of now, and from now on its changes are recorded for `changes`. */
  snapshot(partition: PartitionInfo): Promise<{ generation: string; seq: number; items: SnapshotItem[] }> {
    return this.withLock(partition.id, async () => {
      const seq = await this.seq(partition.id);
      const log = this.logs.get(partition.id);
      if (!log || log.from > seq) this.logs.set(partition.id, { from: seq, changes: [] });
      // The iterator reads the store as of its creation, inside the lock: exactly `seq`.
      const items = await this.scan(this.layout.bounds(partition), Number.POSITIVE_INFINITY);
      return { generation: this.generation, seq, items };
    });
  }

  /** Changes after `after`, or null when this log cannot say (other generation, trimmed). */
  async changes(
    partitionId: number,
    generation: string,
    after: number,
  ): Promise<{ seq: number; changes: Change[] } | null> {
    const log = this.logs.get(partitionId);
    if (generation !== this.generation || !log || after < log.from) return null;
    return { seq: await this.seq(partitionId), changes: log.changes.filter((c) => c.seq > after) };
  }

  /** Waits for in-flight writes, then answers the sequence number the owner stopped at. */
  seal(partitionId: number): Promise<number> {
    return this.withLock(partitionId, () => this.seq(partitionId));
  }

  /** Replaces whatever this node has of the partition by a snapshot (receiver side). */
  async importSnapshot(partition: PartitionInfo, seq: number, items: SnapshotItem[]): Promise<void> {
    await this.drop(partition);
    for (let i = 0; i < items.length; i += IMPORT_BATCH_ENTRIES) {
      const ops = items.slice(i, i + IMPORT_BATCH_ENTRIES).map((item) => ({
        type: 'put' as const,
        key: this.layout.dataKey(partition.id, item.key),
        value: encodeRecord(item.version, Buffer.from(item.value, 'base64')),
      }));
      await this.db.batch(ops, UNSYNCED);
    }
    await this.db.batch(
      [{ type: 'put', key: metaKey(partition.id), value: Buffer.from(String(seq)) }],
      SYNCED,
    );
    this.seqs.set(partition.id, seq);
  }

  /** Applies changes copied from the owner, in order (receiver side). */
  async applyChanges(partitionId: number, changes: Change[]): Promise<void> {
    if (changes.length === 0) return;
    const ops = changes.map((c) => {
      const key = this.layout.dataKey(partitionId, c.key);
      return c.value === null
        ? { type: 'del' as const, key }
        : { type: 'put' as const, key, value: encodeRecord(c.seq, Buffer.from(c.value, 'base64')) };
    });
    const seq = (changes[changes.length - 1] as Change).seq;
    ops.push({ type: 'put', key: metaKey(partitionId), value: Buffer.from(String(seq)) });
    await this.db.batch(ops, SYNCED);
    this.seqs.set(partitionId, seq);
  }

  /** Deletes the partition's keys here (after it moved away, or before a fresh copy). */
  async drop(partition: PartitionInfo): Promise<number> {
    const bounds = this.layout.bounds(partition);
    let dropped = 0;
    const keys: string[] = [];
    for await (const key of this.db.keys({ gte: bounds.gte, lt: bounds.lt })) keys.push(key as string);
    for (let i = 0; i < keys.length; i += IMPORT_BATCH_ENTRIES) {
      const slice = keys.slice(i, i + IMPORT_BATCH_ENTRIES);
      await this.db.batch(
        slice.map((key) => ({ type: 'del' as const, key })),
        SYNCED,
      );
      dropped += slice.length;
    }
    this.logs.delete(partition.id);
    return dropped;
  }

  /** Forget the change log of a partition that is no longer being copied. */
  stopRecording(partitionId: number): void {
    this.logs.delete(partitionId);
  }

  recording(): number[] {
    return [...this.logs.keys()];
  }
}
