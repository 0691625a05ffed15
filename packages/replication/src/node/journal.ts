// The node's durable record journal: every record a core asks to persist (a key's merged state,
// a hint, a log entry, an epoch) is one JSON record in common's segmented Log (length + CRC32C
// per record, a torn tail cut at recovery; FORMAT.md). Appends resolve once fsynced ('group'
// policy: appends queued together share one fdatasync), and the driver answers a client or a
// peer only after that, so an acknowledged write is on disk. At start the records are replayed
// into a fresh core in order; a record replayed twice is harmless (states merge, entries are
// positioned).
import { type FileSystem, Log } from '@ddia/common';

/** Records read back per batch during replay. */
const REPLAY_BATCH_BYTES = 4 * 1024 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class Journal<P> {
  /** null: no --data-dir, nothing survives the process (demos). */
  private constructor(private readonly log: Log | null) {}

  static async open<P>(dir: string, fs?: FileSystem): Promise<Journal<P>> {
    const log = await Log.open({ dir, fsync: 'group', ...(fs ? { fs } : {}) });
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
