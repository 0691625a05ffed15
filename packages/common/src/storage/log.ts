// A segmented append-only log: the one durable sequence in the repo. It carries the LSM's
// WAL, the Raft log, the transaction WAL and the broker's partitions.
//
// Records are numbered by a dense index. A directory holds segment files named by the index
// of their first record (`00000000000000000042.seg`); only the last segment is written.
// Byte format: ../../FORMAT.md. Durability is a policy per log:
//   always    every append call gets its own write and fdatasync before it resolves
//   group     appends queued while a write is in flight share the next write and fdatasync
//   interval  appends resolve once written; an fdatasync runs every `fsyncIntervalMs`
//   never     appends resolve once written (the page cache survives a process kill, not a
//             power cut)
import { join } from 'node:path';
import { assert } from '../core/assert.js';
import { corruptionClass } from '../core/errors.js';
import { mkdirDurable } from '../fs/durable-dir.js';
import { errorCode, type FileHandle, type FileSystem, type OpenOptions } from '../fs/file-system.js';
import { nodeFileSystem } from '../fs/node-file-system.js';
import { LOG_SYNC } from '../fs/sync-points.js';
import { writeFileAtomic } from './atomic-file.js';
import {
  checkHeader,
  encodeRecordHeader,
  encodeRecords,
  payloadMatches,
  RECORD_BYTES_MAX,
  RECORD_HEADER_BYTES,
  SEGMENT_FILE_NAME,
  segmentFileName,
} from './log-format.js';

export type FsyncPolicy = 'always' | 'group' | 'interval' | 'never';

export interface LogOptions {
  dir: string;
  /** A segment is sealed and a new one started once it reaches this size. */
  segmentBytesMax?: number;
  fsync?: FsyncPolicy;
  fsyncIntervalMs?: number;
  /** Index of the first record of a brand-new, empty log (Raft logs start at 1). */
  firstIndex?: number;
  /**
   * 'pool' (default): appends are written on libuv's thread pool, so the event loop keeps
   * running during the disk write. 'inline': written with write(2) on the calling thread,
   * blocking it for the fsync: no hand-off to a pool thread and back (two context switches
   * and a wake-up per batch), which can cost more than the wait on a small, busy machine.
   * Raft's FileStorage defaults to 'pool' so followers keep answering while the leader syncs,
   * and takes 'inline' as an option (see its FileStorageOptions.io).
   */
  io?: 'pool' | 'inline';
  /**
   * Keep this many bytes of the segment being written zero-filled and synced ahead of its
   * end (0, the default: no preallocation). An append then overwrites blocks the file already
   * has, so its sync flushes data only: no change of file size or block map, hence no
   * journal commit (ext4, XFS). PostgreSQL zero-fills each WAL segment before use for the
   * same reason (wal_init_zero); etcd preallocates its WAL segments. The zeros are written on
   * the thread pool while appends go on below them; recovery treats a zero tail as room.
   */
  preallocateBytes?: number;
  /** The file system to store the log on (default: the real one; tests pass a faulty one). */
  fs?: FileSystem;
}

export const SEGMENT_BYTES_DEFAULT = 64 * 1024 * 1024;
export const FSYNC_INTERVAL_DEFAULT_MS = 100;
/** The most bytes one group-commit write gathers; more waits for the next write. */
export const GROUP_BYTES_MAX = 8 * 1024 * 1024;
/** Present only while a reset is under way: holds the index the log restarts at. */
const RESET_FILE = 'RESET';

/** Damage that is not a torn tail: the log refuses to open rather than skip records. */
export class CorruptLogError extends corruptionClass(
  'CorruptLogError',
  'DDIA_ERR_LOG_CORRUPT_RECORD',
  'log record in',
) {}

/** An index outside [firstIndex, nextIndex). */
export class LogIndexError extends RangeError {
  override name = 'LogIndexError';
}

/** The log is closed, or a write or fsync failed and the log stopped taking writes. */
export class LogClosedError extends Error {
  override name = 'LogClosedError';
}

interface Segment {
  firstIndex: number;
  path: string;
  handle: FileHandle;
  /** Byte offset of each record in this segment, by ordinal. */
  offsets: number[];
  /** Where the records end. */
  bytes: number;
  /** Where the file's durable contents end (records, then preallocated zeros): >= bytes. */
  allocated: number;
}

