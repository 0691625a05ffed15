// One partition: a sequence of Kafka record batches on a segmented Log (one Log record per
// batch, bytes exactly as on the wire, baseOffset filled in), plus the in-memory offset and
// time index that maps Kafka offsets and timestamps to Log records. The index is rebuilt from
// the batch headers when the partition opens; nothing else needs to be on disk.
//
// Offsets: `logStartOffset` (oldest kept) <= `highWatermark` (what consumers may read: records
// written and, for acks=all, synced) <= `logEndOffset` (next offset to assign).
import type { FileSystem } from '@ddia/common';
import { assert } from '@ddia/common/core';
import {
  type Batch,
  type BatchHeader,
  compactBatches,
  type Decompress,
  lastOffset,
  ProducerStateTable,
  readBatchHeader,
  withBaseOffset,
} from '../core/index.js';
import { GenerationalLog } from './generational-log.js';

/** How many batches one read of the Log returns at most while rebuilding the index. */
const REBUILD_CHUNK_BYTES = 4 * 1024 * 1024;
const NO_PRODUCER = -1;

export interface PartitionLogOptions {
  dir: string;
  segmentBytesMax?: number;
  /** 'interval' (the default): acks=1 answers once written, acks=all once fsync'd. */
  fsyncIntervalMs?: number;
  /** The file system to store the partition on (default: the real one). */
  fs?: FileSystem;
  /**
   * Replicated partitions: the high watermark is set by the replication layer (what the ISR
   * has), not by appends; it starts at 0 after a restart until the leader says more.
   */
  managedHighWatermark?: boolean;
}

export interface AppendOutcome {
  baseOffset: number;
  duplicate: boolean;
}

export interface CompactionStats {
  bytesBefore: number;
  bytesAfter: number;
  recordsBefore: number;
  recordsAfter: number;
  tombstonesRemoved: number;
}

export class PartitionLog {
  /** Per stored batch, oldest first; entry i is Log record `log.firstIndex + i`. */
  private baseOffsets: number[] = [];
  private lastOffsets: number[] = [];
  private maxTimestamps: number[] = [];
  private sizes: number[] = [];
  /** The partitionLeaderEpoch of each batch (the leader-epoch cache of KIP-101). */
  private epochs: number[] = [];
  private bytesTotal = 0;
  logEndOffset = 0;
  /** The end of what is written to the Log (logEndOffset runs ahead while a write is under way). */
  writtenEndOffset = 0;
  highWatermark = 0;
  producers = new ProducerStateTable();
  /** Woken whenever the high watermark moves: parked fetches re-check. */
  onAdvance: () => void = () => {};
  /** Compaction swaps the Log underneath: appends and reads wait for it. */
  private exclusive: Promise<void> | null = null;
  private inFlight = 0;
  private idle: (() => void)[] = [];
  /** Writes waiting for a segment roll, in offset order (see write()). */
  private queuedWrites = 0;
  private writeTail: Promise<void> = Promise.resolve();

  private constructor(
    private readonly store: GenerationalLog,
    private readonly managed: boolean,
  ) {}

  static async open(options: PartitionLogOptions): Promise<PartitionLog> {
    const store = await GenerationalLog.open({
      dir: options.dir,
      fsync: 'interval',
      segmentBytesMax: options.segmentBytesMax,
      fs: options.fs,
    });
    const partition = new PartitionLog(store, options.managedHighWatermark ?? false);
    await partition.rebuildIndex();
    return partition;
  }

  private async rebuildIndex(): Promise<void> {
    this.baseOffsets = [];
    this.lastOffsets = [];
    this.maxTimestamps = [];
    this.sizes = [];
    this.epochs = [];
    this.bytesTotal = 0;
    const log = this.store.log;
    for await (const { record } of log.entries(log.firstIndex, REBUILD_CHUNK_BYTES)) {
      const header = readBatchHeader(record);
      this.indexBatch(header, header.baseOffset, record.length, header.partitionLeaderEpoch);
    }
    const end = this.lastOffsets.length > 0 ? this.lastOffsets[this.lastOffsets.length - 1]! + 1 : 0;
    // A compaction keeps the newest batch, so the end offset survives it and a restart.
    this.logEndOffset = Math.max(this.logEndOffset, end);
    this.writtenEndOffset = this.logEndOffset;
    this.highWatermark = this.managed ? Math.min(this.highWatermark, this.logEndOffset) : this.logEndOffset;
  }

