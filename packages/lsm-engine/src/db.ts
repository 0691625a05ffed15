// The engine: write path, read path, background flush and compaction (LevelDB db_impl.cc).
//
// Write: writers queue up; one writer loop takes everyone waiting, assigns sequence numbers,
// appends one WAL record per batch in a single write, fsyncs once if any of them asked for
// sync (group commit), inserts into the memtable, then publishes the new last sequence.
// Read: memtable, immutable memtable, level-0 tables newest first, then one table per
// level; Bloom filters skip tables that cannot hold the key. Background: a full memtable is
// frozen and flushed to a level-0 table; compactions merge tables down. Both run on worker
// threads (table-workers.ts), so writes keep flowing on the main thread meanwhile, and the
// main thread only installs their results as version edits.
// Every file goes through common's FileSystem layer (options.fs; LevelDB's Env).
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { assert } from '@ddia/common/core';
import { errorCode, type FileSystem, mkdirDurable } from '@ddia/common/fs';
import { BlockCache } from './block-cache.js';
import { bloomHash } from './bloom.js';
import {
  type CompactionPlan,
  type CompactionPolicy,
  levelScores,
  pickCompaction,
  planMajor,
} from './compaction.js';
import { DbIterator, type RangeBounds } from './db-iterator.js';
import {
  CorruptManifestError,
  CorruptTableError,
  CorruptWalError,
  DatabaseLocationError,
  EngineFailedError,
} from './errors.js';
import { compareKeys, type InternalIterator } from './internal-key.js';
import { DirectoryLock } from './lock-file.js';
import { MANIFEST_EDITS_MAX, ManifestWriter, readManifest, removeOldManifests } from './manifest.js';
import { Memtable } from './memtable.js';
import { LevelIterator, MergingIterator } from './merging-iterator.js';
import { type LsmOptions, resolveOptions } from './options.js';
import { LSM_SYNC } from './sync-points.js';
import { Table, type TableReadStats } from './table.js';
import { tableFileName } from './table-format.js';
import {
  INLINE_JOB_BYTES_MAX,
  prewarmTableWorkers,
  type RunningJob,
  runTableJob,
  TableJobAbortedError,
} from './table-workers.js';
import { outputsBound, packMemtable, type TableJob, type TableJobSource } from './table-writer.js';
import { LEVELS, type TableMeta, Version, type VersionEdit } from './version.js';
import { decodeBatchRaw, encodeBatch, setBatchSequence, Wal, type WriteOp } from './wal.js';

/** The record of a writer that writes nothing (a flush request). */
const EMPTY_RECORD = encodeBatch(0, []);

/** The most bytes one writer-loop group gathers into a single WAL write. */
const WRITE_GROUP_BYTES_MAX = 1024 * 1024;
/** Tiered compaction keeps every run in level 0, so it stalls writes later than leveled. */
const TIERED_STALL_FACTOR = 3;
const TABLE_NAME = /^(\d{6,})\.sst$/;
/** The deepest level a flush may write to (LevelDB's kMaxMemCompactLevel). */
const FLUSH_LEVEL_MAX = 2;
/** A flush goes no deeper than where it overlaps this many target-size tables two levels down
 *  (LevelDB's MaxGrandParentOverlapBytes: 10 files). */
const GRANDPARENT_OVERLAP_FILES = 10;
/** Leveled compactions reading at least this much are split between two workers. */
const SUBCOMPACTION_BYTES_MIN = 4 * 1024 * 1024;

/**
 * A user key that cuts a compaction's inputs about in half: the middle of the inputs'
 * largest keys (the output level's tables dominate, so their boundaries spread evenly).
 * Null for a single input.
 */
function middleBoundary(plan: CompactionPlan): Buffer | null {
  if (plan.inputs.length < 2) return null;
  const ends = plan.inputs.map(({ table }) => table.largest).sort(compareKeys);
  // Keys up to and including the middle end go left: cut just after it (key + 0x00).
  return Buffer.concat([ends[ends.length >> 1]!, ZERO_BYTE]);
}

const ZERO_BYTE = Buffer.from([0]);

/** Fast-path writes between yields to the event loop (see write()). */
const WRITES_PER_YIELD = 32;

function batchUserBytes(ops: readonly WriteOp[]): number {
  let bytes = 0;
  for (const op of ops) bytes += op.key.length + op.value.length;
  return bytes;
}

/** The fast-path writes of one turn of the microtask queue (LsmDb.writeRecord). */
interface TickGroup {
  records: Buffer[];
  waiters: { resolve: () => void; reject: (err: unknown) => void }[];
  /** Operations in the records (their sequence numbers follow lastSeq). */
  count: number;
  userBytes: number;
}

