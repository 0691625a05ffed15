// The node's durable record journal: every record a core asks to persist (a key's merged state,
// a hint, a log entry, an epoch) is one JSON record in common's segmented Log (length + CRC32C
// per record, a torn tail cut at recovery; FORMAT.md). Appends resolve once fsynced ('group'
// policy: appends queued together share one fdatasync), and the driver answers a client or a
// peer only after that, so an acknowledged write is on disk. At start the records are replayed
// into a fresh core in order; a record replayed twice is harmless (states merge, entries are
// positioned).
import { type FileSystem, Log } from '@ddia/common';

/**
 * Segment size: compaction frees whole segments (common's Log drops at segment granularity),
 * so they are kept small enough that a snapshot lets most of the journal go.
 */
export const JOURNAL_SEGMENT_BYTES = 4 * 1024 * 1024;
/** Records read back per batch during replay. */
const REPLAY_BATCH_BYTES = 4 * 1024 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class Journal<P> {
  /** null: no --data-dir, nothing survives the process (demos). */
  private constructor(private readonly log: Log | null) {}

  static async open<P>(
    dir: string,
    fs?: FileSystem,
    segmentBytesMax = JOURNAL_SEGMENT_BYTES,
  ): Promise<Journal<P>> {
    const log = await Log.open({ dir, fsync: 'group', segmentBytesMax, ...(fs ? { fs } : {}) });
    return new Journal<P>(log);
  }

  static memory<P>(): Journal<P> {
    return new Journal<P>(null);
  }

  /** Every record in append order. */
  async *replay(): AsyncGenerator<P> {
    if (!this.log) return;
    let index = this.log.firstIndex;
    while (index < this.log.nextIndex) {
      const records = await this.log.readRange(index, this.log.nextIndex, REPLAY_BATCH_BYTES);
      for (const record of records) yield JSON.parse(decoder.decode(record)) as P;
      index += records.length;
    }
  }

  /** Resolves once every record is durable. */
  async append(records: readonly P[]): Promise<void> {
    if (records.length === 0 || !this.log) return;
    await this.log.appendBatch(records.map((record) => encoder.encode(JSON.stringify(record))));
  }

  /**
   * Compaction (snapshot + truncate): appends `snapshot`, records that rebuild the whole state
   * on their own, then drops the segments wholly before them. Replay then starts at (or a little
   * before) the snapshot. Safe at any crash point: before the snapshot is durable the old
   * records are all there; after, replaying older records and then the snapshot ends in the
   * same state (a key record replaces, a snapshot record resets the rows), and the drop deletes
   * from the front only. Records appended after the snapshot stay after it (the Log's order).
   * Returns the snapshot's first index.
   */
  async compact(snapshot: readonly P[]): Promise<number> {
    if (!this.log) return 0;
    const first = await this.log.appendBatch(
      snapshot.map((record) => encoder.encode(JSON.stringify(record))),
    );
    await this.log.dropPrefix(first);
    return first;
  }

  get firstIndex(): number {
    return this.log?.firstIndex ?? 0;
  }

  get records(): number {
    return this.log ? this.log.nextIndex - this.log.firstIndex : 0;
  }

  get bytes(): number {
    return this.log?.stats.bytes ?? 0;
  }

  async close(): Promise<void> {
    await this.log?.close();
  }
}
