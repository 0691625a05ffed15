// Gorilla compression (Pelkonen et al., "Gorilla: A Fast, Scalable, In-Memory Time Series
// Database", VLDB 2015, §4.1): timestamps as delta-of-deltas, values as the XOR with the
// previous value. Regular scrapes make most delta-of-deltas 0 (one bit) and slowly changing
// values make most XORs 0 (one bit) or a short run of meaningful bits. Byte layout: FORMAT.md.
//
// Timestamps are milliseconds, so the delta-of-delta buckets are wider than the paper's
// (which counted seconds): 14, 17 and 20 bits, then a 64-bit escape, as Prometheus's XOR
// chunks do.
import { BitReader, BitWriter } from './bits.js';
import { ChunkCorruptError } from './errors.js';
import { isStaleBits, STALE_NAN_HI, STALE_NAN_LO } from './special-values.js';

/** Prometheus cuts a head chunk at 120 samples: compression gains little past that. */
export const SAMPLES_PER_CHUNK = 120;
/** A chunk's first byte names its encoding (chunk.ts reads it); this file writes XOR chunks. */
export const CHUNK_XOR = 1;
/** Encoding byte, then a 16-bit sample count, rewritten as samples are appended. */
const HEADER_BYTES = 3;
const TWO_32 = 4294967296;

/** Delta-of-delta buckets: [control bits, control bit count, payload bits]. */
const DOD_BUCKETS: ReadonlyArray<readonly [control: number, controlBits: number, payloadBits: number]> = [
  [0b10, 2, 14],
  [0b110, 3, 17],
  [0b1110, 4, 20],
];

const scratch = new DataView(new ArrayBuffer(8));

function valueBits(value: number, stale: boolean): [hi: number, lo: number] {
  // The staleness marker goes to disk with Prometheus's exact bit pattern (special-values.ts),
  // written from the flag: a NaN payload does not survive in a JavaScript number.
  if (stale) return [STALE_NAN_HI, STALE_NAN_LO];
  scratch.setFloat64(0, value);
  return [scratch.getUint32(0), scratch.getUint32(4)];
}

function bitsValue(hi: number, lo: number): number {
  scratch.setUint32(0, hi);
  scratch.setUint32(4, lo);
  return scratch.getFloat64(0);
}

