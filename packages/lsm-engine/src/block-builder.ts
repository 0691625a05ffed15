// Builds one block: entries with prefix-compressed internal keys and a restart point every
// `restartInterval` entries, where the full key is stored so a reader can binary-search.
// Byte layout: FORMAT.md "Block". LevelDB: table/block_builder.cc.
import { TRAILER_BYTES, writeTrailer } from './internal-key.js';
import { putVarint32 } from './varint.js';

const VARINT32_BYTES_MAX = 5;

export class BlockBuilder {
  private buffer: Buffer;
  private length = 0;
  private readonly restarts: number[] = [0];
  private counter = 0;
  private lastKey = Buffer.allocUnsafe(256);
  private lastKeyLength = 0;
  private scratch = Buffer.allocUnsafe(256);
  entries = 0;

  constructor(
    private readonly restartInterval: number,
    initialBytes = 8192,
  ) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** Adds an entry whose internal key is userKey + trailer(seq, kind). Keys must ascend. */
  add(userKey: Uint8Array, seq: number, kind: number, value: Uint8Array): void {
    const keyLength = userKey.length + TRAILER_BYTES;
    if (this.scratch.length < keyLength) this.scratch = Buffer.allocUnsafe(keyLength * 2);
    this.scratch.set(userKey, 0);
    writeTrailer(this.scratch, userKey.length, seq, kind);
    this.addInternal(this.scratch, keyLength, value);
  }

  /** Adds an entry whose full internal key is already encoded in key[0, keyLength). */
  addInternal(key: Buffer, keyLength: number, value: Uint8Array): void {
    let shared = 0;
    if (this.counter < this.restartInterval) {
      const limit = Math.min(this.lastKeyLength, keyLength);
      while (shared < limit && this.lastKey[shared] === key[shared]) shared++;
    } else {
      this.restarts.push(this.length);
      this.counter = 0;
    }
    const unshared = keyLength - shared;
    this.reserve(3 * VARINT32_BYTES_MAX + unshared + value.length);
    let at = putVarint32(this.buffer, this.length, shared);
    at = putVarint32(this.buffer, at, unshared);
    at = putVarint32(this.buffer, at, value.length);
    key.copy(this.buffer, at, shared, keyLength);
    at += unshared;
    this.buffer.set(value, at);
    this.length = at + value.length;
    if (this.lastKey.length < keyLength) this.lastKey = Buffer.allocUnsafe(keyLength * 2);
    key.copy(this.lastKey, shared, shared, keyLength);
    this.lastKeyLength = keyLength;
    this.counter++;
    this.entries++;
  }

  /** The last internal key added (a view, valid until the next add). */
  lastInternalKey(): Buffer {
    return this.lastKey.subarray(0, this.lastKeyLength);
  }

  estimatedBytes(): number {
    return this.length + this.restarts.length * 4 + 4;
  }

  isEmpty(): boolean {
    return this.entries === 0;
  }

  /** Appends the restart array and returns the block's bytes (a fresh Buffer). */
  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.estimatedBytes());
    this.buffer.copy(out, 0, 0, this.length);
    let at = this.length;
    for (const r of this.restarts) {
      out.writeUInt32LE(r, at);
      at += 4;
    }
    out.writeUInt32LE(this.restarts.length, at);
    return out;
  }

  reset(): void {
    this.length = 0;
    this.restarts.length = 1;
    this.restarts[0] = 0;
    this.counter = 0;
    this.lastKeyLength = 0;
    this.entries = 0;
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}