interface Writer {
  /** An encoded batch (encodeBatch / encodeOperations); its sequence is set when it is taken. */
  record: Buffer;
  count: number;
  userBytes: number;
  sync: boolean;
  /** A request to freeze the memtable (flush), not a write. */
  freeze: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface LevelStats {
  level: number;
  files: number;
  bytes: number;
  score: number;
}

export interface LsmStats {
  levels: LevelStats[];
  memtable: { bytes: number; entries: number; immutable: boolean; immutables: number };
  lastSequence: number;
  snapshots: number;
  bloom: { checks: number; negatives: number; usefulRate: number };
  /** Point lookups: tables probed, and data blocks searched in them (the filter's saving). */
  reads: { tableProbes: number; dataBlockSearches: number };
  blockCache: { hits: number; misses: number; hitRate: number; bytes: number; capacityBytes: number };
  bytes: {
    user: number;
    wal: number;
    flush: number;
    compactionRead: number;
    compactionWritten: number;
    tables: number;
  };
  writeAmplification: number;
  spaceAmplification: number;
  flushes: number;
  compactions: number;
  trivialMoves: number;
  /** Compactions split between two workers (RocksDB's subcompactions). */
  subcompactions: number;
  stalls: { count: number; ms: number };
  /** Writes delayed by 1 ms because level 0 reached l0SlowdownTrigger tables. */
  slowdowns: number;
  walTornTailBytes: number;
  compaction: LsmOptions['compaction'];
}

export class LsmDb {
  private mem = new Memtable();
  /** Frozen memtables waiting for their flush, oldest first (RocksDB's immutable list). */
  private imms: Memtable[] = [];
  private current: Version;
  private readonly liveVersions = new Set<Version>();
  private readonly tables = new Map<number, Table>();
  private readonly obsolete = new Set<number>();
  private readonly compactPointers = new Map<number, Buffer>();
  private readonly snapshots: number[] = [];
  private readonly writers: Writer[] = [];
  private writing = false;
  /** Fast-path writes waiting for the end of this turn of the microtask queue, or null. */
  private tick: TickGroup | null = null;
  private writesSinceYield = 0;
  private flushing: Promise<void> | null = null;
  /** Whether this engine has asked for the table workers to start (applyRecords). */
  private workersPrewarmed = false;
  private compacting: Promise<void> | null = null;
  /**
   * A flush's table is being logged into a level below 0 (levelForFlush): no compaction may be
   * picked until it is installed, or the pick would not see it and could write over its range.
   */
  private placingFlush = false;
  /** The tail of the chain of version edits being logged (they apply one at a time). */
  private applying: Promise<void> = Promise.resolve();
  /** The compaction jobs running on workers, cancelled when the engine closes. */
  private compactionJobs: RunningJob[] = [];
  private manualWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private progressWaiters: (() => void)[] = [];
  private failure: unknown = null;
  private closing = false;
  private closed = false;
  private manifest!: ManifestWriter;
  private readonly cache: BlockCache;
  private readonly readStats: TableReadStats = { bloomChecks: 0, bloomNegatives: 0, dataBlockSearches: 0 };
  private readonly policy: CompactionPolicy;
  private readonly counters = {
    userBytes: 0,
    walBytes: 0,
    flushBytes: 0,
    compactionReadBytes: 0,
    compactionWrittenBytes: 0,
    flushes: 0,
    compactions: 0,
    trivialMoves: 0,
    subcompactions: 0,
    stalls: 0,
    stallMs: 0,
    slowdowns: 0,
  };
  lastSeq = 0;
  private nextFileNumber = 2;
  private walIndex = 0;
  private readonly fs: FileSystem;

  private constructor(
    readonly location: string,
    readonly options: LsmOptions,
    private wal: Wal,
    private readonly lock: DirectoryLock,
  ) {
    this.fs = options.fs;
    this.current = Version.empty();
    this.cache = new BlockCache(options.blockCacheBytes);
    this.policy = {
      style: options.compaction,
      l0CompactionTrigger: options.l0CompactionTrigger,
      levelBaseBytes: options.levelBaseBytes,
      levelMultiplier: options.levelMultiplier,
      tieredMinRuns: options.tieredMinRuns,
      tieredSizeRatio: options.tieredSizeRatio,
    };
  }

  // ---------------------------------------------------------------- open and recovery

  static async open(location: string, given: Partial<LsmOptions> = {}): Promise<LsmDb> {
    const options = resolveOptions(given);
    const fs = options.fs;
    const exists = await fs.stat(location).then(
      (s) => s.isDirectory,
      () => false,
    );
    if (!exists) {
      if (!options.createIfMissing)
        throw new DatabaseLocationError(`${location} does not exist (createIfMissing is false)`);
      await mkdirDurable(fs, location, LSM_SYNC.openDir);
    }
    const lock = DirectoryLock.acquire(location, fs);
    let db: LsmDb;
    try {
      const recovered = await readManifest(location, fs);
      if (recovered && options.errorIfExists)
        throw new DatabaseLocationError(`${location} exists (errorIfExists is true)`);
      if (!recovered && !options.createIfMissing)
        throw new DatabaseLocationError(`${location} holds no database (createIfMissing is false)`);
      const wal = await Wal.open(join(location, 'wal'), options.walSegmentBytes, fs);
      db = new LsmDb(location, options, wal, lock);
      try {
        await db.recover(recovered?.edits ?? []);
      } catch (err) {
        await db.closeFiles();
        throw err;
      }
    } catch (err) {
      lock.release();
      throw err;
    }
    db.scheduleBackground();
    return db;
  }

