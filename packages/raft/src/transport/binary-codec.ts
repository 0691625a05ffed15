// The binary encoding of a batch of Raft messages, as they travel on a peer stream (FORMAT.md
// §"Peer stream"). JSON with base64 payloads cost more CPU than the rest of a write's path on
// a small machine; this layout is flat, little-endian and decoded without copying more than the
// entry payloads. Numbers are float64: every index and term is a safe integer, checked on
// decode. Decoding validates every field (a peer's bytes are input): bad input is a
// RaftBadRequestError, never an assertion. Snapshots do not use this codec (they travel in
// chunks, see http-transport.ts).
import { pooledBytes } from '@ddia/common';
import {
  ENTRY_TYPE_CODE,
  ENTRY_TYPES,
  type Entry,
  MESSAGE_TYPE_CODE,
  MESSAGE_TYPES,
  type Message,
} from '../core/types.js';
import { RaftBadRequestError } from '../errors.js';
import { CONTEXT_LENGTH_MAX, NODE_ID_LENGTH_MAX } from './json-codec.js';

const U8 = 1;
const U16 = 2;
const U32 = 4;
const F64 = 8;
/** type, reject, from length, to length, context length, entry count. */
const MESSAGE_FIXED_BYTES = U8 + U8 + U8 + U8 + U16 + U32 + 6 * F64;
/** index, term, type, data length. */
const ENTRY_FIXED_BYTES = F64 + F64 + U8 + U32;

function messageBytes(m: Message): number {
  let n =
    MESSAGE_FIXED_BYTES + Buffer.byteLength(m.from) + Buffer.byteLength(m.to) + Buffer.byteLength(m.context);
  for (const e of m.entries) n += ENTRY_FIXED_BYTES + e.data.length;
  return n;
}

/** Encodes messages into one buffer, leaving `headroom` bytes free at the front (for a frame header). */
export function encodeMessages(messages: readonly Message[], headroom = 0): Buffer {
  let size = headroom + U32;
  for (const m of messages) {
    if (m.type === 'snap') throw new RaftBadRequestError('snapshots do not travel on the message stream');
    size += messageBytes(m);
  }
  const out = Buffer.allocUnsafe(size);
  let at = out.writeUInt32LE(messages.length, headroom);
  for (const m of messages) {
    at = out.writeUInt8(MESSAGE_TYPE_CODE.get(m.type) as number, at);
    at = out.writeUInt8(m.reject ? 1 : 0, at);
    const from = Buffer.byteLength(m.from);
    const to = Buffer.byteLength(m.to);
    const context = Buffer.byteLength(m.context);
    at = out.writeUInt8(from, at);
    at = out.writeUInt8(to, at);
    at = out.writeUInt16LE(context, at);
    at = out.writeUInt32LE(m.entries.length, at);
    at = out.writeDoubleLE(m.term, at);
    at = out.writeDoubleLE(m.logTerm, at);
    at = out.writeDoubleLE(m.index, at);
    at = out.writeDoubleLE(m.commit, at);
    at = out.writeDoubleLE(m.hintIndex, at);
    at = out.writeDoubleLE(m.hintTerm, at);
    at += out.write(m.from, at, 'utf8');
    at += out.write(m.to, at, 'utf8');
    at += out.write(m.context, at, 'utf8');
    for (const e of m.entries) {
      at = out.writeDoubleLE(e.index, at);
      at = out.writeDoubleLE(e.term, at);
      at = out.writeUInt8(ENTRY_TYPE_CODE.get(e.type) as number, at);
      at = out.writeUInt32LE(e.data.length, at);
      out.set(e.data, at);
      at += e.data.length;
    }
  }
  return out;
}

function fail(what: string): never {
  throw new RaftBadRequestError(`malformed Raft message batch: ${what}`);
}

/** A cursor that refuses to read past the end. */
class Reader {
  at = 0;
  constructor(private readonly buf: Buffer) {}