type Op =
  | {
      kind: 'append';
      firstIndex: number;
      records: Uint8Array[];
      sync: boolean;
      resolve: (i: number) => void;
      reject: (e: unknown) => void;
    }
  | { kind: 'truncate'; fromIndex: number; resolve: () => void; reject: (e: unknown) => void }
  | { kind: 'drop'; beforeIndex: number; resolve: () => void; reject: (e: unknown) => void }
  | { kind: 'reset'; nextIndex: number; resolve: () => void; reject: (e: unknown) => void }
  | { kind: 'sync'; resolve: () => void; reject: (e: unknown) => void }
  | { kind: 'roll'; resolve: () => void; reject: (e: unknown) => void }
  | { kind: 'barrier'; resolve: () => void; reject: (e: unknown) => void };

export interface AppendOptions {
  /**
   * Under the 'interval' and 'never' policies, make this append durable before it resolves
   * (appends queued with it share the fdatasync). Under 'always' and 'group' every append is.
   */
  sync?: boolean;
}

export interface LogRecovery {
  /** Bytes cut from the end of the last segment because its last record was torn. */
  tornTailBytes: number;
  segments: number;
  records: number;
}

export interface LogStats {
  segments: number;
  bytes: number;
  appends: number;
  writes: number;
  fsyncs: number;
}

/**
 * Under 'always' and 'group' the segment being written is opened with O_DSYNC, so that each
 * write returns only once its data is durable: one trip to the I/O thread pool per batch
 * instead of a write and then an fdatasync.
 */
function openFlags(fsync: FsyncPolicy, create: boolean): OpenOptions {
  const dsync = fsync === 'always' || fsync === 'group' ? LOG_SYNC.append : undefined;
  return create ? { write: true, create: true, truncate: true, dsync } : { write: true, dsync };
}

export class Log {
  private segments: Segment[] = [];
  private queue: Op[] = [];
  private pending = new Map<number, Uint8Array>();
  /** Truncate, drop and reset operations queued or running: reads wait for them. */
  private controlsPending = 0;
  /** Append calls not yet resolved or rejected: appendSync must not overtake them. */
  private appendsPending = 0;
  /** Truncates and resets queued or running: they change the segment appendSync writes. (A
   *  running roll needs no count: the segment it seals is full, which appendSync refuses.) */
  private tailChangesPending = 0;
  /** Bumped by each write that is not yet synced, so a sync knows whether it covered all. */
  private unsyncedWrites = 0;
  private readsInFlight = 0;
  private readsIdle: (() => void)[] = [];
  private writing = false;
  private closed = false;
  private failure: unknown = null;
  private dirty = false;
  private intervalTimer: NodeJS.Timeout | null = null;
  private readonly inline: boolean;
  private readonly preallocateBytes: number;
  /** A zero-fill ahead of the active segment's end, while one runs (see preallocateBytes). */
  private extending: Promise<void> | null = null;
  private logicalNext: number;
  private readonly stats_ = { appends: 0, writes: 0, fsyncs: 0 };
  private readonly fs: FileSystem;
  readonly recovery: LogRecovery;
  readonly dir: string;
  readonly fsync: FsyncPolicy;
  readonly segmentBytesMax: number;

  private constructor(options: LogOptions, segments: Segment[], recovery: LogRecovery) {
    this.dir = options.dir;
    this.fsync = options.fsync ?? 'group';
    this.segmentBytesMax = options.segmentBytesMax ?? SEGMENT_BYTES_DEFAULT;
    this.inline = options.io === 'inline';
    this.preallocateBytes = options.preallocateBytes ?? 0;
    this.fs = options.fs ?? nodeFileSystem;
    this.segments = segments;
    this.recovery = recovery;
    const last = segments[segments.length - 1]!;
    this.logicalNext = last.firstIndex + last.offsets.length;
    if (this.fsync === 'interval') {
      this.intervalTimer = setInterval(() => {
        if (this.dirty) this.enqueue({ kind: 'sync', resolve: () => {}, reject: () => {} });
      }, options.fsyncIntervalMs ?? FSYNC_INTERVAL_DEFAULT_MS);
      this.intervalTimer.unref();
    }
  }