  private async recover(edits: VersionEdit[]): Promise<void> {
    let version = Version.empty();
    for (const edit of edits) {
      version = version.apply(edit);
      this.absorbCounters(edit);
    }
    version.checkInvariants();
    const manifestName = edits.length > 0 ? 'manifest' : '';
    for (const tables of version.levels) {
      for (const t of tables) {
        const name = tableFileName(t.number);
        const size = await this.fs.stat(join(this.location, name)).then(
          (s) => s.size,
          (err) => {
            if (errorCode(err) === 'ENOENT') return -1;
            throw err;
          },
        );
        if (size < 0)
          throw new CorruptManifestError(manifestName, 0, `table ${name} listed in the manifest is missing`);
        if (size !== t.bytes)
          throw new CorruptTableError(
            name,
            Math.min(size, t.bytes),
            `file has ${size} bytes, the manifest says ${t.bytes}`,
          );
      }
    }
    this.install(version);
    // WAL continuity: the manifest says records before walIndex are in tables.
    if (this.wal.nextIndex < this.walIndex) {
      await this.wal.reset(this.walIndex);
    } else if (this.wal.firstIndex > this.walIndex) {
      throw new CorruptWalError(
        'wal',
        0,
        `records from ${this.walIndex} to ${this.wal.firstIndex - 1} are missing (the manifest needs them)`,
      );
    }
    // A fresh manifest holding the whole recovered state; older ones go once CURRENT moved.
    const manifestNumber = this.nextFileNumber++;
    this.manifest = await ManifestWriter.create(this.location, manifestNumber, this.snapshotEdit(), this.fs);
    await removeOldManifests(this.location, this.manifest.name, this.fs);
    await this.removeOrphanFiles();
    // Replay the WAL into memtables, flushing whenever one fills up.
    for await (const { index, record } of this.wal.replay(this.walIndex)) {
      try {
        const mem = this.mem;
        const { firstSeq, count } = decodeBatchRaw(record, (seq, kind, bytes, ks, kl, vs, vl) =>
          mem.addFrom(bytes, ks, kl, vs, vl, seq, kind),
        );
        if (count > 0) this.lastSeq = Math.max(this.lastSeq, firstSeq + count - 1);
      } catch (err) {
        throw new CorruptWalError('wal', index, `record ${index} does not decode: ${String(err)}`);
      }
      if (this.mem.bytes >= this.options.writeBufferBytes) {
        this.mem.walEnd = index + 1;
        this.imms.push(this.mem);
        this.mem = new Memtable();
        await this.flushImmutable();
      }
    }
  }

  private absorbCounters(edit: VersionEdit): void {
    if (edit.walIndex !== undefined) this.walIndex = edit.walIndex;
    if (edit.nextFileNumber !== undefined)
      this.nextFileNumber = Math.max(this.nextFileNumber, edit.nextFileNumber);
    if (edit.lastSeq !== undefined) this.lastSeq = Math.max(this.lastSeq, edit.lastSeq);
    for (const [level, key] of edit.compactPointers ?? []) this.compactPointers.set(level, key);
  }

  private snapshotEdit(): VersionEdit {
    const added: [number, TableMeta][] = [];
    this.current.levels.forEach((tables, level) => {
      for (const t of tables) added.push([level, t]);
    });
    return {
      walIndex: this.walIndex,
      nextFileNumber: this.nextFileNumber,
      lastSeq: this.lastSeq,
      compactPointers: [...this.compactPointers],
      added,
    };
  }

  private async removeOrphanFiles(): Promise<void> {
    const live = this.current.fileNumbers();
    for (const name of await this.fs.readdir(this.location)) {
      const m = TABLE_NAME.exec(name);
      if ((m && !live.has(Number(m[1]))) || name.endsWith('.tmp'))
        await this.fs.unlink(join(this.location, name)).catch(() => {});
    }
  }

  // ---------------------------------------------------------------- writes

  /**
   * Applies `ops` atomically; resolves once in the WAL (in the page cache, or fsynced when
   * `sync`). A non-sync write with nobody queued ahead and room in the memtable takes the fast
   * path: WAL append, memtable insert and publish all happen in this call, with no await.
   */
  write(ops: readonly WriteOp[], sync: boolean): Promise<void> {
    if (ops.length === 0) return this.writeRecord(EMPTY_RECORD, 0, 0, sync);
    return this.writeRecord(encodeBatch(0, ops), ops.length, batchUserBytes(ops), sync);
  }

  /**
   * write() of a batch already encoded (LsmLevel encodes abstract-level's operations straight
   * into one: encodeOperations): `count` operations of `userBytes` key and value bytes. The
   * record is this writer's until the promise settles; its first sequence is set here.
   */
  writeRecord(record: Buffer, count: number, userBytes: number, sync: boolean): Promise<void> {
    if (this.closing || this.closed) return Promise.reject(new EngineFailedError('the database is closed'));
    if (this.failure) return Promise.reject(this.failedError());
    if (count === 0) return Promise.resolve();
    const tick = this.tick;
    if (
      !sync &&
      !this.writing &&
      this.writers.length === 0 &&
      this.mem.bytes + (tick === null ? 0 : tick.userBytes) < this.options.writeBufferBytes &&
      (tick === null || tick.userBytes < WRITE_GROUP_BYTES_MAX) &&
      !this.wal.rollDue &&
      this.current.levels[0]!.length < this.l0Trigger(this.options.l0SlowdownTrigger)
    ) {
      // Every fast-path write of this turn of the microtask queue (a burst of un-awaited
      // puts, say) joins one group: one write(2) for all of them once the turn ends, as
      // LevelDB's writer queue merges the writers waiting behind its leader.
      const group = tick ?? this.startTick();
      setBatchSequence(record, this.lastSeq + 1 + group.count);
      group.records.push(record);
      group.count += count;
      group.userBytes += userBytes;
      return new Promise((resolve, reject) => group.waiters.push({ resolve, reject }));
    }
    // A slow-path writer goes after the fast-path writes before it.
    this.appendTick();
    return new Promise((resolve, reject) => {
      this.writers.push({ record, count, userBytes, sync, freeze: false, resolve, reject });
      if (!this.writing) void this.writeLoop();
    });
  }

