// The replicated state machine (Raft §2, DDIA ch. 9 "total order broadcast"): every replica
// applies the same commands in the same log order and so holds the same keys, versions and
// revision. Versioning follows etcd: a store-wide revision counts every write that changed
// something; each key carries the revision that last wrote it (its version, used for
// compare-and-set), the revision that created it and its write count. The store is any
// abstract-level database from common's openStore.

import { assert, type Store } from '@ddia/common';
import { type Command, decodeCommand } from './command.js';
import {
  DATA_PREFIX,
  DATA_PREFIX_END,
  dataKey,
  decodeEntry,
  decodeJson,
  type Entry,
  encodeEntry,
  encodeJson,
  META_KEY,
  SESSION_PREFIX,
  type StoreMeta,
  sessionKey,
} from './layout.js';
import type { ApplyOutcome, WriteResult } from './result.js';
import { RowCache } from './row-cache.js';
import { type Session, SessionTable } from './sessions.js';
import { decodeSnapshot, RECORD_DATA, RECORD_SESSION, SnapshotWriter } from './snapshot.js';

/** Listing pages are bounded so that one request cannot pin the process. */
export const RANGE_LIMIT_MAX = 10_000;
const RESTORE_BATCH_RECORDS = 1_000;
/** Default budget of the row cache (row-cache.ts): the records of recently written keys. */
export const ROW_CACHE_BYTES_DEFAULT = 16 * 1024 * 1024;
/** Longest stretch a snapshot walks the store before it lets other work run. */
const SNAPSHOT_SLICE_MS = 2;

export interface KvEntry extends Entry {
  key: Uint8Array;
}

export interface RangeQuery {
  /** Inclusive lower bound on keys (bytes). */
  start?: Uint8Array;
  /** Exclusive upper bound on keys (bytes). */
  end?: Uint8Array;
  /** Only keys starting with these bytes. */
  prefix?: Uint8Array;
  limit: number;
}

export interface RangeResult {
  entries: KvEntry[];
  /** More keys matched beyond `limit`. */
  more: boolean;
}

export interface StateMachineOptions {
  sessionsMax?: number;
  /** Budget of the row cache in front of the store; 0 turns it off. */
  rowCacheBytes?: number;
}

type BatchOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

/** One committed command as Raft's applyBatch hands it over. */
export interface AppliedCommand {
  command: Uint8Array;
  index: number;
  term: number;
}