  private need(n: number, what: string): void {
    if (this.at + n > this.buf.length) fail(`${what} runs past the end`);
  }
  u8(what: string): number {
    this.need(U8, what);
    return this.buf.readUInt8(this.at++);
  }
  u16(what: string): number {
    this.need(U16, what);
    const v = this.buf.readUInt16LE(this.at);
    this.at += U16;
    return v;
  }
  u32(what: string): number {
    this.need(U32, what);
    const v = this.buf.readUInt32LE(this.at);
    this.at += U32;
    return v;
  }
  index(what: string): number {
    this.need(F64, what);
    const v = this.buf.readDoubleLE(this.at);
    this.at += F64;
    if (!Number.isSafeInteger(v) || v < 0) fail(`${what} must be a non-negative integer`);
    return v;
  }
  text(n: number, what: string): string {
    this.need(n, what);
    const s = this.buf.toString('utf8', this.at, this.at + n);
    this.at += n;
    return s;
  }
  /** A copy: entries outlive the frame they came in (the log keeps them). Pooled, as
   *  wrapCommand's envelopes are. */
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const b = pooledBytes(n);
    b.set(this.buf.subarray(this.at, this.at + n));
    this.at += n;
    return b;
  }
  get done(): boolean {
    return this.at === this.buf.length;
  }
}

export function decodeMessages(buf: Buffer): Message[] {
  const r = new Reader(buf);
  const count = r.u32('count');
  // Each message takes at least MESSAGE_FIXED_BYTES: a bogus count cannot make us allocate.
  if (count > buf.length / MESSAGE_FIXED_BYTES) fail(`count ${count} does not fit in ${buf.length} bytes`);
  const messages: Message[] = [];
  for (let k = 0; k < count; k++) {
    const type = MESSAGE_TYPES[r.u8('type')];
    if (type === undefined || type === 'snap') fail(`message ${k}: unknown type`);
    const rejectByte = r.u8('reject');
    if (rejectByte > 1) fail(`message ${k}: reject must be 0 or 1`);
    const fromLength = r.u8('from length');
    const toLength = r.u8('to length');
    const contextLength = r.u16('context length');
    const entryCount = r.u32('entry count');
    if (entryCount > buf.length / ENTRY_FIXED_BYTES) fail(`message ${k}: entry count ${entryCount}`);
    const m: Message = {
      type,
      reject: rejectByte === 1,
      term: r.index('term'),
      logTerm: r.index('logTerm'),
      index: r.index('index'),
      commit: r.index('commit'),
      hintIndex: r.index('hintIndex'),
      hintTerm: r.index('hintTerm'),
      from: r.text(fromLength, 'from'),
      to: r.text(toLength, 'to'),
      context: r.text(contextLength, 'context'),
      entries: [],
    };
    if (m.from.length === 0 || m.from.length > NODE_ID_LENGTH_MAX) fail(`message ${k}: from`);
    if (m.to.length === 0 || m.to.length > NODE_ID_LENGTH_MAX) fail(`message ${k}: to`);
    if (m.context.length > CONTEXT_LENGTH_MAX) fail(`message ${k}: context too long`);
    for (let j = 0; j < entryCount; j++) {
      const entry: Entry = {
        index: r.index('entry index'),
        term: r.index('entry term'),
        type: ENTRY_TYPES[r.u8('entry type')] ?? fail(`message ${k} entry ${j}: unknown type`),
        data: new Uint8Array(0),
      };
      entry.data = r.bytes(r.u32('entry length'), 'entry data');
      const expected = j === 0 ? m.index + 1 : (m.entries[j - 1] as Entry).index + 1;
      if (entry.index !== expected) fail(`message ${k}: entries must follow index consecutively`);
      m.entries.push(entry);
    }
    messages.push(m);
  }
  if (!r.done) fail(`${buf.length - r.at} trailing bytes`);
  return messages;
}
