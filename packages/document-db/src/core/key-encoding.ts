// An order-preserving byte encoding of BSON values for index keys: comparing two encodings
// byte by byte (memcmp, as the LSM engine does) gives the same answer as MongoDB's comparison
// of the values across types (values.ts). DDIA ch. 3, "secondary indexes": the index is just
// another sorted key range of the same store. Layout in FORMAT.md.
import { bsonTag, bytesOf, type Doc, isDate, numberOf, regexParts, TypeOrder, typeOrder } from './values.js';

/** First byte of each encoded value: its type bracket, spaced so descending inversion stays distinct. */
const TYPE_BYTE: Record<number, number> = {
  [TypeOrder.minKey]: 0x01,
  [TypeOrder.null]: 0x05,
  [TypeOrder.number]: 0x10,
  [TypeOrder.string]: 0x14,
  [TypeOrder.object]: 0x18,
  [TypeOrder.array]: 0x1c,
  [TypeOrder.binary]: 0x20,
  [TypeOrder.objectId]: 0x24,
  [TypeOrder.boolean]: 0x28,
  [TypeOrder.date]: 0x2c,
  [TypeOrder.timestamp]: 0x30,
  [TypeOrder.regex]: 0x34,
  [TypeOrder.maxKey]: 0x3c,
};
/** Ends a variable-length part (strings, documents, arrays); below every type byte. */
const END = 0x00;
/** Above every first byte of an encoded value: `prefix + [HIGH]` bounds everything starting with prefix. */
export const HIGH = 0xff;
const utf8 = new TextEncoder();

export function typeByte(order: number): number {
  return TYPE_BYTE[order]!;
}

/** One double's bytes at a time (encoding is synchronous): no allocation per number. */
const SCRATCH_BYTES = new Uint8Array(8);
const SCRATCH_VIEW = new DataView(SCRATCH_BYTES.buffer);
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Bytes a writer starts with; it doubles when a value needs more. */
const WRITER_START_BYTES = 64;

/**
 * Appends bytes to one growing buffer (no per-byte array of numbers, no spread): index keys
 * are encoded for every index of every written document and for every bound the planner makes.
 */
class ByteWriter {
  private buf = new Uint8Array(WRITER_START_BYTES);
  length = 0;
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    bigger.set(this.buf.subarray(0, this.length));
    this.buf = bigger;
  }
  byte(value: number): void {
    this.room(1);
    this.buf[this.length++] = value;
  }
  bytes(values: Uint8Array): void {
    this.room(values.length);
    this.buf.set(values, this.length);
    this.length += values.length;
  }
  /** A string with 0x00 escaped as 0x00 0x01, terminated by 0x00 0x00: prefix-free and order-preserving. */
  string(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit; escapes at most double that.
    this.room(text.length * 6 + 2);
    let ascii = true;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0 || c > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      for (let i = 0; i < text.length; i++) this.buf[this.length++] = text.charCodeAt(i);
    } else {
      for (const byte of utf8.encode(text)) {
        if (byte === 0) {
          this.buf[this.length++] = 0;
          this.buf[this.length++] = 1;
        } else this.buf[this.length++] = byte;
      }
    }
    this.buf[this.length++] = 0;
    this.buf[this.length++] = 0;
  }
  /** A double in 8 bytes whose unsigned order is the numeric order (sign flipped, negatives inverted). */
  double(n: number): void {
    SCRATCH_VIEW.setFloat64(0, n === 0 ? 0 : n);
    const raw = SCRATCH_BYTES;
    const negative = (raw[0]! & 0x80) !== 0;
    this.room(8);
    for (let i = 0; i < 8; i++)
      this.buf[this.length++] = negative ? ~raw[i]! & 0xff : i === 0 ? raw[i]! ^ 0x80 : raw[i]!;
  }
  uint32(n: number): void {
    this.room(4);
    this.buf[this.length++] = (n >>> 24) & 0xff;
    this.buf[this.length++] = (n >>> 16) & 0xff;
    this.buf[this.length++] = (n >>> 8) & 0xff;
    this.buf[this.length++] = n & 0xff;
  }
  /** The bytes written, in a buffer of their own. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function writeValue(w: ByteWriter, value: unknown): void {
  const order = typeOrder(value);
  w.byte(TYPE_BYTE[order]!);
  switch (order) {
    case TypeOrder.minKey:
    case TypeOrder.maxKey:
    case TypeOrder.null:
      return;
    case TypeOrder.number: {
      const n = numberOf(value)!;
      // NaN sorts below every number.
      if (Number.isNaN(n)) w.byte(0x00);
      else {
        w.byte(0x01);
        w.double(n);
      }
      return;
    }
    case TypeOrder.string:
      w.string(String(value));
      return;
    case TypeOrder.object: {
      // Field by field: the value's type, the name, the value (the order of values.ts compareDocs).
      const doc = (bsonTag(value) === undefined ? value : {}) as Doc;
      for (const key of Object.keys(doc)) {
        w.byte(TYPE_BYTE[typeOrder(doc[key])]!);
        w.string(key);
        writeValue(w, doc[key]);
      }
      w.byte(END);
      return;
    }
    case TypeOrder.array:
      for (const element of value as unknown[]) writeValue(w, element);
      w.byte(END);
      return;
    case TypeOrder.binary: {
      const bytes = bytesOf(value);
      w.uint32(bytes.length);
      w.byte((value as { sub_type: number }).sub_type & 0xff);
      w.bytes(bytes);
      return;
    }
    case TypeOrder.objectId:
      w.bytes(bytesOf(value));
      return;
    case TypeOrder.boolean:
      w.byte(value ? 1 : 0);
      return;
    case TypeOrder.date:
      w.double(isDate(value) ? value.getTime() : 0);
      return;
    case TypeOrder.timestamp: {
      const t = value as { t: number; i: number };
      w.uint32(t.t);
      w.uint32(t.i);
      return;
    }
    case TypeOrder.regex: {
      const { pattern, flags } = regexParts(value);
      w.string(pattern);
      w.string(flags);
      return;
    }
    default:
      return;
  }
}

/** One value's encoding; inverted (every byte complemented) for a descending index field. */
export function encodeValue(value: unknown, direction: 1 | -1 = 1): Uint8Array {
  const w = new ByteWriter();
  writeValue(w, value);
  const bytes = w.finish();
  if (direction === -1) for (let i = 0; i < bytes.length; i++) bytes[i] = ~bytes[i]! & 0xff;
  return bytes;
}

/**
 * Every encoding of a type bracket lies in [lo, hi): lo is the bracket's type byte, hi the next
 * byte (the type byte is inverted for a descending field).
 */
export function typeRange(order: number, direction: 1 | -1 = 1): { lo: Uint8Array; hi: Uint8Array } {
  const t = direction === 1 ? TYPE_BYTE[order]! : ~TYPE_BYTE[order]! & 0xff;
  return { lo: Uint8Array.of(t), hi: Uint8Array.of(t + 1) };
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!]!;
  return out;
}
