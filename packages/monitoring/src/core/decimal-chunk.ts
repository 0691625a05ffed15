// The second chunk encoding, for chunks at rest: a full head chunk is re-encoded this way when
// it seals, if that is smaller than its Gorilla bytes (chunk.ts chooses). Two ideas from
// systems built after Gorilla:
// - Values that are short decimals (23.4, 1250, 0.005) are stored as integers m with one
//   exponent e per chunk, value = m / 10^e, as VictoriaMetrics stores them. The XOR of 23.4 and
//   23.5 has about 45 meaningful bits (both binary mantissas are full); 235 - 234 has one.
// - Each column (timestamps, then mantissas) is frame-of-reference bit-packed, as Parquet's
//   DELTA_BINARY_PACKED is: the first value, then every difference minus the smallest one in
//   the fewest bits that hold the largest. Differences are of first order (deltas: random walks,
//   jittered scrapes) or second order (delta-of-deltas: steady rates), whichever packs smaller.
//   Regular timestamps cost 0 bits a sample, a ±1 s jitter 12 (Gorilla: 1 and 16).
// A chunk with NaN, ±Inf, -0, a staleness marker or a value no decimal of at most 15 places
// writes exactly stays XOR. Byte layout: FORMAT.md.
import { BitReader, BitWriter } from './bits.js';
import { ChunkCorruptError } from './errors.js';
import { chunkSampleCount, type DecodedChunk } from './gorilla.js';

export const CHUNK_DECIMAL = 2;
/** 10^e as literals, so that the encoder's check and the decoder divide by the same exact doubles. */
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15] as const;
const MAX_EXPONENT = POW10.length - 1;
const EXPONENT_BITS = 4;
/** Bit lengths and widths are written in 6 bits; a safe integer has at most 53. */
const LENGTH_BITS = 6;
const MAX_WIDTH = 53;
/** Encoding byte and u16 sample count, as in an XOR chunk. */
const HEADER_BYTES = 3;
const MAX_COUNT = 0xffff;
const TWO_32 = 4294967296;

/** The smallest e with value === round(value * 10^e) / 10^e; null when there is none. */
function decimalExponent(value: number): number | null {
  if (!Number.isFinite(value) || Object.is(value, -0)) return null;
  for (let e = 0; e <= MAX_EXPONENT; e++) {
    const m = Math.round(value * POW10[e]!);
    if (!Number.isSafeInteger(m)) return null;
    if (m / POW10[e]! === value) return e;
  }
  return null;
}

/** The values as integers over one power of ten, or null when one of them is not such a decimal. */
function toMantissas(values: readonly number[]): { exponent: number; mantissas: number[] } | null {
  let exponent = 0;
  for (const v of values) {
    const e = decimalExponent(v);
    if (e === null) return null;
    if (e > exponent) exponent = e;
  }
  const scale = POW10[exponent]!;
  const mantissas = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) {
    const m = Math.round(values[i]! * scale);
    if (!Number.isSafeInteger(m) || m / scale !== values[i]) return null;
    mantissas[i] = m;
  }
  return { exponent, mantissas };
}

function bitLength(x: number): number {
  return x < TWO_32 ? 32 - Math.clz32(x) : 64 - Math.clz32(Math.floor(x / TWO_32));
}

function signedBits(x: number): number {
  return 1 + LENGTH_BITS + bitLength(Math.abs(x));
}

function writeSigned(w: BitWriter, x: number): void {
  const magnitude = Math.abs(x);
  const n = bitLength(magnitude);
  w.writeBit(x < 0 ? 1 : 0);
  w.writeBits(n, LENGTH_BITS);
  w.writeWide(magnitude, n);
}

function readSigned(r: BitReader): number {
  const negative = r.readBit() === 1;
  const n = r.readBits(LENGTH_BITS);
  if (n > MAX_WIDTH) throw new ChunkCorruptError(`a ${n}-bit integer in a decimal chunk`);
  const magnitude = r.readWide(n);
  return negative ? -magnitude : magnitude;
}

/** xs[i+1] - xs[i]; null when one is not a safe integer. */
function differences(xs: readonly number[]): number[] | null {
  const out = new Array<number>(xs.length - 1);
  for (let i = 1; i < xs.length; i++) {
    const d = xs[i]! - xs[i - 1]!;
    if (!Number.isSafeInteger(d)) return null;
    out[i - 1] = d;
  }
  return out;
}

/** A frame: the smallest value and the width every value minus it fits in. */
interface Frame {
  min: number;
  width: number;
  bits: number;
}

