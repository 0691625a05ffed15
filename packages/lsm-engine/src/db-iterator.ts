// The user-facing iterator: walks the merged stream of every source, hides versions newer
// than its snapshot, keeps only the newest visible version of each key, skips tombstones,
// and applies the range bounds. LevelDB: db/db_iter.cc (FindNextUserEntry /
// FindPrevUserEntry). In reverse, versions of one key arrive oldest first, so the newest
// visible one is the last seen before the key changes.
import { compareKeys, KIND_DELETE, KIND_PUT, SEQ_AFTER_ALL, SEQ_MAX } from './internal-key.js';
import type { MergingIterator } from './merging-iterator.js';

export interface RangeBounds {
  gt?: Buffer;
  gte?: Buffer;
  lt?: Buffer;
  lte?: Buffer;
}

const EMPTY = Buffer.alloc(0);
/** Versions of one key stepped over one by one before the iterator seeks past them instead. */
export const SEQUENTIAL_SKIPS_MAX = 8;

export class DbIterator {
  private done = false;
  private lastKey: Buffer | null = null;
  private pendingKey: Buffer | null = null;
  private pendingKind = KIND_DELETE;
  private pendingValue: Buffer = EMPTY;
  private released = false;
  /** Positioned lazily, so that a damaged block surfaces from next(), not from the constructor. */
  private started = false;

  constructor(
    private readonly m: MergingIterator,
    readonly seq: number,
    private readonly bounds: RangeBounds,
    private readonly release: () => void,
    /** false: values are not copied out (every entry's value is empty). */
    private readonly values = true,
  ) {}

  get reverse(): boolean {
    return this.m.reverse;
  }

  /** The next entry in iteration order, or undefined at the end (key and value are copies). */
  next(): [Buffer, Buffer] | undefined {
    if (this.done) return undefined;
    if (!this.started) {
      this.started = true;
      this.start();
    }
    const out = this.m.reverse ? this.nextReverse() : this.nextForward();
    if (out === undefined) this.done = true;
    return out;
  }

  /** Moves to the first key >= target (reverse: <= target) inside the bounds. */
  seek(target: Buffer): void {
    this.lastKey = null;
    this.pendingKey = null;
    this.done = false;
    this.started = true;
    if (this.outOfRange(target)) {
      this.done = true;
      return;
    }
    this.m.seek(target, this.m.reverse ? SEQ_AFTER_ALL : SEQ_MAX);
  }

  close(): void {
    if (this.released) return;
    this.released = true;
    this.done = true;
    this.release();
  }

  private start(): void {
    const b = this.bounds;
    if (!this.m.reverse) {
      if (b.gte !== undefined) this.m.seek(b.gte, SEQ_MAX);
      else if (b.gt !== undefined) this.m.seek(b.gt, SEQ_AFTER_ALL);
      else this.m.start();
    } else {
      if (b.lte !== undefined) this.m.seek(b.lte, SEQ_AFTER_ALL);
      else if (b.lt !== undefined) this.m.seek(b.lt, SEQ_MAX);
      else this.m.start();
    }
  }

  private belowUpper(key: Buffer): boolean {
    const b = this.bounds;
    if (b.lt !== undefined && compareKeys(key, b.lt) >= 0) return false;
    if (b.lte !== undefined && compareKeys(key, b.lte) > 0) return false;
    return true;
  }

  private aboveLower(key: Buffer): boolean {
    const b = this.bounds;
    if (b.gt !== undefined && compareKeys(key, b.gt) <= 0) return false;
    if (b.gte !== undefined && compareKeys(key, b.gte) < 0) return false;
    return true;
  }

  private outOfRange(target: Buffer): boolean {
    return !this.belowUpper(target) || !this.aboveLower(target);
  }

  private nextForward(): [Buffer, Buffer] | undefined {
    const m = this.m;
    // Versions of one key this call has stepped over; past SEQUENTIAL_SKIPS_MAX, one seek jumps
    // the rest (RocksDB's max_sequential_skip_in_iterations): a key overwritten a hundred times
    // since the last compaction costs a seek instead of a hundred steps.
    let skipped = 0;
    while (m.valid()) {
      if (m.seq() > this.seq) {
        // Written after this iterator's snapshot: go to the newest version it may see.
        if (++skipped > SEQUENTIAL_SKIPS_MAX) {
          skipped = 0;
          // (A copy: the key may live in a child's buffer that its own seek overwrites.)
          m.seek(Buffer.from(m.key()), this.seq);
        } else m.advance();
        continue;
      }
      const key = m.key();
      if (this.lastKey !== null && compareKeys(this.lastKey, key) === 0) {
        // An older version of the key just returned (or skipped as deleted): past them all.
        if (++skipped > SEQUENTIAL_SKIPS_MAX) {
          skipped = 0;
          // (A copy: lastKey was handed to the caller, who may change it.)
          m.seek(Buffer.from(this.lastKey), SEQ_AFTER_ALL);
        } else m.advance();
        continue;
      }
      skipped = 0;
      if (!this.belowUpper(key)) return undefined;
      const copy = Buffer.from(key);
      this.lastKey = copy;
      if (m.kind() === KIND_DELETE) {
        m.advance();
        continue;
      }
      const value = this.values ? Buffer.from(m.value()) : EMPTY;
      m.advance();
      return [copy, value];
    }
    return undefined;
  }

  private nextReverse(): [Buffer, Buffer] | undefined {
    const m = this.m;
    for (;;) {
      const atBoundary =
        !m.valid() ||
        (m.seq() <= this.seq && (this.pendingKey === null || compareKeys(this.pendingKey, m.key()) !== 0));
      if (atBoundary) {
        if (this.pendingKey !== null) {
          const key = this.pendingKey;
          this.pendingKey = null;
          if (this.pendingKind === KIND_PUT) return [key, this.pendingValue];
          continue;
        }
        if (!m.valid()) return undefined;
        const key = m.key();
        if (!this.aboveLower(key)) return undefined;
        this.pendingKey = Buffer.from(key);
        this.takeVersion();
        continue;
      }
      if (m.seq() > this.seq) {
        m.advance();
        continue;
      }
      // A newer visible version of the pending key.
      this.takeVersion();
    }
  }

  private takeVersion(): void {
    const m = this.m;
    this.pendingKind = m.kind();
    this.pendingValue = this.pendingKind === KIND_PUT && this.values ? Buffer.from(m.value()) : EMPTY;
    m.advance();
  }
}