  /** Opens (or creates) the log in `dir`, recovering it: a torn tail is cut, damage elsewhere refused. */
  static async open(options: LogOptions): Promise<Log> {
    const fs = options.fs ?? nodeFileSystem;
    await mkdirDurable(fs, options.dir, LOG_SYNC.openDir);
    const resetTo = await readResetMarker(fs, options.dir);
    if (resetTo !== null)
      await (await finishReset(fs, options.dir, resetTo, options.fsync ?? 'group')).handle.close();
    const names = (await fs.readdir(options.dir)).filter((n) => SEGMENT_FILE_NAME.test(n)).sort();
    const segments: Segment[] = [];
    const recovery: LogRecovery = { tornTailBytes: 0, segments: names.length, records: 0 };
    try {
      for (let i = 0; i < names.length; i++) {
        const name = names[i]!;
        const firstIndex = Number(SEGMENT_FILE_NAME.exec(name)![1]);
        const prev = segments[segments.length - 1];
        if (prev && prev.firstIndex + prev.offsets.length !== firstIndex) {
          throw new CorruptLogError(
            name,
            0,
            `segment starts at index ${firstIndex} but the previous one ends at ${prev.firstIndex + prev.offsets.length - 1}`,
          );
        }
        const isLast = i === names.length - 1;
        const segment = await recoverSegment(
          fs,
          options.dir,
          name,
          firstIndex,
          isLast,
          recovery,
          options.fsync ?? 'group',
        );
        segments.push(segment);
        recovery.records += segment.offsets.length;
      }
      if (segments.length === 0) {
        const firstIndex = options.firstIndex ?? 0;
        segments.push(await createSegment(fs, options.dir, firstIndex, options.fsync ?? 'group'));
      }
    } catch (err) {
      await Promise.all(segments.map((s) => s.handle.close().catch(() => {})));
      throw err;
    }
    return new Log(options, segments, recovery);
  }

  /** The index of the oldest record still kept. */
  get firstIndex(): number {
    return this.segments[0]!.firstIndex;
  }

  /** The index the next appended record gets. */
  get nextIndex(): number {
    return this.logicalNext;
  }

  get stats(): LogStats {
    return {
      segments: this.segments.length,
      bytes: this.segments.reduce((sum, s) => sum + s.bytes, 0),
      ...this.stats_,
    };
  }

  /** Appends one record; resolves with its index once durable under the log's fsync policy. */
  append(record: Uint8Array, options?: AppendOptions): Promise<number> {
    return this.appendBatch([record], options);
  }

  /** Appends records atomically in order; resolves with the index of the first. */
  appendBatch(records: Uint8Array[], options: AppendOptions = {}): Promise<number> {
    if (this.closed || this.failure) return Promise.reject(this.closedError());
    for (const record of records) {
      if (record.length > RECORD_BYTES_MAX) {
        return Promise.reject(new RangeError(`record of ${record.length} bytes exceeds ${RECORD_BYTES_MAX}`));
      }
    }
    const firstIndex = this.logicalNext;
    this.logicalNext += records.length;
    for (let i = 0; i < records.length; i++) this.pending.set(firstIndex + i, records[i]!);
    this.stats_.appends += records.length;
    this.appendsPending++;
    return new Promise((resolve, reject) =>
      this.enqueue({
        kind: 'append',
        firstIndex,
        records,
        sync: options.sync ?? false,
        resolve: (index) => {
          this.appendsPending--;
          resolve(index);
        },
        reject: (err) => {
          this.appendsPending--;
          reject(err);
        },
      }),
    );
  }

  /**
   * Appends records with one write(2) on the calling thread and returns the first one's index
   * once they are in the page cache: as LevelDB's log::Writer does inside DBImpl::Write, with
   * no trip to libuv's thread pool per write (about 4 us instead of about 100 us on a loaded
   * 2-core machine). Durable at once under 'always' and 'group' (the segment is O_DSYNC);
   * under 'interval' and 'never' at the next fsync, or call sync(), which may run on the
   * thread pool while appendSync goes on (writers arriving meanwhile share the next one).
   * Only while no append(), truncateSuffix() or reset() is pending and the active segment has
   * room (`rollDue` false; else await roll() first). Throws on a failed write, and the log
   * then takes no more writes.
   */
  appendSync(records: readonly Uint8Array[]): number {
    if (this.closed || this.failure) throw this.closedError();
    // A drop of old segments may run meanwhile: it never touches the segment written here.
    assert(
      this.appendsPending === 0 && this.tailChangesPending === 0,
      'appendSync while other writes are queued',
    );
    assert(this.preallocateBytes === 0, 'appendSync does not write around preallocated zeros');
    const active = this.segments[this.segments.length - 1]!;
    assert(active.bytes < this.segmentBytesMax, 'appendSync into a full segment: roll() first');
    for (const record of records) {
      if (record.length > RECORD_BYTES_MAX)
        throw new RangeError(`record of ${record.length} bytes exceeds ${RECORD_BYTES_MAX}`);
    }
    const buffer = encodeRecords(records);
    const firstIndex = this.logicalNext;
    assert(firstIndex === active.firstIndex + active.offsets.length, 'append out of order');
    try {
      writeFullySync(active.handle, buffer, active.bytes);
    } catch (err) {
      this.fail(err, []);
      throw err;
    }
    let at = active.bytes;
    for (const record of records) {
      active.offsets.push(at);
      at += RECORD_HEADER_BYTES + record.length;
    }
    active.bytes = at;
    active.allocated = Math.max(active.allocated, at);
    this.logicalNext += records.length;
    this.stats_.appends += records.length;
    this.stats_.writes++;
    if (this.fsync === 'always' || this.fsync === 'group') this.stats_.fsyncs++;
    else {
      this.dirty = true;
      this.unsyncedWrites++;
    }
    return firstIndex;
  }