  /** Indexes a batch stored at `baseOffset` (its offsets, time, size, epoch) and its producer's sequence. */
  private indexBatch(header: BatchHeader, baseOffset: number, bytes: number, epoch: number): void {
    this.baseOffsets.push(baseOffset);
    this.epochs.push(epoch);
    this.lastOffsets.push(baseOffset + header.lastOffsetDelta);
    // The time index stores the running maximum, so it is sorted and binary-searchable.
    const previous = this.maxTimestamps.length > 0 ? this.maxTimestamps[this.maxTimestamps.length - 1]! : -1;
    this.maxTimestamps.push(Math.max(previous, header.maxTimestamp));
    this.sizes.push(bytes);
    this.bytesTotal += bytes;
    if (header.producerId !== NO_PRODUCER) {
      this.producers.record(
        header.producerId,
        header.producerEpoch,
        header.baseSequence,
        header.recordCount,
        baseOffset,
      );
    }
  }

  get logStartOffset(): number {
    return this.baseOffsets.length > 0 ? this.baseOffsets[0]! : this.logEndOffset;
  }

  get bytes(): number {
    return this.bytesTotal;
  }

  get batchCount(): number {
    return this.baseOffsets.length;
  }

  get segments(): number {
    return this.store.log.stats.segments;
  }

  private async enter(): Promise<void> {
    while (this.exclusive) await this.exclusive;
    this.inFlight++;
  }

  private leave(): void {
    this.inFlight--;
    if (this.inFlight === 0) for (const wake of this.idle.splice(0)) wake();
  }

  /**
   * Appends producer batches (already checked: CRC, magic) in order, assigning offsets.
   * `sync` (acks=all) resolves only once the batches are fsync'd.
   */
  async append(batches: Batch[], sync: boolean, leaderEpoch?: number): Promise<AppendOutcome> {
    await this.enter();
    try {
      const h = batches[0]!.header;
      const idempotent = h.producerId !== NO_PRODUCER && batches.length === 1;
      if (idempotent) {
        const check = this.producers.check(h.producerId, h.producerEpoch, h.baseSequence, h.recordCount);
        if (check.kind === 'duplicate') {
          // The first copy may still be on its way to disk (a retry on another connection while
          // the original is being written): an acks=all answer waits for it, as the original's
          // does. The log's sync runs after every append queued before it.
          if (sync) await this.store.log.sync();
          return { baseOffset: check.baseOffset, duplicate: true };
        }
        if (check.kind === 'error') throw new SequenceError(check.errorCode);
      }
      const firstOffset = this.logEndOffset;
      const stored: Uint8Array[] = [];
      for (const batch of batches) {
        const baseOffset = this.logEndOffset;
        const bytes = withBaseOffset(batch.bytes, baseOffset);
        // The leader stamps its epoch (outside the CRC, as baseOffset is): followers and a
        // later leader find where their logs diverge by it.
        if (leaderEpoch !== undefined) new DataView(bytes.buffer, bytes.byteOffset).setInt32(12, leaderEpoch);
        stored.push(bytes);
        this.logEndOffset += batch.header.lastOffsetDelta + 1;
        this.indexBatch(
          batch.header,
          baseOffset,
          bytes.length,
          leaderEpoch ?? batch.header.partitionLeaderEpoch,
        );
      }
      const end = this.logEndOffset;
      await this.write(stored, sync);
      if (end > this.writtenEndOffset) this.writtenEndOffset = end;
      // Log appends complete in order, so the watermark only moves forward.
      if (this.managed) this.onAdvance();
      else if (end > this.highWatermark) {
        this.highWatermark = end;
        this.onAdvance();
      }
      return { baseOffset: firstOffset, duplicate: false };
    } finally {
      this.leave();
    }
  }

  /**
   * Writes batches with one write(2) on this thread (the Log's appendSync): an acks=1 produce
   * is in the page cache when answered without a round trip through libuv's thread pool, where
   * it would queue behind other partitions' fsyncs (the one-producer acks=1 path waits on this
   * per request). `sync` then fdatasyncs on the pool; concurrent callers share one. Batches
   * reach the file in the order their offsets were assigned: at once, or, while a full
   * segment rolls, queued behind the roll and the writes queued before them.
   */
  private async write(batches: Uint8Array[], sync: boolean): Promise<void> {
    const log = this.store.log;
    if (this.queuedWrites === 0 && !log.rollDue) log.appendSync(batches);
    else {
      this.queuedWrites++;
      const run = this.writeTail.then(async () => {
        if (log.rollDue) await log.roll();
        log.appendSync(batches);
      });
      this.writeTail = run
        .catch(() => {})
        .finally(() => {
          this.queuedWrites--;
        });
      await run;
    }
    if (sync) await log.sync();
  }

