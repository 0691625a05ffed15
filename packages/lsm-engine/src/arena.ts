// The memtable's arena, as LevelDB's util/arena.h: entry bytes are copied into large chunks
// that are allocated as the table grows and freed all at once when it is dropped. The garbage
// collector then copies, promotes and marks a few dozen chunks for a memtable of 200,000
// entries, instead of 200,000 key and value Buffers (and the WAL records they would point into).

/** Chunk size; a memtable of 64 MiB takes 64 of them. */
export const ARENA_CHUNK_BYTES = 1024 * 1024;
/** Larger allocations get a chunk of their own, so that a chunk's tail is never wasted on
 *  more than a quarter (LevelDB: kBlockSize / 4). */
const OWN_CHUNK_BYTES_MIN = ARENA_CHUNK_BYTES / 4;

export class Arena {
  /** Every chunk so far; an allocation is addressed by (chunk number, offset). */
  readonly chunks: Buffer[] = [];
  private current: Buffer | null = null;
  private currentNumber = -1;
  private used = 0;
  /** The chunk number of the last allocation (allocate returns its offset). */
  lastChunk = -1;
  /** Bytes of chunks allocated so far. */
  bytes = 0;

  /** Reserves `n` bytes; returns their offset in chunk `lastChunk`. The caller fills them. */
  allocate(n: number): number {
    if (n >= OWN_CHUNK_BYTES_MIN) {
      this.lastChunk = this.newChunk(n);
      return 0;
    }
    if (this.current === null || this.used + n > this.current.length) {
      this.currentNumber = this.newChunk(ARENA_CHUNK_BYTES);
      this.current = this.chunks[this.currentNumber]!;
      this.used = 0;
    }
    const offset = this.used;
    this.used += n;
    this.lastChunk = this.currentNumber;
    return offset;
  }

  private newChunk(n: number): number {
    // Never zero-filled: every byte handed out is written before it is read.
    this.chunks.push(Buffer.allocUnsafeSlow(n));
    this.bytes += n;
    return this.chunks.length - 1;
  }
}