  /** The segment being written is full: appendSync must wait for roll(). */
  get rollDue(): boolean {
    return this.segments[this.segments.length - 1]!.bytes >= this.segmentBytesMax;
  }

  /** Seals the full active segment (synced first) and starts the next; a no-op if it has room. */
  roll(): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'roll', resolve, reject }));
  }

  /** Makes every record appended so far durable, whatever the policy. */
  sync(): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'sync', resolve, reject }));
  }

  /** Removes every record with index >= fromIndex (Raft: a conflicting suffix). */
  truncateSuffix(fromIndex: number): Promise<void> {
    if (fromIndex < this.firstIndex || fromIndex > this.logicalNext) {
      return Promise.reject(
        new LogIndexError(
          `cannot truncate from ${fromIndex}: log holds [${this.firstIndex}, ${this.logicalNext})`,
        ),
      );
    }
    for (let i = fromIndex; i < this.logicalNext; i++) this.pending.delete(i);
    this.logicalNext = fromIndex;
    return new Promise((resolve, reject) => this.enqueue({ kind: 'truncate', fromIndex, resolve, reject }));
  }

  /**
   * Deletes whole segments whose records all lie below `beforeIndex` (snapshots, retention).
   * Works at segment granularity: afterwards `firstIndex` may still be below `beforeIndex`.
   */
  dropPrefix(beforeIndex: number): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'drop', beforeIndex, resolve, reject }));
  }

  /** Drops every record; the next append gets `nextIndex` (Raft: installing a snapshot). */
  reset(nextIndex: number): Promise<void> {
    if (!Number.isSafeInteger(nextIndex) || nextIndex < 0) {
      return Promise.reject(new LogIndexError(`cannot reset to ${nextIndex}: not a non-negative integer`));
    }
    this.pending.clear();
    this.logicalNext = nextIndex;
    return new Promise((resolve, reject) => this.enqueue({ kind: 'reset', nextIndex, resolve, reject }));
  }

  /** Reads the record at `index`. */
  async read(index: number): Promise<Uint8Array> {
    const [record] = await this.readRange(index, index + 1);
    return record!;
  }

  /** Reads records [fromIndex, toIndex), stopping early once `bytesMax` is passed (at least one record). */
  async readRange(
    fromIndex: number,
    toIndex: number,
    bytesMax = Number.POSITIVE_INFINITY,
  ): Promise<Uint8Array[]> {
    // A read sees the log after every truncate, drop or reset called before it.
    while (this.controlsPending > 0) {
      await new Promise<void>((resolve, reject) => this.enqueue({ kind: 'barrier', resolve, reject }));
    }
    this.readsInFlight++;
    try {
      return await this.readRangeNow(fromIndex, toIndex, bytesMax);
    } finally {
      this.readsInFlight--;
      if (this.readsInFlight === 0) for (const wake of this.readsIdle.splice(0)) wake();
    }
  }

  private async readRangeNow(fromIndex: number, toIndex: number, bytesMax: number): Promise<Uint8Array[]> {
    if (fromIndex < this.firstIndex || toIndex > this.logicalNext || fromIndex > toIndex) {
      throw new LogIndexError(
        `cannot read [${fromIndex}, ${toIndex}): log holds [${this.firstIndex}, ${this.logicalNext})`,
      );
    }
    const out: Uint8Array[] = [];
    let bytes = 0;
    let index = fromIndex;
    while (index < toIndex && (out.length === 0 || bytes < bytesMax)) {
      const pending = this.pending.get(index);
      if (pending) {
        out.push(pending);
        bytes += pending.length;
        index++;
        continue;
      }
      const segment = this.segmentFor(index);
      const ordinal = index - segment.firstIndex;
      assert(
        ordinal >= 0 && ordinal < segment.offsets.length,
        `record ${index} is neither queued nor on disk`,
      );
      // Read a contiguous run from one segment in a single pread.
      let last = Math.min(toIndex, segment.firstIndex + segment.offsets.length) - 1;
      while (last > index && this.pending.has(last)) last--;
      const start = segment.offsets[ordinal]!;
      const end =
        last + 1 - segment.firstIndex < segment.offsets.length
          ? segment.offsets[last + 1 - segment.firstIndex]!
          : segment.bytes;
      const buffer = Buffer.allocUnsafe(end - start);
      const bytesRead = await segment.handle.read(buffer, 0, buffer.length, start);
      assert(bytesRead === buffer.length, `short read from ${segment.path}`);
      let at = 0;
      for (let i = index; i <= last; i++) {
        const length = buffer.readUInt32LE(at);
        const payload = buffer.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + length);
        out.push(payload);
        bytes += length;
        at += RECORD_HEADER_BYTES + length;
        index = i + 1;
        if (bytes >= bytesMax) break;
      }
    }
    return out;
  }

  /** Reads records in order from `fromIndex` to the end as it was when iteration began. */
  async *entries(
    fromIndex = this.firstIndex,
    chunkBytes = 1024 * 1024,
  ): AsyncGenerator<{ index: number; record: Uint8Array }> {
    const end = this.logicalNext;
    let index = fromIndex;
    while (index < end) {
      const chunk = await this.readRange(index, end, chunkBytes);
      for (const record of chunk) yield { index: index++, record };
    }
  }

  /** Waits for queued work, syncs, and closes every file. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (!this.failure) await this.sync().catch(() => {});
    this.closed = true;
    await this.extending;
    if (this.intervalTimer) clearInterval(this.intervalTimer);
    await Promise.all(this.segments.map((s) => s.handle.close().catch(() => {})));
  }

  private closedError(): Error {
    return this.failure
      ? new LogClosedError(`log ${this.dir} stopped after a failed write: ${String(this.failure)}`)
      : new LogClosedError(`log ${this.dir} is closed`);
  }

  private segmentFor(index: number): Segment {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid]!.firstIndex <= index) lo = mid;
      else hi = mid - 1;
    }
    return this.segments[lo]!;
  }

  private enqueue(op: Op): void {
    if (this.closed || this.failure) {
      op.reject(this.closedError());
      return;
    }
    if (op.kind === 'truncate' || op.kind === 'drop' || op.kind === 'reset' || op.kind === 'roll') {
      const tail = op.kind === 'truncate' || op.kind === 'reset';
      this.controlsPending++;
      if (tail) this.tailChangesPending++;
      const { resolve, reject } = op;
      const done = () => {
        this.controlsPending--;
        if (tail) this.tailChangesPending--;
      };
      op.resolve = () => {
        done();
        resolve();
      };
      op.reject = (e) => {
        done();
        reject(e);
      };
    }
    this.queue.push(op);
    if (!this.writing) {
      // Start writing after the current microtasks: appends made in the same turn (e.g. by
      // writers whose previous appends just resolved together) then join one batch.
      this.writing = true;
      queueMicrotask(() => void this.drain());
    }
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const head = this.queue[0]!;
        if (head.kind === 'append') {
          const batch = this.takeAppendBatch();
          try {
            await this.writeAppends(batch);
            for (const op of batch) op.resolve(op.firstIndex);
          } catch (err) {
            this.fail(err, batch);
            return;
          }
          continue;
        }
        // Syncs queued one after another share one fdatasync (group commit of sync calls).
        const ops: Exclude<Op, { kind: 'append' }>[] = [head];
        this.queue.shift();
        while (head.kind === 'sync' && this.queue[0]?.kind === 'sync')
          ops.push(this.queue.shift() as typeof head);
        try {
          await this.runControl(head);
          for (const op of ops) op.resolve();
        } catch (err) {
          this.fail(err, ops);
          return;
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private takeAppendBatch(): Extract<Op, { kind: 'append' }>[] {
    const batch: Extract<Op, { kind: 'append' }>[] = [];
    let bytes = 0;
    while (this.queue.length > 0) {
      const op = this.queue[0]!;
      if (op.kind !== 'append') break;
      if (batch.length > 0 && (this.fsync === 'always' || bytes >= GROUP_BYTES_MAX)) break;
      this.queue.shift();
      batch.push(op);
      for (const r of op.records) bytes += r.length + RECORD_HEADER_BYTES;
    }
    return batch;
  }

  private async writeAppends(batch: Extract<Op, { kind: 'append' }>[]): Promise<void> {
    let active = this.segments[this.segments.length - 1]!;
    if (active.bytes >= this.segmentBytesMax) active = await this.rollSegment(active);
    let total = 0;
    for (const op of batch) for (const r of op.records) total += r.length + RECORD_HEADER_BYTES;
    const buffer = Buffer.allocUnsafe(total);
    let at = 0;
    const offsets: number[] = [];
    for (const op of batch) {
      assert(
        op.firstIndex === active.firstIndex + active.offsets.length + offsets.length,
        'append out of order',
      );
      for (const record of op.records) {
        offsets.push(active.bytes + at);
        encodeRecordHeader(record, buffer, at);
        buffer.set(record, at + RECORD_HEADER_BYTES);
        at += RECORD_HEADER_BYTES + record.length;
      }
    }
    // Never write where a zero-fill is still running: it would overwrite the records.
    if (this.extending && active.bytes + total > active.allocated) await this.extending;
    if (this.inline) writeFullySync(active.handle, buffer, active.bytes);
    else await writeFully(active.handle, buffer, active.bytes);
    this.stats_.writes++;
    active.bytes += total;
    active.allocated = Math.max(active.allocated, active.bytes);
    for (const o of offsets) active.offsets.push(o);
    this.maybePreallocate(active);
    for (const op of batch)
      for (let i = 0; i < op.records.length; i++) {
        // A truncate or reset may have given this index to a newer record meanwhile.
        if (this.pending.get(op.firstIndex + i) === op.records[i]) this.pending.delete(op.firstIndex + i);
      }
    if (this.fsync === 'always' || this.fsync === 'group') {
      // The O_DSYNC write above was the fsync.
      this.stats_.fsyncs++;
    } else if (batch.some((op) => op.sync)) {
      // LevelDB's WriteOptions.sync: one fdatasync covers this batch and everything before it.
      if (this.inline) active.handle.datasyncSync(LOG_SYNC.appendSync);
      else await active.handle.datasync(LOG_SYNC.appendSync);
      this.stats_.fsyncs++;
      this.dirty = false;
    } else {
      this.dirty = true;
    }
  }

  /** Starts zero-filling the next stretch of `segment` once less than half a stretch is left. */
  private maybePreallocate(segment: Segment): void {
    const ahead = this.preallocateBytes;
    if (ahead === 0 || this.extending || segment.allocated >= this.segmentBytesMax) return;
    if (segment.allocated - segment.bytes > ahead / 2) return;
    const from = segment.allocated;
    const to = Math.min(from + ahead, this.segmentBytesMax);
    this.extending = writeZeros(segment.handle, from, to)
      .then(
        () => {
          // Appends wait for a fill before writing past `from`, so the file holds zeros there.
          if (segment.allocated === from) segment.allocated = to;
        },
        // A failed fill only leaves the segment unprepared: appends extend the file as usual
        // and meet any real I/O error themselves.
        () => {},
      )
      .finally(() => {
        this.extending = null;
      });
  }

  private async rollSegment(active: Segment): Promise<Segment> {
    await active.handle.datasync(LOG_SYNC.seal);
    this.stats_.fsyncs++;
    const next = await createSegment(
      this.fs,
      this.dir,
      active.firstIndex + active.offsets.length,
      this.fsync,
    );
    this.segments.push(next);
    return next;
  }

  private async runControl(op: Exclude<Op, { kind: 'append' }>): Promise<void> {
    if (op.kind !== 'sync' && op.kind !== 'barrier' && op.kind !== 'roll') {
      // Truncate, drop and reset change files under the readers' feet: let reads in flight end.
      while (this.readsInFlight > 0) await new Promise<void>((resolve) => this.readsIdle.push(resolve));
      // ... and under a zero-fill.
      await this.extending;
    }
    switch (op.kind) {
      case 'barrier':
        return;
      case 'sync': {
        const active = this.segments[this.segments.length - 1]!;
        const writes = this.unsyncedWrites;
        await active.handle.datasync(LOG_SYNC.sync);
        this.stats_.fsyncs++;
        // appendSync may have written meanwhile: that is for the next sync.
        if (this.unsyncedWrites === writes) this.dirty = false;
        return;
      }
      case 'roll': {
        const active = this.segments[this.segments.length - 1]!;
        if (active.bytes >= this.segmentBytesMax) await this.rollSegment(active);
        return;
      }
      case 'truncate': {
        // Delete later segments, newest first, so that a crash midway leaves a contiguous log;
        // make the deletions durable before cutting the segment that stays: were the cut durable
        // and a deletion not, the deleted segment would come back after a gap.
        let deleted = false;
        while (
          this.segments.length > 1 &&
          this.segments[this.segments.length - 1]!.firstIndex >= op.fromIndex
        ) {
          const gone = this.segments.pop()!;
          await gone.handle.close();
          await this.fs.unlink(gone.path);
          deleted = true;
        }
        if (deleted) await this.fs.fsyncDir(this.dir, LOG_SYNC.truncateDir);
        const last = this.segments[this.segments.length - 1]!;
        const keep = op.fromIndex - last.firstIndex;
        if (keep < last.offsets.length) {
          const bytes = last.offsets[keep]!;
          await last.handle.truncate(bytes);
          await last.handle.datasync(LOG_SYNC.truncate);
          this.stats_.fsyncs++;
          last.offsets.length = keep;
          last.bytes = bytes;
          last.allocated = bytes;
        }
        return;
      }
      case 'drop': {
        while (this.segments.length > 1) {
          const first = this.segments[0]!;
          const second = this.segments[1]!;
          if (second.firstIndex > op.beforeIndex) break;
          this.segments.shift();
          await first.handle.close();
          await this.fs.unlink(first.path);
        }
        await this.fs.fsyncDir(this.dir, LOG_SYNC.dropDir);
        return;
      }
      case 'reset': {
        // Write down the intent first: a crash anywhere below is finished by the next open
        // (see finishReset), never left as old records beside a segment that does not follow.
        await writeFileAtomic(join(this.dir, RESET_FILE), String(op.nextIndex), {
          fs: this.fs,
          syncPoint: LOG_SYNC.resetMarker,
        });
        for (const s of this.segments) await s.handle.close();
        this.segments = [await finishReset(this.fs, this.dir, op.nextIndex, this.fsync)];
        return;
      }
    }
  }

  private fail(err: unknown, ops: Op[]): void {
    // After a failed write or fsync the page cache may hold anything (PostgreSQL's
    // "fsyncgate"): stop taking writes rather than pretend the next fsync covers this one.
    this.failure = err;
    for (const op of ops) op.reject(err);
    for (const op of this.queue.splice(0)) op.reject(this.closedError());
  }
}

