// MongoDB wire protocol framing (FORMAT.md §3): a 16-byte header (length, requestID,
// responseTo, opCode, little-endian int32s), then OP_MSG (flag bits, a body section and
// document-sequence sections) or the legacy OP_QUERY that old handshakes use, answered by OP_REPLY.
import { BSON } from 'bson';
import type { Doc } from '../core/values.js';

export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_COMPRESSED = 2012;
export const OP_MSG = 2013;
export const HEADER_BYTES = 16;
/** MongoDB's maxMessageSizeBytes: larger frames close the connection. */
export const MESSAGE_BYTES_MAX = 48_000_000;
const FLAG_CHECKSUM_PRESENT = 1 << 0;
export const FLAG_MORE_TO_COME = 1 << 1;
const KNOWN_FLAGS = FLAG_CHECKSUM_PRESENT | FLAG_MORE_TO_COME | (1 << 16);

/** A frame the protocol cannot parse: the connection is closed, the server keeps running. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

export interface Header {
  length: number;
  requestId: number;
  responseTo: number;
  opCode: number;
}

export type Request =
  | { kind: 'msg'; header: Header; flags: number; command: Doc }
  | { kind: 'query'; header: Header; collection: string; command: Doc };

export function readHeader(bytes: Buffer): Header {
  const header = {
    length: bytes.readInt32LE(0),
    requestId: bytes.readInt32LE(4),
    responseTo: bytes.readInt32LE(8),
    opCode: bytes.readInt32LE(12),
  };
  if (header.length < HEADER_BYTES || header.length > MESSAGE_BYTES_MAX)
    throw new ProtocolError(`message length ${header.length} out of range`);
  return header;
}

function readDocument(bytes: Buffer, at: number, end: number): { doc: Doc; next: number } {
  if (at + 5 > end) throw new ProtocolError('truncated BSON document');
  const size = bytes.readInt32LE(at);
  if (size < 5 || at + size > end) throw new ProtocolError(`BSON document size ${size} out of bounds`);
  try {
    const doc = BSON.deserialize(bytes.subarray(at, at + size)) as Doc;
    return { doc, next: at + size };
  } catch (error) {
    throw new ProtocolError(`invalid BSON: ${(error as Error).message}`);
  }
}

function readCString(bytes: Buffer, at: number, end: number): { text: string; next: number } {
  const zero = bytes.indexOf(0, at);
  if (zero < 0 || zero >= end) throw new ProtocolError('unterminated C string');
  return { text: bytes.toString('utf8', at, zero), next: zero + 1 };
}

/** Parses one whole frame (header included). */
export function parseRequest(frame: Buffer): Request {
  const header = readHeader(frame);
  const end = header.length;
  if (header.opCode === OP_MSG) {
    if (end < HEADER_BYTES + 5) throw new ProtocolError('OP_MSG too short');
    const flags = frame.readUInt32LE(HEADER_BYTES);
    if (flags & 0xffff & ~KNOWN_FLAGS) throw new ProtocolError(`unknown required OP_MSG flag bits ${flags}`);
    const sectionsEnd = flags & FLAG_CHECKSUM_PRESENT ? end - 4 : end;
    let at = HEADER_BYTES + 4;
    let command: Doc | undefined;
    const sequences: [string, Doc[]][] = [];
    while (at < sectionsEnd) {
      const kind = frame[at++];
      if (kind === 0) {
        if (command) throw new ProtocolError('OP_MSG has two body sections');
        const read = readDocument(frame, at, sectionsEnd);
        command = read.doc;
        at = read.next;
      } else if (kind === 1) {
        if (at + 4 > sectionsEnd) throw new ProtocolError('truncated document sequence');
        const size = frame.readInt32LE(at);
        const sectionEnd = at + size;
        if (size < 5 || sectionEnd > sectionsEnd)
          throw new ProtocolError('document sequence size out of bounds');
        const name = readCString(frame, at + 4, sectionEnd);
        const docs: Doc[] = [];
        let p = name.next;
        while (p < sectionEnd) {
          const read = readDocument(frame, p, sectionEnd);
          docs.push(read.doc);
          p = read.next;
        }
        sequences.push([name.text, docs]);
        at = sectionEnd;
      } else throw new ProtocolError(`unknown OP_MSG section kind ${kind}`);
    }
    if (!command) throw new ProtocolError('OP_MSG without a body section');
    for (const [name, docs] of sequences) command[name] = docs;
    return { kind: 'msg', header, flags, command };
  }
  if (header.opCode === OP_QUERY) {
    let at = HEADER_BYTES + 4; // flags
    const name = readCString(frame, at, end);
    at = name.next + 8; // numberToSkip, numberToReturn
    const query = readDocument(frame, at, end);
    return { kind: 'query', header, collection: name.text, command: query.doc };
  }
  throw new ProtocolError(`unsupported opCode ${header.opCode}`);
}