  /** Position in the index of the first batch holding an offset >= `offset`. */
  private batchAt(offset: number): number {
    let lo = 0;
    let hi = this.lastOffsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.lastOffsets[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Whole batches from the one holding `offset`, up to `maxBytes` (at least one batch), below
   * `upTo` (the high watermark for consumers; the log end for a follower's fetch).
   */
  async read(offset: number, maxBytes: number, upTo = this.highWatermark): Promise<Uint8Array[]> {
    await this.enter();
    try {
      const first = this.batchAt(offset);
      let last = first;
      let bytes = 0;
      while (last < this.baseOffsets.length && this.lastOffsets[last]! < upTo) {
        if (last > first && bytes + this.sizes[last]! > maxBytes) break;
        bytes += this.sizes[last]!;
        last++;
      }
      if (last === first) return [];
      const log = this.store.log;
      const out = await log.readRange(log.firstIndex + first, log.firstIndex + last);
      assert(out.length === last - first, 'partition index and log disagree');
      return out;
    } finally {
      this.leave();
    }
  }

  /** Bytes readable from `offset` to the high watermark (for a fetch's min_bytes). */
  bytesAvailable(offset: number): number {
    let bytes = 0;
    for (
      let i = this.batchAt(offset);
      i < this.sizes.length && this.lastOffsets[i]! < this.highWatermark;
      i++
    ) {
      bytes += this.sizes[i]!;
    }
    return bytes;
  }

  /** The earliest offset whose batch has a timestamp >= `timestampMs`, or -1 if none. */
  offsetForTimestamp(timestampMs: number): number {
    let lo = 0;
    let hi = this.maxTimestamps.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.maxTimestamps[mid]! < timestampMs) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.baseOffsets.length ? this.baseOffsets[lo]! : -1;
  }

  /**
   * Retention (Kafka's retention.ms and retention.bytes): drops the oldest batches that are
   * older than `retentionMs` or beyond `retentionBytes`. The Log deletes whole segments only,
   * so what goes is rounded down to segment boundaries, as in Kafka. The newest batch stays.
   */
  async applyRetention(nowMs: number, retentionMs: number, retentionBytes: number): Promise<number> {
    let drop = 0;
    const keepAtLeast = 1;
    if (retentionMs >= 0) {
      while (
        drop < this.maxTimestamps.length - keepAtLeast &&
        this.maxTimestamps[drop]! < nowMs - retentionMs
      )
        drop++;
    }
    if (retentionBytes >= 0) {
      let bytes = this.bytesTotal;
      for (let i = 0; i < drop; i++) bytes -= this.sizes[i]!;
      while (drop < this.sizes.length - keepAtLeast && bytes > retentionBytes) bytes -= this.sizes[drop++]!;
    }
    if (drop === 0) return 0;
    await this.enter();
    try {
      const log = this.store.log;
      const firstBefore = log.firstIndex;
      await log.dropPrefix(firstBefore + drop);
      const dropped = log.firstIndex - firstBefore;
      for (let i = 0; i < dropped; i++) this.bytesTotal -= this.sizes[i]!;
      this.baseOffsets.splice(0, dropped);
      this.lastOffsets.splice(0, dropped);
      this.maxTimestamps.splice(0, dropped);
      this.sizes.splice(0, dropped);
      this.epochs.splice(0, dropped);
      return dropped;
    } finally {
      this.leave();
    }
  }

  /** Runs `work` alone: appends and reads already in flight finish first, new ones wait. */
  private async exclusively<T>(work: () => Promise<T>): Promise<T> {
    while (this.exclusive) await this.exclusive;
    let release!: () => void;
    this.exclusive = new Promise((resolve) => {
      release = resolve;
    });
    try {
      while (this.inFlight > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
      return await work();
    } finally {
      this.exclusive = null;
      release();
    }
  }

  /**
   * Compacts everything but the newest batch (Kafka never cleans the active segment either),
   * rewriting the log as a new generation. Appends and reads wait meanwhile.
   */
  async compact(decompress: Decompress, tombstoneCutoffMs: number): Promise<CompactionStats> {
    return this.exclusively(async () => {
      const log = this.store.log;
      await log.sync();
      const records = await log.readRange(log.firstIndex, log.nextIndex);
      const bytesBefore = this.bytesTotal;
      if (records.length < 2) {
        return {
          bytesBefore,
          bytesAfter: bytesBefore,
          recordsBefore: 0,
          recordsAfter: 0,
          tombstonesRemoved: 0,
        };
      }
      const dirty = records.slice(0, -1).map((bytes) => ({ header: readBatchHeader(bytes), bytes }));
      const result = compactBatches({ batches: dirty, decompress, tombstoneCutoffMs });
      await this.store.rewrite([...result.batches, records[records.length - 1]!]);
      const end = this.logEndOffset;
      await this.rebuildIndex();
      assert(this.logEndOffset === end, 'compaction moved the end of the log');
      return {
        bytesBefore,
        bytesAfter: this.bytesTotal,
        recordsBefore: result.recordsBefore,
        recordsAfter: result.recordsAfter,
        tombstonesRemoved: result.tombstonesRemoved,
      };
    });
  }

  /**
   * A follower's append: batches fetched from the leader, offsets and epochs already in them.
   * They must start at this log's end (the follower fetched from there). Resolves once they
   * are fsync'd: the follower's next fetch reports this log end, the leader counts it toward
   * the high watermark and answers acks=all by it, so a whole-cluster power cut must not take
   * back what the report promised (Kafka leaves this to the page cache; we do not).
   */
  async appendReplicated(records: Uint8Array[]): Promise<void> {
    if (records.length === 0) return;
    await this.enter();
    try {
      for (const bytes of records) {
        const header = readBatchHeader(bytes);
        if (header.baseOffset !== this.logEndOffset)
          throw new Error(`replicated batch at ${header.baseOffset}, log ends at ${this.logEndOffset}`);
        this.logEndOffset = lastOffset(header) + 1;
        this.indexBatch(header, header.baseOffset, bytes.length, header.partitionLeaderEpoch);
      }
      await this.write(records, true);
      this.writtenEndOffset = this.logEndOffset;
      this.onAdvance();
    } finally {
      this.leave();
    }
  }

  /** Sets the high watermark (replicated partitions); it never moves back, nor past the log end. */
  setHighWatermark(offset: number): void {
    const hw = Math.min(offset, this.logEndOffset);
    if (hw > this.highWatermark) {
      this.highWatermark = hw;
      this.onAdvance();
    }
  }

  /** The leader-epoch cache: each epoch in the log and the first offset written in it. */
  epochStarts(): { epoch: number; startOffset: number }[] {
    const out: { epoch: number; startOffset: number }[] = [];
    this.epochs.forEach((epoch, i) => {
      if (out.length === 0 || out[out.length - 1]!.epoch !== epoch)
        out.push({ epoch, startOffset: this.baseOffsets[i]! });
    });
    return out;
  }

  /**
   * Cuts the log back to `offset` (a batch boundary: where an epoch starts or the log end),
   * as a follower does after a leader change (KIP-101). The producer state is rebuilt from
   * what remains.
   */
  async truncateTo(offset: number): Promise<void> {
    if (offset >= this.logEndOffset) return;
    return this.exclusively(async () => {
      const keep = this.batchAt(offset);
      if (keep < this.baseOffsets.length && this.baseOffsets[keep]! !== offset)
        throw new Error(`truncation offset ${offset} is inside a batch`);
      const log = this.store.log;
      await log.truncateSuffix(log.firstIndex + keep);
      await log.sync();
      this.producers = new ProducerStateTable();
      this.logEndOffset = 0;
      this.highWatermark = Math.min(this.highWatermark, offset);
      await this.rebuildIndex();
      this.logEndOffset = Math.max(this.logEndOffset, offset);
      this.writtenEndOffset = this.logEndOffset;
    });
  }

  /** Makes everything appended so far durable (shutdown, tests). */
  sync(): Promise<void> {
    return this.store.log.sync();
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

/** An idempotent producer's batch out of sequence: carries the Kafka error code. */
export class SequenceError extends Error {
  override name = 'SequenceError';
  constructor(readonly errorCode: number) {
    super(`producer sequence check failed with Kafka error ${errorCode}`);
  }
}