async function readResetMarker(fs: FileSystem, dir: string): Promise<number | null> {
  let text: string;
  try {
    text = Buffer.from(await fs.readFile(join(dir, RESET_FILE))).toString('utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return null;
    throw err;
  }
  const nextIndex = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(nextIndex)) {
    throw new CorruptLogError(RESET_FILE, 0, `reset marker holds '${text.trim()}', not an index`);
  }
  return nextIndex;
}

/** Deletes every segment, creates an empty one starting at `nextIndex`, then drops the marker. */
async function finishReset(
  fs: FileSystem,
  dir: string,
  nextIndex: number,
  fsync: FsyncPolicy,
): Promise<Segment> {
  for (const name of await fs.readdir(dir))
    if (SEGMENT_FILE_NAME.test(name)) await fs.unlink(join(dir, name));
  const fresh = await createSegment(fs, dir, nextIndex, fsync);
  await fs.unlink(join(dir, RESET_FILE));
  await fs.fsyncDir(dir, LOG_SYNC.resetDir);
  return fresh;
}

function writeFullySync(handle: FileHandle, buffer: Buffer, position: number): void {
  let written = 0;
  while (written < buffer.length) {
    written += handle.writeSync(buffer, written, buffer.length - written, position + written);
  }
}

async function writeFully(handle: FileHandle, buffer: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < buffer.length) {
    written += await handle.write(buffer, written, buffer.length - written, position + written);
  }
}