/** Identifies store keys in a Map: latin1 maps each byte to one UTF-16 unit, so it is exact. */
function overlayId(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

/**
 * The writes of a batch not yet in the store, over the values read from it before the batch.
 * A read sees the last write to the key in this batch, else the prefetched stored value. Each
 * key ends up as one operation (its last write), so a key written N times costs one record.
 */
class WriteOverlay {
  /** Last write per key in this batch: bytes, or null for a delete (a tombstone). */
  private readonly writes = new Map<string, { key: Uint8Array; value: Uint8Array | null }>();
  /** Stored values read before the batch started: bytes, or undefined when absent. */
  private readonly base = new Map<string, Uint8Array | undefined>();

  /** Registers a key the batch will read and returns its id; null if it already was (fetch
   *  each key once). */
  markRead(key: Uint8Array): string | null {
    const id = overlayId(key);
    if (this.base.has(id)) return null;
    this.base.set(id, undefined);
    return id;
  }

  /** The stored value of a key registered with markRead (by its id). */
  setBase(id: string, value: Uint8Array | undefined): void {
    this.base.set(id, value);
  }

  read(key: Uint8Array): Uint8Array | undefined {
    const id = overlayId(key);
    const written = this.writes.get(id);
    if (written !== undefined) return written.value ?? undefined;
    assert(this.base.has(id), 'every data key a batch reads was prefetched');
    return this.base.get(id);
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.writes.set(overlayId(key), { key, value });
  }

  del(key: Uint8Array): void {
    this.writes.set(overlayId(key), { key, value: null });
  }

  operations(): BatchOp[] {
    const ops: BatchOp[] = [];
    for (const { key, value } of this.writes.values()) {
      ops.push(value === null ? { type: 'del', key } : { type: 'put', key, value });
    }
    return ops;
  }
}

export class KvStateMachine {
  private meta: StoreMeta = { revision: 0, appliedIndex: 0, appliedTerm: 0 };
  private readonly sessions: SessionTable;
  private readonly cache: RowCache;
  private applying = false;

  private constructor(
    private readonly db: Store,
    options: StateMachineOptions,
  ) {
    this.sessions = new SessionTable(options.sessionsMax);
    this.cache = new RowCache(options.rowCacheBytes ?? ROW_CACHE_BYTES_DEFAULT);
  }

  /** Opens the state machine on a store opened with keyEncoding and valueEncoding 'view'. */
  static async open(db: Store, options: StateMachineOptions = {}): Promise<KvStateMachine> {
    const machine = new KvStateMachine(db, options);
    const meta = await db.get(META_KEY);
    if (meta !== undefined) machine.meta = decodeJson<StoreMeta>(meta);
    const sessions: Session[] = [];
    for await (const value of db.values({
      gte: Uint8Array.of(SESSION_PREFIX),
      lt: Uint8Array.of(SESSION_PREFIX + 1),
    })) {
      sessions.push(decodeJson<Session>(value));
    }
    machine.sessions.load(sessions);
    return machine;
  }

  get revision(): number {
    return this.meta.revision;
  }

  get appliedIndex(): number {
    return this.meta.appliedIndex;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Applies one committed command. Called by the Raft node in log order, one at a time.
   * Everything it changes (key, session, meta) goes into one atomic batch.
   */
  async apply(bytes: Uint8Array, position: { index: number; term: number }): Promise<ApplyOutcome> {
    const [outcome] = await this.applyBatch([{ command: bytes, index: position.index, term: position.term }]);
    assert(outcome !== undefined, 'one outcome per command');
    return outcome;
  }

  /**
   * Applies a run of committed commands in log order, with the same outcomes as `apply` on each
   * in turn, and writes everything they change (keys, sessions, the applied index) in ONE atomic
   * `db.batch`: one write-ahead-log record for the whole run instead of one per command. After a
   * crash the store is before or after the whole run (DDIA ch. 7 "atomicity"), and Raft
   * re-delivers what it has not got. Later commands read the run's earlier writes from an
   * in-memory overlay, since nothing reaches the store until the end.
   */
  async applyBatch(commands: readonly AppliedCommand[]): Promise<ApplyOutcome[]> {
    assert(!this.applying, 'apply is called one command (or one batch) at a time');
    this.applying = true;
    try {
      const overlay = new WriteOverlay();
      const decoded = await this.decodeAndPrefetch(commands, overlay);
      const outcomes: ApplyOutcome[] = [];
      let meta = this.meta;
      for (let i = 0; i < commands.length; i++) {
        const { index, term } = commands[i] as AppliedCommand;
        const command = decoded[i];
        if (command === undefined) {
          // After a crash the store may be ahead of the snapshot Raft restarts from; committed
          // entries never change, so the effects of this index are already here.
          outcomes.push({ result: { status: 'replayed', index }, duplicate: false });
          continue;
        }
        // Gaps are normal: Raft consumes no-op and membership entries itself.
        assert(index > meta.appliedIndex, 'commands arrive in log order');
        let outcome: ApplyOutcome;
        const previous = command.session ? this.sessions.get(command.session.clientId) : undefined;
        if (command.session && previous && command.session.seq === previous.seq) {
          outcome = { result: previous.result, duplicate: true };
        } else if (command.session && previous && command.session.seq < previous.seq) {
          outcome = { result: { status: 'stale_request', lastSeq: previous.seq }, duplicate: false };
        } else {
          const result = this.execute(command, meta.revision, overlay);
          outcome = { result, duplicate: false };
          if (command.session) {
            // The in-memory table changes now so that later commands of the run see it; if the
            // batch below fails the node stops (Raft's 'fatal'), and reopening reloads the table
            // from the store, which never saw this run.
            const session: Session = { ...command.session, index, result };
            for (const evicted of this.sessions.record(session)) overlay.del(sessionKey(evicted));
            overlay.put(sessionKey(session.clientId), encodeJson(session));
          }
        }
        const result = outcome.result;
        const revision =
          !outcome.duplicate && (result.status === 'ok' || result.status === 'precondition_failed')
            ? result.revision
            : meta.revision;
        assert(revision >= meta.revision, 'the store revision never goes back');
        meta = { revision, appliedIndex: index, appliedTerm: term };
        outcomes.push(outcome);
      }
      if (meta !== this.meta) {
        const batch = overlay.operations();
        batch.push({ type: 'put', key: META_KEY, value: encodeJson(meta) });
        await this.db.batch(batch);
        this.meta = meta;
        // Write-through, once the store holds the batch (row-cache.ts).
        for (const op of batch) {
          if (op.key[0] === DATA_PREFIX)
            this.cache.set(overlayId(op.key), op.type === 'put' ? op.value : null);
        }
      }
      return outcomes;
    } finally {
      this.applying = false;
    }
  }

  /**
   * Decodes the commands not yet applied (undefined marks one already in the store) and reads
   * every data key they touch, as the overlay's base: from the row cache where it knows the
   * key, else with one getMany for the run instead of one store read per command.
   */
  private async decodeAndPrefetch(
    commands: readonly AppliedCommand[],
    overlay: WriteOverlay,
  ): Promise<(Command | undefined)[]> {
    const decoded: (Command | undefined)[] = [];
    const keys: Uint8Array[] = [];
    const ids: string[] = [];
    let appliedIndex = this.meta.appliedIndex;
    for (const { command: bytes, index } of commands) {
      if (index <= appliedIndex) {
        decoded.push(undefined);
        continue;
      }
      appliedIndex = index;
      const command = decodeCommand(bytes);
      decoded.push(command);
      const key = dataKey(command.key);
      const id = overlay.markRead(key);
      if (id === null) continue;
      const cached = this.cache.get(id);
      if (cached !== undefined) overlay.setBase(id, cached ?? undefined);
      else {
        keys.push(key);
        ids.push(id);
      }
    }
    if (keys.length > 0) {
      const values = await this.db.getMany(keys);
      assert(values.length === keys.length, 'getMany returns one value per key');
      for (let i = 0; i < keys.length; i++) {
        const id = ids[i] as string;
        overlay.setBase(id, values[i]);
        // A copy: the store may hand out a view of a larger buffer (a table block), which the
        // cache would otherwise keep alive whole.
        this.cache.set(id, values[i]?.slice() ?? null);
      }
    }
    return decoded;
  }

  private execute(command: Command, revisionBefore: number, overlay: WriteOverlay): WriteResult {
    const key = dataKey(command.key);
    const stored = overlay.read(key);
    const current = stored === undefined ? undefined : decodeEntry(stored);
    const condition = command.condition;
    const holds =
      condition.kind === 'none' ||
      (condition.kind === 'absent' && current === undefined) ||
      (condition.kind === 'version' && current !== undefined && current.modRevision === condition.version) ||
      (condition.kind === 'present' && current !== undefined) ||
      (condition.kind === 'anyOf' &&
        current !== undefined &&
        condition.versions.includes(current.modRevision));
    if (!holds) {
      return {
        status: 'precondition_failed',
        revision: revisionBefore,
        currentVersion: current?.modRevision ?? null,
      };
    }
    switch (command.op) {
      case 'put': {
        const revision = revisionBefore + 1;
        const entry: Entry = {
          modRevision: revision,
          createRevision: current?.createRevision ?? revision,
          writes: (current?.writes ?? 0) + 1,
          value: command.value,
        };
        overlay.put(key, encodeEntry(entry));
        return { status: 'ok', op: 'put', created: current === undefined, revision, version: revision };
      }
      case 'delete': {
        // etcd: deleting a missing key changes nothing, so the revision stays.
        if (current === undefined) {
          return {
            status: 'ok',
            op: 'delete',
            deleted: false,
            revision: revisionBefore,
            prevVersion: null,
          };
        }
        const revision = revisionBefore + 1;
        overlay.del(key);
        return { status: 'ok', op: 'delete', deleted: true, revision, prevVersion: current.modRevision };
      }
      default:
        return assertNever(command);
    }
  }

  async get(key: Uint8Array): Promise<KvEntry | undefined> {
    const storeKey = dataKey(key);
    // A hit is the store's record as of the last applied batch; a miss reads the store and
    // does not fill the cache (only the apply path does: row-cache.ts).
    const cached = this.cache.get(overlayId(storeKey));
    const stored = cached === undefined ? await this.db.get(storeKey) : (cached ?? undefined);
    if (stored === undefined) return undefined;
    return { key, ...decodeEntry(stored) };
  }

  async range(query: RangeQuery): Promise<RangeResult> {
    assert(query.limit > 0 && query.limit <= RANGE_LIMIT_MAX, 'range limit is validated by the caller');
    let lower = dataKey(query.start ?? new Uint8Array(0));
    let upper = query.end ? dataKey(query.end) : Uint8Array.of(DATA_PREFIX_END);
    if (query.prefix && query.prefix.length > 0) {
      const prefixLower = dataKey(query.prefix);
      const prefixUpper = prefixSuccessor(prefixLower);
      if (compareBytes(prefixLower, lower) > 0) lower = prefixLower;
      if (compareBytes(prefixUpper, upper) < 0) upper = prefixUpper;
    }
    const entries: KvEntry[] = [];
    if (compareBytes(lower, upper) >= 0) return { entries, more: false };
    let more = false;
    for await (const [key, value] of this.db.iterator({ gte: lower, lt: upper, limit: query.limit + 1 })) {
      if (entries.length === query.limit) {
        more = true;
        break;
      }
      entries.push({ key: (key as Uint8Array).slice(1), ...decodeEntry(value as Uint8Array) });
    }
    return { entries, more };
  }

  /**
   * The whole state as of the last applied index. Raft calls this between applies and then
   * goes on applying while the image is built (@ddia/raft API.md §2): the meta and the
   * sessions are copied now, and the store is read through an iterator, which reads the store
   * as it was when it was made (abstract-level's snapshot guarantee). The walk yields to the
   * event loop every SNAPSHOT_SLICE_MS, so that requests are served meanwhile.
   */
  async snapshot(): Promise<Uint8Array> {
    assert(!this.applying, 'snapshot is taken between applies');
    const writer = new SnapshotWriter(this.meta);
    const sessions = this.sessions.all().map((session) => ({
      key: new TextEncoder().encode(session.clientId),
      value: encodeJson(session),
    }));
    const records = this.db.iterator({ gte: Uint8Array.of(DATA_PREFIX), lt: Uint8Array.of(DATA_PREFIX_END) });
    let sliceStartedMs = performance.now();
    for await (const [key, value] of records) {
      writer.add({ kind: RECORD_DATA, key: (key as Uint8Array).subarray(1), value: value as Uint8Array });
      if (performance.now() - sliceStartedMs >= SNAPSHOT_SLICE_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        sliceStartedMs = performance.now();
      }
    }
    for (const session of sessions) writer.add({ kind: RECORD_SESSION, ...session });
    return writer.finish();
  }

  /**
   * Replaces the whole state by a snapshot. A snapshot older than what the store already
   * holds is skipped: on restart Raft hands back its last snapshot, and the store (which
   * applies atomically) may already be further along the same committed log.
   */
  async restore(image: Uint8Array, position: { index: number; term: number }): Promise<void> {
    assert(!this.applying, 'restore happens between applies');
    const decoded = decodeSnapshot(image);
    // The image is as of its last command; Raft's index may be later (entries that carry no
    // command: a new leader's empty entry, a membership change) or earlier (an image taken
    // while Raft replayed committed entries the store already held). Either way the image is
    // the state after every command up to the later of the two, and entries at or below it are
    // replays that change nothing.
    const meta: StoreMeta =
      decoded.meta.appliedIndex >= position.index
        ? decoded.meta
        : { ...decoded.meta, appliedIndex: position.index, appliedTerm: position.term };
    if (meta.appliedIndex <= this.meta.appliedIndex) return;
    this.cache.clear();
    await this.db.clear();
    let batch: BatchOp[] = [];
    const sessions: Session[] = [];
    for (const record of decoded.records) {
      if (record.kind === RECORD_DATA) {
        batch.push({ type: 'put', key: dataKey(record.key), value: record.value.slice() });
      } else {
        const session = decodeJson<Session>(record.value);
        sessions.push(session);
        batch.push({ type: 'put', key: sessionKey(session.clientId), value: record.value.slice() });
      }
      if (batch.length >= RESTORE_BATCH_RECORDS) {
        await this.db.batch(batch);
        batch = [];
      }
    }
    // The meta record goes last: until it is written, a crash leaves an older applied index
    // and Raft restores the snapshot again.
    batch.push({ type: 'put', key: META_KEY, value: encodeJson(meta) });
    await this.db.batch(batch);
    this.sessions.load(sessions);
    this.meta = meta;
  }
}

function assertNever(value: never): never {
  throw new Error(`unexpected command ${JSON.stringify(value)}`);
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  }
  return a.length - b.length;
}

/** The smallest key greater than every key with this prefix. */
function prefixSuccessor(prefix: Uint8Array): Uint8Array {
  const out = prefix.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    if ((out[i] as number) < 0xff) {
      out[i] = (out[i] as number) + 1;
      return out.subarray(0, i + 1);
    }
  }
  return Uint8Array.of(DATA_PREFIX_END);
}