function writeHeader(
  out: Buffer,
  length: number,
  requestId: number,
  responseTo: number,
  opCode: number,
): void {
  out.writeInt32LE(length, 0);
  out.writeInt32LE(requestId, 4);
  out.writeInt32LE(responseTo, 8);
  out.writeInt32LE(opCode, 12);
}

/**
 * A reply already in BSON: a find's first batch made of documents exactly as stored, so they
 * are neither decoded nor encoded again (rawFindReply).
 */
export class RawReply {
  constructor(readonly bytes: Uint8Array) {}
}

const enc = new TextEncoder();
const FIRST_BATCH = enc.encode('firstBatch');
const CURSOR = enc.encode('cursor');
const ID = enc.encode('id');
const NS = enc.encode('ns');
const OK = enc.encode('ok');
/** Array element names "0", "1", ... as bytes, made once for the first batches that replies hold. */
const INDEX_NAMES = Array.from({ length: 1024 }, (_, i) => enc.encode(String(i)));
const indexName = (i: number) => INDEX_NAMES[i] ?? enc.encode(String(i));

/** Writes a BSON element's type byte and name (a C string) at `at`; the position after it. */
function writeName(out: Buffer, at: number, type: number, name: Uint8Array): number {
  out[at] = type;
  out.set(name, at + 1);
  out[at + 1 + name.length] = 0;
  return at + 2 + name.length;
}

/**
 * `{cursor: {firstBatch: [docs], id: 0, ns}, ok: 1}` written by hand around the documents'
 * stored bytes: what encodeMsgReply makes of CursorTable.open's answer for a single batch,
 * byte for byte (the test compares them).
 */
export function rawFindReply(namespace: string, docs: Uint8Array[]): RawReply {
  const ns = enc.encode(namespace);
  let arrayBytes = 4 + 1;
  for (let i = 0; i < docs.length; i++) arrayBytes += 1 + indexName(i).length + 1 + docs[i]!.length;
  // cursor: int32 + (array element) + (id: 0x12 "id\0" int64) + (ns: 0x02 "ns\0" int32 bytes \0) + \0
  const cursorBytes =
    4 + (1 + FIRST_BATCH.length + 1 + arrayBytes) + (1 + 3 + 8) + (1 + 3 + 4 + ns.length + 1) + 1;
  const total = 4 + (1 + CURSOR.length + 1 + cursorBytes) + (1 + 3 + 4) + 1;
  const out = Buffer.allocUnsafe(total);
  out.writeInt32LE(total, 0);
  let at = writeName(out, 4, 0x03, CURSOR);
  out.writeInt32LE(cursorBytes, at);
  at = writeName(out, at + 4, 0x04, FIRST_BATCH);
  out.writeInt32LE(arrayBytes, at);
  at += 4;
  for (let i = 0; i < docs.length; i++) {
    at = writeName(out, at, 0x03, indexName(i));
    out.set(docs[i]!, at);
    at += docs[i]!.length;
  }
  out[at++] = 0;
  at = writeName(out, at, 0x12, ID);
  out.fill(0, at, at + 8); // cursor id 0: the batch is the whole answer
  at = writeName(out, at + 8, 0x02, NS);
  out.writeInt32LE(ns.length + 1, at);
  out.set(ns, at + 4);
  at += 4 + ns.length;
  out[at++] = 0;
  out[at++] = 0; // end of cursor
  at = writeName(out, at, 0x10, OK);
  out.writeInt32LE(1, at);
  out[at + 4] = 0;
  return new RawReply(out);
}

function bodyOf(reply: Doc | RawReply): Uint8Array {
  return reply instanceof RawReply ? reply.bytes : BSON.serialize(reply);
}

export function encodeMsgReply(requestId: number, responseTo: number, reply: Doc | RawReply): Buffer {
  const body = bodyOf(reply);
  const length = HEADER_BYTES + 4 + 1 + body.length;
  // One buffer, one copy of the body: header, flag bits (0), section kind 0, the document.
  const out = Buffer.allocUnsafe(length);
  writeHeader(out, length, requestId, responseTo, OP_MSG);
  out.writeUInt32LE(0, HEADER_BYTES);
  out[HEADER_BYTES + 4] = 0;
  out.set(body, HEADER_BYTES + 5);
  return out;
}

export function encodeOpReply(requestId: number, responseTo: number, reply: Doc | RawReply): Buffer {
  const body = bodyOf(reply);
  const length = HEADER_BYTES + 20 + body.length;
  const out = Buffer.alloc(length);
  writeHeader(out, length, requestId, responseTo, OP_REPLY);
  // responseFlags 0, cursorID (int64) 0, startingFrom 0, numberReturned 1
  out.writeInt32LE(1, HEADER_BYTES + 16);
  out.set(body, HEADER_BYTES + 20);
  return out;
}