/** A new, empty segment. Its name becomes durable with the directory's fsync; it has no data
 *  of its own to sync yet. */
async function createSegment(
  fs: FileSystem,
  dir: string,
  firstIndex: number,
  fsync: FsyncPolicy,
): Promise<Segment> {
  const path = join(dir, segmentFileName(firstIndex));
  const handle = await fs.open(path, openFlags(fsync, true));
  await fs.fsyncDir(dir, LOG_SYNC.segmentDir);
  return { firstIndex, path, handle, offsets: [], bytes: 0, allocated: 0 };
}

const ZERO_FILL_CHUNK = Buffer.alloc(1024 * 1024);

async function writeZeros(handle: FileHandle, from: number, to: number): Promise<void> {
  for (let at = from; at < to; at += ZERO_FILL_CHUNK.length) {
    await writeFully(handle, ZERO_FILL_CHUNK.subarray(0, Math.min(ZERO_FILL_CHUNK.length, to - at)), at);
  }
  await handle.datasync(LOG_SYNC.preallocate);
}

async function recoverSegment(
  fs: FileSystem,
  dir: string,
  name: string,
  firstIndex: number,
  isLast: boolean,
  recovery: LogRecovery,
  fsync: FsyncPolicy,
): Promise<Segment> {
  const path = join(dir, name);
  const handle = await fs.open(path, openFlags(fsync, false));
  const { size } = await handle.stat();
  const buffer = Buffer.allocUnsafe(size);
  if (size > 0) await handle.read(buffer, 0, size, 0);
  const offsets: number[] = [];
  let at = 0;
  let allocated = size;
  while (at < size) {
    const damage = recordDamage(buffer, at);
    if (damage === null) {
      offsets.push(at);
      at += RECORD_HEADER_BYTES + buffer.readUInt32LE(at);
      continue;
    }
    // Zeros from here to the end are preallocated room (LogOptions.preallocateBytes): no record
    // header is all zeros, since its checksums are masked.
    const dataEnd = endOfData(buffer, at);
    if (dataEnd === at) {
      // The last segment's file is cut back to its records: an appender that resumes at the
      // end of the file (the LSM's WAL does) must not leave zeros between records. Fills
      // restore the room after the next append.
      if (isLast) {
        await handle.truncate(at);
        await handle.sync(LOG_SYNC.recoverCut);
        allocated = at;
      }
      break;
    }
    // A torn tail is damage in the segment being written with nothing valid after it, or
    // with a sector of zeros before the next valid record: a sector that never reached the
    // disk, so the crash cut the log there and nothing after it was ever synced (a sync
    // covers every earlier write). Disks write sectors of a torn write in any order, so
    // records written with or after it may have survived: they were never acknowledged.
    if (isLast && isTornTail(buffer, at, dataEnd)) {
      recovery.tornTailBytes = size - at;
      await handle.truncate(at);
      await handle.sync(LOG_SYNC.recoverCut);
      allocated = at;
      break;
    }
    await handle.close();
    throw new CorruptLogError(name, at, damage);
  }
  return { firstIndex, path, handle, offsets, bytes: Math.min(at, size), allocated };
}

