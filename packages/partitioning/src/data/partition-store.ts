// A node's partitions on its local store: reads, versioned writes, scans, and the two halves
// of copying a partition to another node while it keeps taking writes (DDIA ch. 6
// "Rebalancing Partitions"; the snapshot-then-catch-up of MongoDB's chunk migration and of
// 6.5840 shardkv): the owner hands out a snapshot at a sequence number and from then on keeps
// every change in a bounded log, so the receiver can catch up from where its copy stopped.
// Writes of one partition are serialised by a per-partition lock: the lock is what makes the
// sequence number, the change log and the store agree, and what `seal` waits for.
import { randomUUID } from 'node:crypto';
import type { Store } from '@ddia/common';
import {
  decodePosting,
  docKeyOfPosting,
  encodePosting,
  type IndexSpec,
  isReservedKey,
  type PartitionInfo,
  type Posting,
  postingSupersedes,
  postingTermPrefix,
  rangeContains,
  termsOf,
} from '../core/index.js';
import {
  builtKey,
  type Layout,
  localIndexKey,
  localIndexPrefix,
  localIndexTermPrefix,
  metaKey,
  OUTBOX_PREFIX,
  outboxKey,
  prefixEnd,
  SEAL_PREFIX,
  type StoreBounds,
  sealKey,
} from './layout.js';
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

/** A global index update waiting in this node's outbox (see src/indexes/global-outbox.ts). */
export interface OutboxEntry {
  index: string;
  term: string;
  key: string;
  version: number;
  live: boolean;
  /** Wall-clock ms when the document was written: the index lag is measured from here. */
  atMs: number;
}

type BatchOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

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
  private outboxSeq = 0;
  private readonly sealedAt = new Map<number, number>();
  /** Called after a write put entries in the outbox. */
  onOutbox: () => void = () => undefined;
  /** Called under the partition's lock once a write is durable here, before it is acknowledged:
   *  the owner ships the change to the partition's followers (src/replicas/replicator.ts). */
  onWrite: (partitionId: number, change: Change) => Promise<void> = async () => undefined;

  private specs: IndexSpec[];

  constructor(
    readonly db: Store,
    readonly layout: Layout,
    indexes: readonly IndexSpec[] = [],
  ) {
    this.specs = [...indexes];
  }

  /** The indexes every write maintains (declared by flag, plus those created online). */
  get indexes(): readonly IndexSpec[] {
    return this.specs;
  }

  /** Maintains `spec` in every write from now on (online index creation); false if known. */
  addIndex(spec: IndexSpec): boolean {
    if (this.specs.some((s) => s.name === spec.name)) return false;
    this.specs = [...this.specs, spec];
    return true;
  }

  /**
   * Backfills index `name` for up to `limit` documents of the partition after `afterKey`: under
   * the partition's lock, so every document is indexed at its current value and no write slips
   * between the read and the index entry (writes outside the chunk maintain the index
   * themselves since addIndex). Local entries go in the batch; a global index gets its postings
   * through the outbox, like a write's. Answers the last key done (`next`), or null at the end
   * (then the partition is recorded as built: b:<index>:<partition>).
   */
  backfill(
    partition: PartitionInfo,
    name: string,
    afterKey: string | null,
    limit: number,
  ): Promise<{ next: string | null; documents: number }> {
    const spec = this.specs.find((s) => s.name === name);
    if (!spec) throw new Error(`no index ${name}`);
    return this.withLock(partition.id, async () => {
      const all = this.layout.bounds(partition);
      const gte = afterKey === null ? all.gte : `${this.layout.dataKey(partition.id, afterKey)}\u0000`;
      const ops: BatchOp[] = [];
      let last: string | null = null;
      let count = 0;
      let documents = 0;
      for await (const [storeKey, bytes] of this.db.iterator({ gte, lt: all.lt, limit })) {
        const key = this.layout.userKey(storeKey as string);
        last = key;
        count++;
        if (isReservedKey(key)) continue;
        const record = decodeRecord(bytes as Uint8Array);
        documents++;
        ops.push(...this.indexOps(partition.id, key, null, record.value, record.version, true, [spec]));
      }
      const finished = count < limit;
      if (finished) ops.push({ type: 'put', key: builtKey(name, partition.id), value: new Uint8Array(0) });
      if (ops.length > 0) await this.db.batch(ops, SYNCED);
      if (ops.some((op) => op.key.startsWith(OUTBOX_PREFIX))) this.onOutbox();
      return { next: finished ? null : last, documents };
    });
  }

  /** Whether this node finished backfilling index `name` on the partition. */
  async built(name: string, partitionId: number): Promise<boolean> {
    return (await this.db.get(builtKey(name, partitionId))) !== undefined;
  }

  /** Reads where the outbox ends and the seal records (call once after opening). */
  async init(): Promise<void> {
    for await (const [key, bytes] of this.db.iterator({ gte: SEAL_PREFIX, lt: prefixEnd(SEAL_PREFIX) })) {
      this.sealedAt.set(
        Number((key as string).slice(SEAL_PREFIX.length)),
        Number(Buffer.from(bytes as Uint8Array).toString('utf8')),
      );
    }
    for await (const key of this.db.keys({
      gte: OUTBOX_PREFIX,
      lt: prefixEnd(OUTBOX_PREFIX),
      reverse: true,
      limit: 1,
    })) {
      this.outboxSeq = Number((key as string).slice(OUTBOX_PREFIX.length));
    }
  }

  /**
   * The index work of one document write: local index entries to change in the same batch, and
   * global index updates for the outbox (written in the same batch too, so a crash cannot lose
   * them: they are delivered after a restart).
   */
  private indexOps(
    partitionId: number,
    key: string,
    before: Uint8Array | null,
    after: Uint8Array | null,
    version: number,
    withOutbox: boolean,
    indexes: readonly IndexSpec[] = this.specs,
  ): BatchOp[] {
    if (indexes.length === 0 || isReservedKey(key)) return [];
    const old = termsOf(indexes, before);
    const now = termsOf(indexes, after);
    const ops: BatchOp[] = [];
    for (const index of indexes) {
      const was = old.get(index.name);
      const is = now.get(index.name);
      if (was === is) continue;
      if (index.kind === 'local') {
        if (was !== undefined)
          ops.push({ type: 'del', key: localIndexKey(partitionId, index.name, was, key) });
        if (is !== undefined)
          ops.push({
            type: 'put',
            key: localIndexKey(partitionId, index.name, is, key),
            value: new Uint8Array(0),
          });
        continue;
      }
      if (!withOutbox) continue;
      const atMs = Date.now();
      for (const [term, live] of [
        [was, false],
        [is, true],
      ] as const) {
        if (term === undefined) continue;
        const entry: OutboxEntry = { index: index.name, term, key, version, live, atMs };
        ops.push({
          type: 'put',
          key: outboxKey(++this.outboxSeq),
          value: Buffer.from(JSON.stringify(entry)),
        });
      }
    }
    return ops;
  }

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
    const indexOps = this.indexOps(partitionId, key, current?.value ?? null, value, seq, true);
    await this.db.batch(
      [
        value === null
          ? { type: 'del', key: dataKey }
          : { type: 'put', key: dataKey, value: encodeRecord(seq, value) },
        { type: 'put', key: metaKey(partitionId), value: Buffer.from(String(seq)) },
        ...indexOps,
      ],
      SYNCED,
    );
    this.seqs.set(partitionId, seq);
    if (indexOps.some((op) => op.key.startsWith(OUTBOX_PREFIX))) this.onOutbox();
    const change: Change = { seq, key, value: value === null ? null : Buffer.from(value).toString('base64') };
    const log = this.logs.get(partitionId);
    if (log) {
      log.changes.push(change);
      if (log.changes.length > CHANGES_PER_PARTITION_MAX) log.from = (log.changes.shift() as Change).seq;
    }
    await this.onWrite(partitionId, change);
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

  /**
   * Changes after `after`, or null when this log cannot say (other generation, trimmed).
   * `atEnd(seq)` runs in the same synchronous step as the read of the log: a write appends to
   * the log and calls `onWrite` in one step too, so every write is either in the answer or
   * after `atEnd` (how a move's target becomes a learner with no change between the two).
   */
  async changes(
    partitionId: number,
    generation: string,
    after: number,
    atEnd?: (seq: number) => void,
  ): Promise<{ seq: number; changes: Change[] } | null> {
    await this.seq(partitionId); // loaded once: below, everything is read without a pause
    const log = this.logs.get(partitionId);
    if (generation !== this.generation || !log || after < log.from) return null;
    const seq = this.seqs.get(partitionId) as number;
    const changes = log.changes.filter((c) => c.seq > after);
    atEnd?.(seq);
    return { seq, changes };
  }

  /**
   * Waits for in-flight writes, records durably that the partition was sealed for the freeze
   * of `epoch`, then answers the sequence number the owner stopped at. The record is what keeps
   * a restarted owner whose controller log lost its tail (a power cut before the Raft hard
   * state reached the disk) from serving a partition that may already belong to another node:
   * it serves the partition again only once it has applied `epoch` or later (partition-node.ts).
   */
  async seal(partitionId: number, epoch: number): Promise<number> {
    // Recorded before taking the lock, while a write in flight finishes (its fsync and its
    // feed to a learner overlap this one): that write was admitted before the seal, and every
    // later one is refused, by the freeze or by this record.
    if ((this.sealedAt.get(partitionId) ?? 0) < epoch) {
      await this.db.put(sealKey(partitionId), Buffer.from(String(epoch)), SYNCED);
      this.sealedAt.set(partitionId, Math.max(epoch, this.sealedAt.get(partitionId) ?? 0));
    }
    return this.withLock(partitionId, () => this.seq(partitionId));
  }

  /** The freeze epoch this node last sealed the partition for (0 if never). */
  sealedEpoch(partitionId: number): number {
    return this.sealedAt.get(partitionId) ?? 0;
  }

  /** Replaces whatever this node has of the partition by a snapshot (receiver side). */
  async importSnapshot(partition: PartitionInfo, seq: number, items: SnapshotItem[]): Promise<void> {
    await this.drop(partition);
    for (let i = 0; i < items.length; i += IMPORT_BATCH_ENTRIES) {
      const ops: BatchOp[] = [];
      for (const item of items.slice(i, i + IMPORT_BATCH_ENTRIES)) {
        const value = Buffer.from(item.value, 'base64');
        ops.push({
          type: 'put',
          key: this.layout.dataKey(partition.id, item.key),
          value: encodeRecord(item.version, value),
        });
        // The local index is derived: the receiver builds its own from the copied documents.
        ops.push(...this.indexOps(partition.id, item.key, null, value, item.version, false));
      }
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
    const ops: BatchOp[] = [];
    // The value each key has before this change (a batch may change one key several times).
    const latest = new Map<string, Uint8Array | null>();
    for (const c of changes) {
      const key = this.layout.dataKey(partitionId, c.key);
      const value = c.value === null ? null : Buffer.from(c.value, 'base64');
      if (this.indexes.some((i) => i.kind === 'local')) {
        const before = latest.has(c.key)
          ? (latest.get(c.key) ?? null)
          : ((await this.get(partitionId, c.key))?.value ?? null);
        ops.push(...this.indexOps(partitionId, c.key, before, value, c.seq, false));
        latest.set(c.key, value);
      }
      ops.push(
        value === null ? { type: 'del', key } : { type: 'put', key, value: encodeRecord(c.seq, value) },
      );
    }
    const seq = (changes[changes.length - 1] as Change).seq;
    ops.push({ type: 'put', key: metaKey(partitionId), value: Buffer.from(String(seq)) });
    await this.db.batch(ops, SYNCED);
    this.seqs.set(partitionId, seq);
  }

  /**
   * After a range split (applied from the controller log): the right half is a new partition id
   * over data already in place (`r:<key>` does not name the partition), so only what is keyed
   * by partition id follows it: its sequence number starts at the left's (versions never go
   * backwards for a key), its documents' local index entries move from the left id to the
   * right, and it counts as backfilled for every index the left was. The caller holds both
   * partitions' locks.
   */
  async splitOff(left: PartitionInfo, right: PartitionInfo): Promise<void> {
    const range = right.range;
    if (!range) throw new Error(`partition ${right.id} has no range`);
    // Already done (the controller log is replayed after a restart): its own sequence stands.
    if ((await this.db.get(metaKey(right.id))) !== undefined) return;
    const seq = await this.seq(left.id);
    const ops: BatchOp[] = [{ type: 'put', key: metaKey(right.id), value: Buffer.from(String(seq)) }];
    const from = localIndexPrefix(left.id);
    for await (const [key, bytes] of this.db.iterator({ gte: from, lt: prefixEnd(from) })) {
      const rest = (key as string).slice(from.length);
      const docKey = rest.slice(rest.indexOf('\u0000', rest.indexOf('\u0000') + 1) + 1);
      if (!rangeContains(range, docKey)) continue;
      ops.push({ type: 'del', key: key as string });
      ops.push({ type: 'put', key: `${localIndexPrefix(right.id)}${rest}`, value: bytes as Uint8Array });
    }
    for (const spec of this.specs) {
      if (await this.built(spec.name, left.id))
        ops.push({ type: 'put', key: builtKey(spec.name, right.id), value: new Uint8Array(0) });
    }
    await this.db.batch(ops, SYNCED);
    this.seqs.set(right.id, seq);
  }

  /**
   * After a merge of two adjacent range partitions (applied from the controller log): the data
   * is in place (`r:<key>`), so only what is keyed by partition id is folded into the left:
   * its sequence continues from the larger of the two (versions never go backwards for a key),
   * the right's local index entries move to the left id, and the merged partition counts as
   * backfilled for an index only if both halves were (else the builder backfills it again).
   * The right's `m:`, `b:` and `s:` entries go. The caller holds both partitions' locks.
   */
  async mergeIn(leftId: number, rightId: number): Promise<void> {
    // Already done (the controller log is replayed after a restart): the right's state is gone.
    if ((await this.db.get(metaKey(rightId))) === undefined) return;
    const seq = Math.max(await this.seq(leftId), await this.seq(rightId));
    const ops: BatchOp[] = [
      { type: 'put', key: metaKey(leftId), value: Buffer.from(String(seq)) },
      { type: 'del', key: metaKey(rightId) },
      { type: 'del', key: sealKey(rightId) },
    ];
    const from = localIndexPrefix(rightId);
    for await (const [key, bytes] of this.db.iterator({ gte: from, lt: prefixEnd(from) })) {
      ops.push({ type: 'del', key: key as string });
      ops.push({
        type: 'put',
        key: `${localIndexPrefix(leftId)}${(key as string).slice(from.length)}`,
        value: bytes as Uint8Array,
      });
    }
    for (const spec of this.specs) {
      if (!(await this.built(spec.name, rightId)))
        ops.push({ type: 'del', key: builtKey(spec.name, leftId) });
      ops.push({ type: 'del', key: builtKey(spec.name, rightId) });
    }
    await this.db.batch(ops, SYNCED);
    this.seqs.set(leftId, seq);
    this.seqs.delete(rightId);
    this.logs.delete(rightId);
  }

  /** Deletes the partition's keys here (after it moved away, or before a fresh copy). */
  async drop(partition: PartitionInfo): Promise<number> {
    const bounds = this.layout.bounds(partition);
    let dropped = 0;
    const keys: string[] = [];
    for await (const key of this.db.keys({ gte: bounds.gte, lt: bounds.lt })) keys.push(key as string);
    const local = localIndexPrefix(partition.id);
    for await (const key of this.db.keys({ gte: local, lt: prefixEnd(local) })) keys.push(key as string);
    // Whoever holds the partition next backfills online-created indexes on it again.
    for (const spec of this.specs) keys.push(builtKey(spec.name, partition.id));
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

  /** Document keys of the partition's local index entries for `term`. */
  async localLookup(partitionId: number, index: string, term: string, limit: number): Promise<string[]> {
    const prefix = localIndexTermPrefix(partitionId, index, term);
    const keys: string[] = [];
    for await (const key of this.db.keys({ gte: prefix, lt: prefixEnd(prefix), limit }))
      keys.push((key as string).slice(prefix.length));
    return keys;
  }

  /** Document keys whose live postings for `term` this partition holds (global index). */
  async postings(partitionId: number, index: string, term: string, limit: number): Promise<string[]> {
    const prefix = this.layout.dataKey(partitionId, postingTermPrefix(index, term));
    const keys: string[] = [];
    for await (const [storeKey, bytes] of this.db.iterator({ gte: prefix, lt: prefixEnd(prefix) })) {
      if (!decodePosting(decodeRecord(bytes as Uint8Array).value).live) continue;
      keys.push(docKeyOfPosting(this.layout.userKey(storeKey as string)));
      if (keys.length >= limit) break;
    }
    return keys;
  }

  /** Stores a posting unless a newer one is there. The caller holds the partition's lock. */
  async applyPosting(partitionId: number, key: string, posting: Posting): Promise<boolean> {
    const current = await this.get(partitionId, key);
    if (!postingSupersedes(posting, current ? decodePosting(current.value) : undefined)) return false;
    await this.write(partitionId, key, encodePosting(posting), { kind: 'none' });
    return true;
  }

  /** The oldest outbox entries. */
  async outbox(limit: number): Promise<{ key: string; entry: OutboxEntry }[]> {
    const out: { key: string; entry: OutboxEntry }[] = [];
    for await (const [key, bytes] of this.db.iterator({
      gte: OUTBOX_PREFIX,
      lt: prefixEnd(OUTBOX_PREFIX),
      limit,
    })) {
      out.push({
        key: key as string,
        entry: JSON.parse(Buffer.from(bytes as Uint8Array).toString('utf8')) as OutboxEntry,
      });
    }
    return out;
  }

  async outboxDone(keys: string[]): Promise<void> {
    if (keys.length > 0)
      await this.db.batch(
        keys.map((key) => ({ type: 'del' as const, key })),
        UNSYNCED,
      );
  }

  /** Forget the change log of a partition that is no longer being copied. */
  stopRecording(partitionId: number): void {
    this.logs.delete(partitionId);
  }

  recording(): number[] {
    return [...this.logs.keys()];
  }
}
