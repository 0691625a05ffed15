// The JSON codec: the encoding of a Raft message, with entry payloads and snapshot bytes in base64: what
// a snapshot chunk carries (POST /raft/snapshot), readable with curl and in logs. Everything
// else travels on the peer streams in binary (binary-codec.ts); FORMAT.md describes both. Decoding validates every field: a peer's bytes are input, and
// bad input is a RaftBadRequestError (400), never an assertion.
import {
  type ConfState,
  ENTRY_TYPE_CODE,
  type Entry,
  type EntryType,
  MESSAGE_TYPE_CODE,
  type Message,
  type MessageType,
  type Snapshot,
} from '../core/types.js';
import { RaftBadRequestError } from '../errors.js';

export const NODE_ID_LENGTH_MAX = 128;
export const CONTEXT_LENGTH_MAX = 256;

export interface WireEntry {
  i: number;
  t: number;
  y: EntryType;
  d: string;
}

export interface WireMessage {
  type: MessageType;
  from: string;
  to: string;
  term: number;
  logTerm: number;
  index: number;
  entries: WireEntry[];
  commit: number;
  reject: boolean;
  hintIndex: number;
  hintTerm: number;
  context: string;
  /** Snapshot metadata only: the bytes travel in chunks (see http-transport.ts). */
  snapshotMeta?: { index: number; term: number; conf: ConfState };
}

export function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function base64ToBytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

export function encodeMessage(m: Message): WireMessage {
  const w: WireMessage = {
    type: m.type,
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map((e) => ({ i: e.index, t: e.term, y: e.type, d: bytesToBase64(e.data) })),
    commit: m.commit,
    reject: m.reject,
    hintIndex: m.hintIndex,
    hintTerm: m.hintTerm,
    context: m.context,
  };
  if (m.snapshot) w.snapshotMeta = m.snapshot.meta;
  return w;
}

function fail(what: string): never {
  throw new RaftBadRequestError(`malformed Raft message: ${what}`);
}

function index(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    fail(`${what} must be a non-negative integer`);
  return v;
}

function id(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > NODE_ID_LENGTH_MAX)
    fail(`${what} must be a node id`);
  return v;
}

function conf(v: unknown): ConfState {
  if (typeof v !== 'object' || v === null || !Array.isArray((v as ConfState).members)) fail('conf.members');
  return {
    members: (v as ConfState).members.map((m, i) => {
      if (typeof m !== 'object' || m === null) fail(`conf.members[${i}]`);
      if (m.url !== undefined && typeof m.url !== 'string') fail(`conf.members[${i}].url`);
      if (typeof m.voter !== 'boolean') fail(`conf.members[${i}].voter`);
      return { id: id(m.id, `conf.members[${i}].id`), url: m.url, voter: m.voter };
    }),
  };
}

/** Decodes one message; `snapshotData` supplies the reassembled bytes of a 'snap'. */
export function decodeMessage(raw: unknown, snapshotData?: Uint8Array): Message {
  if (typeof raw !== 'object' || raw === null) fail('not an object');
  const w = raw as Partial<WireMessage>;
  if (!MESSAGE_TYPE_CODE.has(w.type as string)) fail(`unknown type ${JSON.stringify(w.type)}`);
  if (!Array.isArray(w.entries)) fail('entries must be an array');
  if (typeof w.reject !== 'boolean') fail('reject must be a boolean');
  if (typeof w.context !== 'string' || w.context.length > CONTEXT_LENGTH_MAX) fail('context');
  const entries: Entry[] = w.entries.map((e: Partial<WireEntry>, k) => {
    if (typeof e !== 'object' || e === null) fail(`entries[${k}]`);
    if (!ENTRY_TYPE_CODE.has(e.y as string)) fail(`entries[${k}].y`);
    if (typeof e.d !== 'string') fail(`entries[${k}].d`);
    return {
      index: index(e.i, `entries[${k}].i`),
      term: index(e.t, `entries[${k}].t`),
      type: e.y as EntryType,
      data: base64ToBytes(e.d),
    };
  });
  const m: Message = {
    type: w.type as MessageType,
    from: id(w.from, 'from'),
    to: id(w.to, 'to'),
    term: index(w.term, 'term'),
    logTerm: index(w.logTerm, 'logTerm'),
    index: index(w.index, 'index'),
    entries,
    commit: index(w.commit, 'commit'),
    reject: w.reject,
    hintIndex: index(w.hintIndex, 'hintIndex'),
    hintTerm: index(w.hintTerm, 'hintTerm'),
    context: w.context,
  };
  for (let k = 1; k < entries.length; k++) {
    if (entries[k].index !== entries[k - 1].index + 1) fail('entries must have consecutive indexes');
  }
  if (entries.length > 0 && entries[0].index !== m.index + 1) fail('entries must follow index');
  if (m.type === 'snap') {
    if (!w.snapshotMeta || !snapshotData) fail('snap without snapshot');
    const meta = w.snapshotMeta;
    const snapshot: Snapshot = {
      meta: {
        index: index(meta.index, 'snapshot.index'),
        term: index(meta.term, 'snapshot.term'),
        conf: conf(meta.conf),
      },
      data: snapshotData,
    };
    m.snapshot = snapshot;
  }
  return m;
}
