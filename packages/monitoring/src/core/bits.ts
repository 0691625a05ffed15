// Bit-granular streams for Gorilla chunks: bits are written most significant first, so a
// chunk reads left to right the way the paper's Figure 2 draws it.
import { ChunkCorruptError } from './errors.js';

const INITIAL_BYTES = 64;
const TWO_32 = 4294967296;

export class BitWriter {
  private buffer = new Uint8Array(INITIAL_BYTES);
  /** Bits written so far. */
  bitLength = 0;

  private ensure(bits: number): void {
    const needed = (this.bitLength + bits + 7) >>> 3;
    if (needed <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(needed, this.buffer.length * 2));
    grown.set(this.buffer);
    this.buffer = grown;
  }

  writeBit(bit: number): void {
    this.ensure(1);
    if (bit) this.buffer[this.bitLength >>> 3]! |= 0x80 >>> (this.bitLength & 7);
    this.bitLength++;
  }

  /** Writes the low `n` bits of `value` (0 <= n <= 32). */
  writeBits(value: number, n: number): void {
    this.ensure(n);
    while (n > 0) {
      const free = 8 - (this.bitLength & 7);
      const take = Math.min(free, n);
      const bits = (value >>> (n - take)) & ((1 << take) - 1);
      this.buffer[this.bitLength >>> 3]! |= bits << (free - take);
      this.bitLength += take;
      n -= take;
    }
  }

  /** Writes a non-negative safe integer in `n` bits (0 <= n <= 53). */
  writeWide(value: number, n: number): void {
    if (n <= 32) {
      this.writeBits(value, n);
      return;
    }
    const hi = Math.floor(value / TWO_32);
    this.writeBits(hi, n - 32);
    this.writeBits(value - hi * TWO_32, 32);
  }

  /** The written bytes (the last one zero-padded), copied. */
  bytes(): Uint8Array {
    return this.buffer.slice(0, (this.bitLength + 7) >>> 3);
  }

  /** The written bytes without a copy: valid only until the next write. */
  view(): Uint8Array {
    return this.buffer.subarray(0, (this.bitLength + 7) >>> 3);
  }

  get byteLength(): number {
    return (this.bitLength + 7) >>> 3;
  }
}

export class BitReader {
  private at = 0;
  private readonly limit: number;
  constructor(
    private readonly buffer: Uint8Array,
    startByte = 0,
  ) {
    this.at = startByte * 8;
    this.limit = buffer.length * 8;
  }

  readBit(): number {
    if (this.at >= this.limit) throw new ChunkCorruptError('chunk ends in the middle of a sample');
    const bit = (this.buffer[this.at >>> 3]! >>> (7 - (this.at & 7))) & 1;
    this.at++;
    return bit;
  }

  /** Reads `n` bits (0 <= n <= 32) as an unsigned number. */
  readBits(n: number): number {
    if (this.at + n > this.limit) throw new ChunkCorruptError('chunk ends in the middle of a sample');
    const byte = this.at >>> 3;
    const offset = this.at & 7;
    // Fast path: the bits lie within four whole bytes, read as one big-endian word and shifted.
    if (n > 0 && offset + n <= 32 && byte + 3 < this.buffer.length) {
      const b = this.buffer;
      const word = ((b[byte]! << 24) | (b[byte + 1]! << 16) | (b[byte + 2]! << 8) | b[byte + 3]!) >>> 0;
      this.at += n;
      return ((word << offset) >>> 0) >>> (32 - n);
    }
    let value = 0;
    while (n > 0) {
      const offset = this.at & 7;
      const avail = 8 - offset;
      const take = Math.min(avail, n);
      const bits = (this.buffer[this.at >>> 3]! >>> (avail - take)) & ((1 << take) - 1);
      // Multiplication instead of << keeps 32-bit reads unsigned.
      value = value * (1 << take) + bits;
      this.at += take;
      n -= take;
    }
    return value;
  }

  /** Reads `n` bits (0 <= n <= 53) as a non-negative safe integer. */
  readWide(n: number): number {
    if (n <= 32) return this.readBits(n);
    const hi = this.readBits(n - 32);
    return hi * TWO_32 + this.readBits(32);
  }
}