function clz64(hi: number, lo: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

function ctz64(hi: number, lo: number): number {
  return lo !== 0 ? ctz32(lo) : 32 + ctz32(hi);
}

function writeSigned64(writer: BitWriter, value: number): void {
  const hi = Math.floor(value / TWO_32);
  writer.writeBits(hi >>> 0, 32);
  writer.writeBits((value - hi * TWO_32) >>> 0, 32);
}

function readSigned64(reader: BitReader): number {
  const hi = reader.readBits(32) | 0;
  return hi * TWO_32 + reader.readBits(32);
}

/** Appends samples to one compressed chunk; timestamps must not decrease. */
export class ChunkEncoder {
  private readonly writer = new BitWriter();
  count = 0;
  minT = 0;
  maxT = 0;
  private delta = 0;
  private hi = 0;
  private lo = 0;
  private leading = 0xff;
  private trailing = 0;

  constructor() {
    this.writer.writeBits(0, HEADER_BYTES * 8);
  }

  /** Appends a sample; `stale` writes Prometheus's staleness marker instead of `value`. */
  append(t: number, value: number, stale = false): void {
    const w = this.writer;
    const [hi, lo] = valueBits(value, stale);
    if (this.count === 0) {
      writeSigned64(w, t);
      w.writeBits(hi, 32);
      w.writeBits(lo, 32);
      this.minT = t;
    } else {
      const delta = t - this.maxT;
      this.writeDeltaOfDelta(delta - this.delta);
      this.delta = delta;
      this.writeXor(hi ^ this.hi, lo ^ this.lo);
    }
    this.maxT = t;
    this.hi = hi;
    this.lo = lo;
    this.count++;
  }

  private writeDeltaOfDelta(dod: number): void {
    const w = this.writer;
    if (dod === 0) {
      w.writeBit(0);
      return;
    }
    for (const [control, controlBits, payloadBits] of DOD_BUCKETS) {
      const half = 2 ** (payloadBits - 1);
      if (dod >= -half && dod < half) {
        w.writeBits(control, controlBits);
        w.writeBits(dod & (2 * half - 1), payloadBits);
        return;
      }
    }
    w.writeBits(0b1111, 4);
    writeSigned64(w, dod);
  }

  private writeXor(xhi: number, xlo: number): void {
    const w = this.writer;
    xhi >>>= 0;
    xlo >>>= 0;
    if (xhi === 0 && xlo === 0) {
      w.writeBit(0);
      return;
    }
    w.writeBit(1);
    // The leading-zero count is stored in 5 bits, so at most 31 (Gorilla §4.1.2).
    let leading = clz64(xhi, xlo);
    if (leading > 31) leading = 31;
    const trailing = ctz64(xhi, xlo);
    if (this.leading !== 0xff && leading >= this.leading && trailing >= this.trailing) {
      // Control bit 0: the meaningful bits fit in the previous window; reuse it.
      w.writeBit(0);
      writeMeaningful(w, xhi, xlo, this.trailing, 64 - this.leading - this.trailing);
      return;
    }
    this.leading = leading;
    this.trailing = trailing;
    const meaningful = 64 - leading - trailing;
    w.writeBit(1);
    w.writeBits(leading, 5);
    // 64 meaningful bits do not fit in 6 bits; 0 stands for 64 (0 meaningful bits cannot occur).
    w.writeBits(meaningful & 63, 6);
    writeMeaningful(w, xhi, xlo, trailing, meaningful);
  }

  /** The chunk's bytes with the sample count in its header. */
  bytes(): Uint8Array {
    return withHeader(this.writer.bytes(), this.count);
  }

  /**
   * The chunk's bytes without a copy, for a reader that is done before the next append (a
   * query): a query over the open chunks of 10,000 series had copied each of them.
   */
  view(): Uint8Array {
    // The header's bits were written as zeros first and are never written again by appends.
    return withHeader(this.writer.view(), this.count);
  }

  get byteLength(): number {
    return this.writer.byteLength;
  }
}

function withHeader(bytes: Uint8Array, count: number): Uint8Array {
  bytes[0] = CHUNK_XOR;
  bytes[1] = count >>> 8;
  bytes[2] = count & 0xff;
  return bytes;
}

/** Writes bits [trailing, trailing + n) of the 64-bit value hi:lo, most significant first. */
function writeMeaningful(w: BitWriter, hi: number, lo: number, trailing: number, n: number): void {
  let shi = hi;
  let slo = lo;
  if (trailing >= 32) {
    slo = hi >>> (trailing - 32);
    shi = 0;
  } else if (trailing > 0) {
    slo = ((lo >>> trailing) | (hi << (32 - trailing))) >>> 0;
    shi = hi >>> trailing;
  }
  if (n > 32) {
    w.writeBits(shi, n - 32);
    w.writeBits(slo, 32);
  } else {
    w.writeBits(slo, n);
  }
}

export interface DecodedChunk {
  timestamps: number[];
  /** A staleness marker decodes to NaN here and to 1 in `stale`. */
  values: number[];
  /** 1 where the sample is a staleness marker; null when the chunk has none. */
  stale: Uint8Array | null;
}

/**
 * Reads an XOR chunk forward one sample at a time, keeping only the current sample: no array
 * and no object per sample (queries decode millions of samples; the garbage was half their time).
 * `next()` moves to the next sample and says whether there was one; then `t`, `value` and
 * `stale` describe it. Throws ChunkCorruptError on a truncated or damaged chunk.
 */
export class XorCursor {
  readonly count: number;
  /** Samples read so far; the current one is number `read - 1`. */
  read = 0;
  t = 0;
  /** The current value's 64 bits (the float is `value`). */
  hi = 0;
  lo = 0;
  private readonly r: BitReader;
  private delta = 0;
  private leading = 0;
  private trailing = 0;

  constructor(bytes: Uint8Array) {
    if (bytes.length < HEADER_BYTES) throw new ChunkCorruptError('chunk shorter than its header');
    if (bytes[0] !== CHUNK_XOR) throw new ChunkCorruptError(`not an XOR chunk (encoding ${bytes[0]})`);
    this.count = chunkSampleCount(bytes);
    this.r = new BitReader(bytes, HEADER_BYTES);
  }

  get value(): number {
    return bitsValue(this.hi, this.lo);
  }

  /** Read from the integer bits: the float in `value` may lose the marker's NaN payload. */
  get stale(): boolean {
    return isStaleBits(this.hi, this.lo);
  }

  next(): boolean {
    if (this.read >= this.count) return false;
    const r = this.r;
    if (this.read === 0) {
      this.t = readSigned64(r);
      this.hi = r.readBits(32);
      this.lo = r.readBits(32);
      this.read = 1;
      return true;
    }
    // Delta-of-delta: count the leading 1 bits of the control prefix (at most 4).
    let ones = 0;
    while (ones < 4 && r.readBit() === 1) ones++;
    let dod = 0;
    if (ones === 4) dod = readSigned64(r);
    else if (ones > 0) {
      const bits = DOD_BUCKETS[ones - 1]![2];
      dod = r.readBits(bits);
      if (dod >= 2 ** (bits - 1)) dod -= 2 ** bits;
    }
    this.delta += dod;
    this.t += this.delta;
    if (r.readBit() === 1) {
      if (r.readBit() === 1) {
        this.leading = r.readBits(5);
        let meaningful = r.readBits(6);
        if (meaningful === 0) meaningful = 64;
        this.trailing = 64 - this.leading - meaningful;
        if (this.trailing < 0)
          throw new ChunkCorruptError(`sample ${this.read}: ${this.leading}+${meaningful} bits exceed 64`);
      }
      this.xorMeaningful(64 - this.leading - this.trailing);
    }
    this.read++;
    return true;
  }

  /** Reads `n` meaningful bits and XORs them, shifted by the trailing zeros, into the value. */
  private xorMeaningful(n: number): void {
    const r = this.r;
    const trailing = this.trailing;
    let hi = 0;
    let lo: number;
    if (n > 32) {
      hi = r.readBits(n - 32);
      lo = r.readBits(32);
    } else {
      lo = r.readBits(n);
    }
    if (trailing >= 32) {
      this.hi = (this.hi ^ (lo << (trailing - 32))) >>> 0;
    } else if (trailing > 0) {
      this.hi = (this.hi ^ ((hi << trailing) | (lo >>> (32 - trailing)))) >>> 0;
      this.lo = (this.lo ^ (lo << trailing)) >>> 0;
    } else {
      this.hi = (this.hi ^ hi) >>> 0;
      this.lo = (this.lo ^ lo) >>> 0;
    }
  }
}

/**
 * Decodes the samples of a chunk up to `untilT` (inclusive; default: all of them). Gorilla's
 * bit stream only reads forward, so a query stops at the first sample past its range instead of
 * decoding the rest of the chunk. Throws ChunkCorruptError on a truncated or damaged chunk.
 */
export function decodeXorChunk(bytes: Uint8Array, untilT = Number.POSITIVE_INFINITY): DecodedChunk {
  const c = new XorCursor(bytes);
  const timestamps: number[] = [];
  const values: number[] = [];
  let stale: Uint8Array | null = null;
  while (c.next() && c.t <= untilT) {
    const i = c.read - 1;
    timestamps.push(c.t);
    values.push(c.value);
    if (c.stale) {
      stale ??= new Uint8Array(c.count);
      stale[i] = 1;
    }
  }
  const n = timestamps.length;
  return { timestamps, values, stale: stale === null || n === c.count ? stale : stale.subarray(0, n) };
}

/** The newest sample at or before `untilT` in a chunk, read without keeping the others; null if none. */
export function xorLatestAtOrBefore(
  bytes: Uint8Array,
  untilT: number,
): { t: number; value: number; stale: boolean } | null {
  const c = new XorCursor(bytes);
  let found = false;
  let t = 0;
  let hi = 0;
  let lo = 0;
  while (c.next() && c.t <= untilT) {
    found = true;
    t = c.t;
    hi = c.hi;
    lo = c.lo;
  }
  return found ? { t, value: bitsValue(hi, lo), stale: isStaleBits(hi, lo) } : null;
}

/** The sample count recorded in a chunk's header (bytes 1-2 in every encoding). */
export function chunkSampleCount(bytes: Uint8Array): number {
  return (bytes[1]! << 8) | bytes[2]!;
}