const ZERO_PAGE = Buffer.alloc(4096);

/** Where the non-zero bytes of `buffer` end, looking no earlier than `from`. */
function endOfData(buffer: Buffer, from: number): number {
  let end = buffer.length;
  // Whole zero pages first: a preallocated tail can be megabytes long.
  while (end - from >= ZERO_PAGE.length && buffer.subarray(end - ZERO_PAGE.length, end).equals(ZERO_PAGE)) {
    end -= ZERO_PAGE.length;
  }
  while (end > from && buffer[end - 1] === 0) end--;
  return end;
}

/** Why the record at `offset` is unreadable, or null when it is intact. */
function recordDamage(buffer: Buffer, offset: number): string | null {
  const header = checkHeader(buffer, offset);
  if (header.kind === 'short') return 'record header cut short';
  if (header.kind === 'bad-header') return 'record header checksum mismatch';
  const end = offset + RECORD_HEADER_BYTES + header.payloadBytes;
  if (end > buffer.length) return `record of ${header.payloadBytes} bytes runs past the end of the file`;
  if (!payloadMatches(buffer.subarray(offset + RECORD_HEADER_BYTES, end), header.payloadCrc)) {
    return 'record payload checksum mismatch';
  }
  return null;
}

/** Where the first intact record in [from, end) starts, or -1 (scans byte by byte; recovery
 *  only). A record cannot start at or after `end`, where only zeros follow: its header is never zero. */
