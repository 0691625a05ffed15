// Reads one block: binary search over the restart points, then a linear scan that rebuilds
// prefix-compressed keys into one reused buffer (no allocation per entry). LevelDB:
// table/block.cc. Byte layout: FORMAT.md "Block".
import { compareBytes, compareInternal, type InternalIterator, TRAILER_BYTES } from './internal-key.js';
import { getVarint32, type VarintCursor } from './varint.js';

/** A block whose restart array or entries do not parse. */
export class BlockFormatError extends Error {
  override name = 'BlockFormatError';
}

export class Block {
  readonly restartsOffset: number;
  readonly restartCount: number;

  constructor(readonly data: Buffer) {
    if (data.length < 4) throw new BlockFormatError('block shorter than its restart count');
    this.restartCount = data.readUInt32LE(data.length - 4);
    this.restartsOffset = data.length - 4 - 4 * this.restartCount;
    if (this.restartCount === 0 || this.restartsOffset < 0) {
      throw new BlockFormatError(`bad restart count ${this.restartCount}`);
    }
  }

  restartPoint(i: number): number {
    return this.data.readUInt32LE(this.restartsOffset + 4 * i);
  }

  iterator(): BlockIterator {
    return new BlockIterator(this);
  }
}

export class BlockIterator implements InternalIterator {
  private readonly data: Buffer;
  /** Offset of the current entry; restartsOffset when not valid. */
  private current: number;
  private nextOffset: number;
  private keyBuffer = Buffer.allocUnsafe(64);
  private keyLength = 0;
  private valueStart = 0;
  private valueLength = 0;
  private restartIndex = 0;
  private keyView: Buffer | null = null;
  /** seq() of the current entry, or -1 until asked. */
  private seqCache = -1;
  private readonly cursor: VarintCursor = { value: 0, offset: 0 };

  constructor(private readonly block: Block) {
    this.data = block.data;
    this.current = block.restartsOffset;
    this.nextOffset = block.restartsOffset;
  }

  valid(): boolean {
    return this.current < this.block.restartsOffset;
  }

  seekToFirst(): void {
    this.seekToRestart(0);
    this.parseNext();
  }

  seekToLast(): void {
    this.seekToRestart(this.block.restartCount - 1);
    while (this.parseNext() && this.nextOffset < this.block.restartsOffset) {}
  }

  seek(userKey: Uint8Array, seq: number): void {
    // Binary search for the last restart point whose key is < target.
    let lo = 0;
    let hi = this.block.restartCount - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.compareRestartKey(mid, userKey, seq) < 0) lo = mid;
      else hi = mid - 1;
    }
    this.seekToRestart(lo);
    for (;;) {
      if (!this.parseNext()) return;
      if (this.compareCurrent(userKey, seq) >= 0) return;
    }
  }

  next(): void {
    this.parseNext();
  }

  prev(): void {
    // Walk back to the restart point before the current entry, then scan forward to the
    // entry just before it (LevelDB Block::Iter::Prev).
    const original = this.current;
    while (this.restartIndex > 0 && this.block.restartPoint(this.restartIndex) >= original) {
      this.restartIndex--;
    }
    if (this.block.restartPoint(this.restartIndex) >= original) {
      // Already at the first entry.
      this.current = this.block.restartsOffset;
      this.nextOffset = this.block.restartsOffset;
      return;
    }
    this.seekToRestart(this.restartIndex);
    while (this.parseNext() && this.nextOffset < original) {}
  }

  key(): Buffer {
    if (this.keyView === null) this.keyView = this.keyBuffer.subarray(0, this.keyLength - TRAILER_BYTES);
    return this.keyView;
  }

  seq(): number {
    if (this.seqCache < 0) this.seqCache = this.keyBuffer.readUIntLE(this.keyLength - TRAILER_BYTES + 1, 6);
    return this.seqCache;
  }

  kind(): number {
    return this.keyBuffer[this.keyLength - TRAILER_BYTES]!;
  }

  value(): Buffer {
    return this.data.subarray(this.valueStart, this.valueStart + this.valueLength);
  }

  /** The full internal key of the current entry (a view into a reused buffer). */
  internalKey(): Buffer {
    return this.keyBuffer.subarray(0, this.keyLength);
  }

  private seekToRestart(index: number): void {
    this.restartIndex = index;
    this.keyLength = 0;
    this.nextOffset = this.block.restartPoint(index);
    this.current = this.block.restartsOffset;
  }

  /** Parses the entry at nextOffset; returns false (and becomes invalid) at the end. */
  private parseNext(): boolean {
    const limit = this.block.restartsOffset;
    if (this.nextOffset >= limit) {
      this.current = limit;
      this.nextOffset = limit;
      return false;
    }
    const c = this.cursor;
    c.offset = this.nextOffset;
    getVarint32(this.data, c);
    const shared = c.value;
    getVarint32(this.data, c);
    const unshared = c.value;
    getVarint32(this.data, c);
    const valueLength = c.value;
    const keyStart = c.offset;
    if (shared > this.keyLength || keyStart + unshared + valueLength > limit) {
      throw new BlockFormatError(`entry at ${this.nextOffset} runs past its block`);
    }
    const keyLength = shared + unshared;
    if (keyLength < TRAILER_BYTES) throw new BlockFormatError(`entry at ${this.nextOffset} has a short key`);
    if (this.keyBuffer.length < keyLength) {
      const grown = Buffer.allocUnsafe(keyLength * 2);
      this.keyBuffer.copy(grown, 0, 0, shared);
      this.keyBuffer = grown;
    }
    this.data.copy(this.keyBuffer, shared, keyStart, keyStart + unshared);
    this.keyLength = keyLength;
    this.keyView = null;
    this.seqCache = -1;
    this.current = this.nextOffset;
    this.valueStart = keyStart + unshared;
    this.valueLength = valueLength;
    this.nextOffset = this.valueStart + valueLength;
    while (
      this.restartIndex + 1 < this.block.restartCount &&
      this.block.restartPoint(this.restartIndex + 1) <= this.current
    ) {
      this.restartIndex++;
    }
    return true;
  }

  private compareCurrent(userKey: Uint8Array, seq: number): number {
    const userLength = this.keyLength - TRAILER_BYTES;
    const c = compareBytes(this.keyBuffer, 0, userLength, userKey, 0, userKey.length);
    if (c !== 0) return c;
    const mine = this.keyBuffer.readUIntLE(userLength + 1, 6);
    return mine > seq ? -1 : mine < seq ? 1 : 0;
  }

  private compareRestartKey(index: number, userKey: Uint8Array, seq: number): number {
    const c = this.cursor;
    c.offset = this.block.restartPoint(index);
    getVarint32(this.data, c); // shared, always 0 at a restart point
    getVarint32(this.data, c);
    const unshared = c.value;
    getVarint32(this.data, c);
    const keyStart = c.offset;
    const userLength = unshared - TRAILER_BYTES;
    if (userLength < 0 || keyStart + unshared > this.block.restartsOffset) {
      throw new BlockFormatError(`restart ${index} runs past its block`);
    }
    const cmp = compareBytes(this.data, keyStart, keyStart + userLength, userKey, 0, userKey.length);
    if (cmp !== 0) return cmp;
    const mine = this.data.readUIntLE(keyStart + userLength + 1, 6);
    return compareInternal(userKey, mine, userKey, seq);
  }
}