  private startTick(): TickGroup {
    const group: TickGroup = { records: [], waiters: [], count: 0, userBytes: 0 };
    this.tick = group;
    queueMicrotask(() => this.appendTick());
    return group;
  }

  /**
   * Appends this turn's fast-path writes with one write(2), inserts them into the memtable,
   * and acknowledges them: they are in the page cache now.
   */
  private appendTick(): void {
    const group = this.tick;
    if (group === null) return;
    this.tick = null;
    try {
      this.wal.appendSync(group.records);
    } catch (err) {
      this.failure ??= err;
      for (const w of group.waiters) w.reject(err);
      return;
    }
    this.applyRecords(group.records, group.userBytes);
    // Consecutive awaited fast-path writes never leave the microtask queue; yield to the event
    // loop now and then so that background I/O completions and timers get their turn.
    if (++this.writesSinceYield >= WRITES_PER_YIELD) {
      this.writesSinceYield = 0;
      setImmediate(() => {
        for (const w of group.waiters) w.resolve();
      });
      return;
    }
    for (const w of group.waiters) w.resolve();
  }

  /** Inserts WAL records into the memtable and publishes their sequence numbers. */
  private applyRecords(records: readonly Buffer[], userBytes: number): void {
    let last = this.lastSeq;
    const mem = this.mem;
    // The memtable copies each key and value from the record into its arena.
    for (const record of records) {
      const { firstSeq, count } = decodeBatchRaw(record, (s, kind, bytes, ks, kl, vs, vl) =>
        mem.addFrom(bytes, ks, kl, vs, vl, s, kind),
      );
      last = firstSeq + count - 1;
      this.counters.walBytes += record.length;
    }
    this.counters.userBytes += userBytes;
    this.lastSeq = last;
    // Half way to a flush that will need a worker: start the flush worker now (table-workers.ts).
    if (
      !this.workersPrewarmed &&
      this.mem.bytes * 2 >= this.options.writeBufferBytes &&
      this.mem.bytes > INLINE_JOB_BYTES_MAX
    ) {
      this.workersPrewarmed = true;
      // Never a reason to fail this write (it is durable already): a worker that cannot start
      // leaves its jobs to the main thread, as before.
      try {
        prewarmTableWorkers(['flush']);
      } catch {}
    }
  }

  private async writeLoop(): Promise<void> {
    this.writing = true;
    try {
      while (this.writers.length > 0) {
        const head = this.writers[0]!;
        if (this.failure) {
          for (const w of this.writers.splice(0)) w.reject(this.failedError());
          return;
        }
        try {
          await this.makeRoomForWrite(head.freeze);
        } catch (err) {
          for (const w of this.writers.splice(0)) w.reject(err);
          return;
        }
        if (head.freeze) {
          this.writers.shift();
          head.resolve();
          continue;
        }
        const group: Writer[] = [];
        let bytes = 0;
        while (
          this.writers.length > 0 &&
          !this.writers[0]!.freeze &&
          (group.length === 0 || bytes < WRITE_GROUP_BYTES_MAX)
        ) {
          const w = this.writers.shift()!;
          group.push(w);
          bytes += w.userBytes;
        }
        let seq = this.lastSeq + 1;
        const records: Buffer[] = [];
        for (const w of group) {
          setBatchSequence(w.record, seq);
          records.push(w.record);
          seq += w.count;
        }
        try {
          // A full segment is sealed (synced) before the next one starts: writers wait.
          if (this.wal.rollDue) await this.wal.roll();
          this.wal.appendSync(records);
          // Group commit: one fdatasync covers every writer in the group (LevelDB DBImpl::Write).
          if (group.some((w) => w.sync)) await this.wal.sync();
        } catch (err) {
          this.failure = err;
          for (const w of group) w.reject(err);
          continue;
        }
        this.applyRecords(records, bytes);
        for (const w of group) w.resolve();
      }
    } finally {
      this.writing = false;
    }
  }