function validRecordAfter(buffer: Buffer, from: number, end: number): number {
  for (let at = from; at < end && at + RECORD_HEADER_BYTES <= buffer.length; at++) {
    // Cheap filter before any checksum: the length must fit in what is left.
    const length = buffer.readUInt32LE(at);
    if (at + RECORD_HEADER_BYTES + length > buffer.length) continue;
    if (recordDamage(buffer, at) === null) return at;
  }
  return -1;
}

/** The smallest unit a disk writes whole; a sector lost in a crash reads back as zeros. */
const SECTOR_BYTES = 512;
/** Zeros that show a record's head was never written (see isTornTail). */
const TORN_HEAD_ZEROS_MIN = 8;

function isZeros(buffer: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buffer[i] !== 0) return false;
  return true;
}

/** Whether the damage at `at` in the last segment is where a crash cut the log (see recoverSegment). */
function isTornTail(buffer: Buffer, at: number, dataEnd: number): boolean {
  const next = validRecordAfter(buffer, at + 1, dataEnd);
  if (next < 0) return true;
  // The damaged record's first sector never reached the disk: zeros from where it starts to
  // that sector's end, the rest of the sector holding older records written back before it.
  // At least 8 bytes, so that the zeros cover a length and a masked CRC (never both zero).
  const boundary = Math.min(Math.ceil((at + 1) / SECTOR_BYTES) * SECTOR_BYTES, next);
  if (boundary - at >= TORN_HEAD_ZEROS_MIN && isZeros(buffer, at, boundary)) return true;
  for (let sector = Math.ceil(at / SECTOR_BYTES) * SECTOR_BYTES; sector + SECTOR_BYTES <= next; ) {
    let zeros = 0;
    while (zeros < SECTOR_BYTES && buffer[sector + zeros] === 0) zeros++;
    if (zeros === SECTOR_BYTES) return true;
    sector += SECTOR_BYTES;
  }
  return false;
}