function frameOf(xs: readonly number[] | null): Frame | null {
  if (xs === null) return null;
  let min = xs.length > 0 ? xs[0]! : 0;
  let max = min;
  for (const x of xs) {
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const range = max - min;
  if (!Number.isSafeInteger(range)) return null;
  const width = bitLength(range);
  return { min, width, bits: signedBits(min) + LENGTH_BITS + xs.length * width };
}

function writeFrame(w: BitWriter, xs: readonly number[], f: Frame): void {
  writeSigned(w, f.min);
  w.writeBits(f.width, LENGTH_BITS);
  for (const x of xs) w.writeWide(x - f.min, f.width);
}

function readFrame(r: BitReader, n: number): number[] {
  const min = readSigned(r);
  const width = r.readBits(LENGTH_BITS);
  if (width > MAX_WIDTH) throw new ChunkCorruptError(`a ${width}-bit frame in a decimal chunk`);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = min + r.readWide(width);
  return out;
}

/**
 * One column of integers: the first, then a bit for the order (0: deltas, 1: delta-of-deltas,
 * after the first delta) and the frame of those differences. False when no frame fits.
 */
function writeColumn(w: BitWriter, xs: readonly number[]): boolean {
  writeSigned(w, xs[0]!);
  if (xs.length === 1) return true;
  const deltas = differences(xs);
  if (deltas === null) return false;
  const deltaFrame = frameOf(deltas);
  const dods = deltas.length > 1 ? differences(deltas) : null;
  const dodFrame = frameOf(dods);
  const deltaBits = deltaFrame?.bits ?? Number.POSITIVE_INFINITY;
  const dodBits = dodFrame === null ? Number.POSITIVE_INFINITY : signedBits(deltas[0]!) + dodFrame.bits;
  if (dodBits < deltaBits) {
    w.writeBit(1);
    writeSigned(w, deltas[0]!);
    writeFrame(w, dods!, dodFrame!);
    return true;
  }
  if (deltaFrame === null) return false;
  w.writeBit(0);
  writeFrame(w, deltas, deltaFrame);
  return true;
}

/** Reads a column of `n` integers and returns its first `keep`. */
function readColumn(r: BitReader, n: number, keep: number): number[] {
  const out = new Array<number>(keep);
  let x = readSigned(r);
  if (keep > 0) out[0] = x;
  if (n === 1) return out;
  const secondOrder = r.readBit() === 1;
  let delta = secondOrder ? readSigned(r) : 0;
  const diffs = readFrame(r, secondOrder ? n - 2 : n - 1);
  for (let i = 1; i < keep; i++) {
    if (!secondOrder) delta = diffs[i - 1]!;
    else if (i >= 2) delta += diffs[i - 2]!;
    x += delta;
    out[i] = x;
  }
  return out;
}

/** The chunk in the decimal encoding, or null when its values are not all short decimals. */
export function encodeDecimalChunk(
  timestamps: readonly number[],
  values: readonly number[],
): Uint8Array | null {
  const n = timestamps.length;
  if (n === 0 || n > MAX_COUNT || values.length !== n) return null;
  const decimal = toMantissas(values);
  if (decimal === null) return null;
  const w = new BitWriter();
  w.writeBits(CHUNK_DECIMAL, 8);
  w.writeBits(n, 16);
  w.writeBits(decimal.exponent, EXPONENT_BITS);
  if (!writeColumn(w, timestamps) || !writeColumn(w, decimal.mantissas)) return null;
  return w.bytes();
}

/** Decodes the samples up to `untilT` (inclusive); throws ChunkCorruptError on damage. */
export function decodeDecimalChunk(bytes: Uint8Array, untilT = Number.POSITIVE_INFINITY): DecodedChunk {
  if (bytes.length < HEADER_BYTES) throw new ChunkCorruptError('chunk shorter than its header');
  if (bytes[0] !== CHUNK_DECIMAL) throw new ChunkCorruptError(`not a decimal chunk (encoding ${bytes[0]})`);
  const count = chunkSampleCount(bytes);
  if (count === 0) return { timestamps: [], values: [], stale: null };
  const r = new BitReader(bytes, HEADER_BYTES);
  const exponent = r.readBits(EXPONENT_BITS);
  if (exponent > MAX_EXPONENT) throw new ChunkCorruptError(`decimal exponent ${exponent}`);
  const all = readColumn(r, count, count);
  // Timestamps increase, so the samples up to untilT are a prefix.
  let keep = count;
  while (keep > 0 && all[keep - 1]! > untilT) keep--;
  const timestamps = keep === count ? all : all.slice(0, keep);
  const mantissas = readColumn(r, count, keep);
  const scale = POW10[exponent]!;
  const values = new Array<number>(keep);
  for (let i = 0; i < keep; i++) values[i] = mantissas[i]! / scale;
  return { timestamps, values, stale: null };
}