  /** Freezes the memtable when full; waits (a bounded stall) while the flush or level 0 lags. */
  private async makeRoomForWrite(force: boolean): Promise<void> {
    const stallTrigger = this.l0Trigger(this.options.l0StopTrigger);
    const level0 = this.current.levels[0]!.length;
    if (!force && level0 >= this.l0Trigger(this.options.l0SlowdownTrigger) && level0 < stallTrigger) {
      // LevelDB's slowdown: level 0 is filling up; delay this write (group) by 1 ms, once,
      // rather than stop every write for seconds at the hard limit.
      this.counters.slowdowns++;
      this.scheduleBackground();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    let stalledAt = 0;
    for (;;) {
      if (this.failure) throw this.failedError();
      const full = force ? this.mem.entries > 0 : this.mem.bytes >= this.options.writeBufferBytes;
      if (!full) break;
      // RocksDB's max_write_buffer_number: up to that many memtables (this one included) may
      // wait for their flush before writes stop; LevelDB's behaviour is maxWriteBuffers = 2.
      if (
        this.imms.length >= this.options.maxWriteBuffers - 1 ||
        this.current.levels[0]!.length >= stallTrigger
      ) {
        if (stalledAt === 0) {
          stalledAt = performance.now();
          this.counters.stalls++;
        }
        this.scheduleBackground();
        await this.waitForProgress();
        continue;
      }
      this.mem.walEnd = this.wal.nextIndex;
      this.imms.push(this.mem);
      this.mem = new Memtable(this.mem.entries);
      this.scheduleBackground();
      break;
    }
    if (stalledAt !== 0) this.counters.stallMs += performance.now() - stalledAt;
  }

  /** A level-0 file count trigger; tiered compaction keeps more runs in level 0. */
  private l0Trigger(files: number): number {
    return this.options.compaction === 'tiered' ? files * TIERED_STALL_FACTOR : files;
  }

  private waitForProgress(): Promise<void> {
    return new Promise((resolve) => this.progressWaiters.push(resolve));
  }

  private notifyProgress(): void {
    for (const w of this.progressWaiters.splice(0)) w();
  }

  // ---------------------------------------------------------------- reads

  /** The value of `key` at `seq` (default: latest), or undefined. A copy the caller owns. */
  get(key: Buffer, seq = this.lastSeq): Buffer | undefined {
    const value = this.find(key, seq);
    return value === null ? undefined : Buffer.from(value);
  }

  /** Whether `key` has a value at `seq`: a get without copying the value. */
  has(key: Buffer, seq = this.lastSeq): boolean {
    return this.find(key, seq) !== null;
  }

  /** The newest visible value as a view into the memtable or a cached block, or null. */
  private find(key: Buffer, seq: number): Buffer | null {
    this.checkOpen();
    let r = this.mem.get(key, seq);
    for (let i = this.imms.length - 1; !r.found && i >= 0; i--) r = this.imms[i]!.get(key, seq);
    if (r.found) return r.deleted ? null : r.value;
    const version = this.current;
    const hash = bloomHash(key);
    for (const t of version.levels[0]!) {
      if (compareKeys(key, t.smallest) < 0 || compareKeys(key, t.largest) > 0) continue;
      const found = this.table(t).get(key, seq, hash);
      if (found.found) return found.deleted ? null : found.value;
    }
    for (let level = 1; level < LEVELS; level++) {
      const t = version.tableFor(level, key);
      if (t === null) continue;
      const found = this.table(t).get(key, seq, hash);
      if (found.found) return found.deleted ? null : found.value;
    }
    return null;
  }

  /** An iterator over a consistent view: the current sequence (or `seq`) and tables. */
  iterator(options: {
    reverse: boolean;
    seq?: number;
    bounds: RangeBounds;
    fillCache?: boolean;
    /** false: entries come with an empty value (no copy), for keys-only scans and clear(). */
    values?: boolean;
  }): DbIterator {
    this.checkOpen();
    const version = this.ref(this.current);
    const fillCache = options.fillCache ?? true;
    const children: InternalIterator[] = [this.mem.iterator()];
    for (let i = this.imms.length - 1; i >= 0; i--) children.push(this.imms[i]!.iterator());
    for (const t of version.levels[0]!) children.push(this.table(t).iterator(fillCache));
    for (let level = 1; level < LEVELS; level++) {
      if (version.levels[level]!.length > 0) {
        children.push(new LevelIterator(version.levels[level]!, (m) => this.table(m), fillCache));
      }
    }
    const merging = new MergingIterator(children, options.reverse);
    return new DbIterator(
      merging,
      options.seq ?? this.lastSeq,
      options.bounds,
      () => this.unref(version),
      options.values !== false,
    );
  }

  /** Pins the current sequence: compaction keeps every version visible at it until released. */
  snapshot(): number {
    this.checkOpen();
    this.snapshots.push(this.lastSeq);
    return this.lastSeq;
  }

  releaseSnapshot(seq: number): void {
    const i = this.snapshots.indexOf(seq);
    if (i >= 0) this.snapshots.splice(i, 1);
  }

  private smallestSnapshot(): number {
    let min = this.lastSeq;
    for (const s of this.snapshots) if (s < min) min = s;
    return min;
  }

  private table(meta: TableMeta): Table {
    let t = this.tables.get(meta.number);
    if (!t) {
      t = Table.open(
        join(this.location, tableFileName(meta.number)),
        meta.number,
        meta.bytes,
        this.cache,
        this.readStats,
        this.fs,
      );
      this.tables.set(meta.number, t);
    }
    return t;
  }

  // ---------------------------------------------------------------- versions and files

  private ref(v: Version): Version {
    v.refs++;
    this.liveVersions.add(v);
    return v;
  }

  private unref(v: Version): void {
    v.refs--;
    assert(v.refs >= 0, 'version released twice');
    if (v.refs === 0) {
      this.liveVersions.delete(v);
      void this.deleteObsoleteFiles();
    }
  }

  private install(v: Version): void {
    const old = this.current;
    this.current = this.ref(v);
    if (old !== v && this.liveVersions.has(old)) this.unref(old);
  }

  /** Logs `edit` in the manifest, then installs the version it makes; one edit at a time. */
  private logAndApply(edit: VersionEdit): Promise<void> {
    const done = this.applying.then(() => this.logAndApplyNow(edit));
    this.applying = done.catch(() => {});
    return done;
  }

  private async logAndApplyNow(edit: VersionEdit): Promise<void> {
    edit.nextFileNumber = this.nextFileNumber;
    edit.lastSeq = this.lastSeq;
    await this.manifest.append(edit);
    if (edit.walIndex !== undefined) this.walIndex = edit.walIndex;
    for (const [level, key] of edit.compactPointers ?? []) this.compactPointers.set(level, key);
    for (const [, n] of edit.removed ?? []) this.obsolete.add(n);
    this.install(this.current.apply(edit));
    if (this.manifest.edits >= MANIFEST_EDITS_MAX) {
      const old = this.manifest;
      this.manifest = await ManifestWriter.create(
        this.location,
        this.nextFileNumber++,
        this.snapshotEdit(),
        this.fs,
      );
      await old.close();
      await removeOldManifests(this.location, this.manifest.name, this.fs);
    }
    await this.deleteObsoleteFiles();
  }

  /** Deletes tables removed by edits once no live version (iterator, compaction) holds them. */
  private async deleteObsoleteFiles(): Promise<void> {
    if (this.obsolete.size === 0) return;
    const live = new Set<number>();
    for (const v of this.liveVersions) for (const n of v.fileNumbers()) live.add(n);
    for (const n of [...this.obsolete]) {
      if (live.has(n)) continue;
      this.obsolete.delete(n);
      const t = this.tables.get(n);
      if (t) {
        this.cache.evictFile(n, t.blockOffsets());
        t.close();
        this.tables.delete(n);
      }
      // Not synced: a deleted table that comes back after a crash is in no manifest, and the
      // next open deletes it again (removeOrphanFiles).
      await this.fs.unlink(join(this.location, tableFileName(n))).catch(() => {});
    }
  }

  // ---------------------------------------------------------------- background work

  /**
   * Starts what is due: the flush of a frozen memtable, and one compaction at a time. Both
   * run on worker threads (table-workers.ts) and may run at once; only their version edits
   * are applied here, one after the other.
   */
  private scheduleBackground(): void {
    if (this.closed || this.failure) return;
    if (this.imms.length > 0 && this.flushing === null) {
      this.flushing = this.flushImmutable()
        .catch((err) => this.backgroundFailed(err))
        .finally(() => {
          this.flushing = null;
          this.notifyProgress();
          this.scheduleBackground();
        });
    }
    if (
      !this.closing &&
      this.compacting === null &&
      !this.placingFlush &&
      (this.manualWaiters.length > 0 || this.needsCompaction())
    ) {
      this.compacting = this.compactOnce()
        .catch((err) => this.backgroundFailed(err))
        .finally(() => {
          this.compacting = null;
          this.notifyProgress();
          this.scheduleBackground();
        });
    }
  }

  private backgroundFailed(err: unknown): void {
    if (err instanceof TableJobAbortedError) return;
    this.failure ??= err;
    for (const w of this.manualWaiters.splice(0)) w.reject(err);
  }

  private needsCompaction(): boolean {
    return pickCompaction(this.current, this.policy, this.compactPointers) !== null;
  }

  private async compactOnce(): Promise<void> {
    if (this.manualWaiters.length > 0) {
      const waiters = this.manualWaiters.splice(0);
      try {
        const plan = planMajor(this.current, this.policy);
        if (plan) await this.runCompaction(plan);
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
        throw err;
      }
      return;
    }
    const plan = pickCompaction(this.current, this.policy, this.compactPointers);
    if (plan !== null) await this.runCompaction(plan);
  }

  /** A table job with the engine's table options; the smallest snapshot is taken now. */
  private tableJob(
    source: TableJobSource,
    fileNumbers: number[],
    split: boolean,
    olderTables: TableMeta[] | null,
  ): TableJob {
    return {
      dir: this.location,
      source,
      fileNumbers,
      split,
      targetFileBytes: this.options.targetFileBytes,
      blockBytes: this.options.blockBytes,
      restartInterval: this.options.restartInterval,
      bloomBitsPerKey: this.options.bloomBitsPerKey,
      compression: this.options.compression,
      smallestSnapshot: this.smallestSnapshot(),
      dropTombstones: olderTables !== null,
      olderRanges: (olderTables ?? []).map((t) => [t.smallest, t.largest]),
      startKey: null,
      endKey: null,
    };
  }

  private async flushImmutable(): Promise<void> {
    const imm = this.imms[0]!;
    let outputs: TableMeta[] = [];
    if (imm.entries > 0) {
      // One packed buffer moves to the worker without a copy (it is transferred). It is packed
      // a slice at a time between other work: writes go on into the new memtable meanwhile.
      const run = await packMemtable(imm, { smallestSnapshot: this.smallestSnapshot() });
      const job = this.tableJob({ kind: 'run', run }, [this.nextFileNumber++], false, null);
      outputs = await runTableJob('flush', job, run.length, [run.buffer as ArrayBuffer], this.fs).result;
      // Each table was fdatasynced by the job; its name is durable before the manifest names it.
      await this.fs.fsyncDir(this.location, LSM_SYNC.tableDir);
    }
    const level = this.levelForFlush(outputs);
    this.placingFlush = level > 0;
    try {
      await this.logAndApply({ added: outputs.map((t) => [level, t]), walIndex: imm.walEnd });
    } finally {
      this.placingFlush = false;
    }
    this.imms.shift();
    this.counters.flushes++;
    for (const t of outputs) this.counters.flushBytes += t.bytes;
    await this.wal.dropBefore(imm.walEnd);
    this.notifyProgress();
  }

  /**
   * The level a flushed table goes to (LevelDB's PickLevelForMemTableOutput): level 0 unless
   * its key range overlaps nothing in levels 0..L, then as deep as FLUSH_LEVEL_MAX while the
   * level below holds none of its keys and the one below that holds at most
   * GRANDPARENT_OVERLAP_FILES tables' worth of them (a later compaction of it stays small).
   * Every older version of its keys then lies deeper, so reads and compactions keep newest
   * above oldest; sequential writes skip the level-0 compactions altogether. Only while no
   * compaction runs: one in flight could write outputs over the range that this check passed.
   */
  private levelForFlush(outputs: TableMeta[]): number {
    if (outputs.length !== 1 || this.policy.style !== 'leveled' || this.compacting !== null) return 0;
    const { smallest, largest } = outputs[0]!;
    const v = this.current;
    if (v.overlapping(0, smallest, largest).length > 0) return 0;
    const grandparentBytesMax = GRANDPARENT_OVERLAP_FILES * this.options.targetFileBytes;
    let level = 0;
    while (level < FLUSH_LEVEL_MAX) {
      if (v.overlapping(level + 1, smallest, largest).length > 0) break;
      let grandparentBytes = 0;
      for (const t of v.overlapping(level + 2, smallest, largest)) grandparentBytes += t.bytes;
      if (grandparentBytes > grandparentBytesMax) break;
      level++;
    }
    return level;
  }

  private async runCompaction(plan: CompactionPlan): Promise<void> {
    if (plan.trivialMove) {
      const { level, table } = plan.inputs[0]!;
      await this.logAndApply({
        removed: [[level, table.number]],
        added: [[plan.outputLevel, table]],
        compactPointers: [[level, table.largest]],
      });
      this.obsolete.delete(table.number);
      this.counters.trivialMoves++;
      this.notifyProgress();
      return;
    }
    // The version stays referenced until the edit is in: its files are the worker's inputs.
    const version = this.ref(this.current);
    try {
      let inputBytes = 0;
      for (const { table } of plan.inputs) inputBytes += table.bytes;
      const job = this.tableJob(
        {
          kind: 'tables',
          fileNumbers: plan.inputs.map(({ table }) => table.number),
          fileBytes: plan.inputs.map(({ table }) => table.bytes),
        },
        [],
        plan.splitOutputs,
        plan.olderTables,
      );
      // RocksDB's subcompactions: a big leveled merge is cut at a user key into two halves
      // that two workers write at once; their outputs are disjoint and in key order.
      const splitKey =
        plan.splitOutputs && inputBytes >= SUBCOMPACTION_BYTES_MIN ? middleBoundary(plan) : null;
      const halves =
        splitKey === null
          ? [job]
          : [
              { ...job, endKey: splitKey },
              { ...job, startKey: splitKey },
            ];
      if (halves.length > 1) this.counters.subcompactions++;
      const share = inputBytes / halves.length;
      for (const half of halves) {
        const reserved = outputsBound(share * 2, plan.splitOutputs, this.options.targetFileBytes);
        half.fileNumbers = Array.from({ length: reserved }, () => this.nextFileNumber++);
      }
      const running = halves.map((half, i) =>
        runTableJob(i === 0 ? 'compaction' : 'subcompaction', half, share, [], this.fs),
      );
      this.compactionJobs = running;
      let outputs: TableMeta[];
      try {
        const results = await Promise.allSettled(running.map((r) => r.result));
        for (const r of results) if (r.status === 'rejected') throw r.reason;
        outputs = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
      } catch (err) {
        // One half failed: the other half's tables are orphans no edit names.
        await this.removeUnnamedTables(halves.flatMap((h) => h.fileNumbers));
        throw err;
      } finally {
        this.compactionJobs = [];
      }
      if (outputs.length > 0) await this.fs.fsyncDir(this.location, LSM_SYNC.tableDir);
      const upperLevel = plan.inputs[0]!.level;
      let largest = plan.inputs[0]!.table.largest;
      for (const { level, table } of plan.inputs) {
        if (level === upperLevel && compareKeys(table.largest, largest) > 0) largest = table.largest;
      }
      await this.logAndApply({
        removed: plan.inputs.map(({ level, table }) => [level, table.number]),
        added: outputs.map((t) => [plan.outputLevel, t]),
        compactPointers: upperLevel > 0 ? [[upperLevel, largest]] : [],
      });
      this.counters.compactions++;
      this.counters.compactionReadBytes += inputBytes;
      for (const t of outputs) this.counters.compactionWrittenBytes += t.bytes;
    } finally {
      this.unref(version);
    }
    this.notifyProgress();
  }

  /** Deletes table files that no version names (outputs of a failed job). */
  private async removeUnnamedTables(numbers: number[]): Promise<void> {
    const live = this.current.fileNumbers();
    for (const n of numbers)
      if (!live.has(n)) await this.fs.unlink(join(this.location, tableFileName(n))).catch(() => {});
  }

  /** Freezes the memtable and waits until it is a table. */
  async flush(): Promise<void> {
    this.checkOpen();
    this.appendTick();
    await new Promise<void>((resolve, reject) => {
      this.writers.push({
        record: EMPTY_RECORD,
        count: 0,
        userBytes: 0,
        sync: false,
        freeze: true,
        resolve,
        reject,
      });
      if (!this.writing) void this.writeLoop();
    });
    while (this.imms.length > 0 && !this.failure) {
      this.scheduleBackground();
      await this.waitForProgress();
    }
    if (this.failure) throw this.failedError();
  }

  /** Flushes, then merges every table into one sorted run at the bottom. */
  async compactAll(): Promise<void> {
    await this.flush();
    await new Promise<void>((resolve, reject) => {
      this.manualWaiters.push({ resolve, reject });
      this.scheduleBackground();
    });
  }

  /** Waits until no flush or compaction is pending (tests and benchmarks). */
  async waitForIdle(): Promise<void> {
    for (;;) {
      if (this.failure) throw this.failedError();
      if (
        this.flushing === null &&
        this.compacting === null &&
        this.imms.length === 0 &&
        !this.needsCompaction()
      )
        return;
      this.scheduleBackground();
      await this.waitForProgress();
    }
  }

  // ---------------------------------------------------------------- stats and close

  stats(): LsmStats {
    const v = this.current;
    const scores = levelScores(v, this.policy);
    const levels = v.levels.map((tables, level) => ({
      level,
      files: tables.length,
      bytes: v.levelBytes(level),
      score: scores[level] ?? 0,
    }));
    const tableBytes = v.totalBytes();
    const c = this.counters;
    // Space amplification as RocksDB estimates it: all table bytes over the bytes of the
    // biggest sorted run (the last level, or the largest tier), which holds about one
    // version of each key.
    let biggestRun = 0;
    if (this.options.compaction === 'tiered')
      for (const t of v.levels[0]!) biggestRun = Math.max(biggestRun, t.bytes);
    else
      for (let level = LEVELS - 1; level >= 1 && biggestRun === 0; level--) biggestRun = v.levelBytes(level);
    if (biggestRun === 0) biggestRun = tableBytes;
    const lookups = this.cache.hits + this.cache.misses;
    return {
      levels,
      memtable: {
        bytes: this.mem.bytes,
        entries: this.mem.entries,
        immutable: this.imms.length > 0,
        immutables: this.imms.length,
      },
      lastSequence: this.lastSeq,
      snapshots: this.snapshots.length,
      bloom: {
        checks: this.readStats.bloomChecks,
        negatives: this.readStats.bloomNegatives,
        usefulRate:
          this.readStats.bloomChecks > 0 ? this.readStats.bloomNegatives / this.readStats.bloomChecks : 0,
      },
      reads: { tableProbes: this.readStats.bloomChecks, dataBlockSearches: this.readStats.dataBlockSearches },
      blockCache: {
        hits: this.cache.hits,
        misses: this.cache.misses,
        hitRate: lookups > 0 ? this.cache.hits / lookups : 0,
        bytes: this.cache.bytes,
        capacityBytes: this.cache.capacityBytes,
      },
      bytes: {
        user: c.userBytes,
        wal: c.walBytes,
        flush: c.flushBytes,
        compactionRead: c.compactionReadBytes,
        compactionWritten: c.compactionWrittenBytes,
        tables: tableBytes,
      },
      writeAmplification:
        c.userBytes > 0 ? (c.walBytes + c.flushBytes + c.compactionWrittenBytes) / c.userBytes : 0,
      spaceAmplification: tableBytes > 0 ? tableBytes / biggestRun : 0,
      flushes: c.flushes,
      compactions: c.compactions,
      trivialMoves: c.trivialMoves,
      subcompactions: c.subcompactions,
      stalls: { count: c.stalls, ms: Math.round(c.stallMs) },
      slowdowns: c.slowdowns,
      walTornTailBytes: this.wal.tornTailBytes,
      compaction: this.options.compaction,
    };
  }

  /** A short random id for temporary names (tests use it to tell instances apart). */
  readonly instanceId = randomUUID();

  async close(): Promise<void> {
    if (this.closed || this.closing) return;
    // Writes already taken are appended and acknowledged before the log closes.
    this.appendTick();
    this.closing = true;
    while (this.writing) await this.waitForProgressOrTick();
    // A running flush finishes; a running compaction is abandoned (its outputs, not yet in the
    // manifest, are orphans that the next open deletes).
    if (this.flushing) await this.flushing;
    for (const job of this.compactionJobs) job.cancel();
    if (this.compacting) await this.compacting;
    for (const w of this.manualWaiters.splice(0)) w.reject(new EngineFailedError('the database closed'));
    this.closed = true;
    await this.closeFiles();
    this.lock.release();
    this.notifyProgress();
  }

  private waitForProgressOrTick(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }

  private async closeFiles(): Promise<void> {
    await this.wal.close().catch(() => {});
    await this.manifest?.close().catch(() => {});
    for (const t of this.tables.values()) t.close();
    this.tables.clear();
  }

  private checkOpen(): void {
    if (this.closed) throw new EngineFailedError('the database is closed');
  }

  private failedError(): Error {
    return new EngineFailedError(`the engine stopped after a failure: ${String(this.failure)}`, {
      cause: this.failure,
    });
  }
}
