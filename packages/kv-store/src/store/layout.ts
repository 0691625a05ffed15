// How the state machine lays its state out in an abstract-level store (FORMAT.md §2). One
// store holds three kinds of record under one-byte prefixes, so that a single atomic batch can
// change a key, its client's session and the applied index together: after a crash the store
// is either before or after a command, never half-way (DDIA ch. 7 "atomicity").

import { readVarint, varintLength, writeVarint } from '@ddia/common';

export const DATA_PREFIX = 0x64; // 'd' + key bytes -> entry record
export const DATA_PREFIX_END = DATA_PREFIX + 1;
export const SESSION_PREFIX = 0x73; // 's' + client id (UTF-8) -> session record (JSON)
export const META_KEY = Uint8Array.of(0x6d); // 'm' -> meta record (JSON)

/** The metadata etcd keeps per key (etcd API guarantees: revisions). */
export interface EntryMeta {
  /** Store revision of the last write to the key: the key's version, its ETag. */
  modRevision: number;
  /** Store revision of the write that created the key (since its last delete). */
  createRevision: number;
  /** Number of writes since creation (etcd's per-key "version"). */
  writes: number;
}

export interface Entry extends EntryMeta {
  value: Uint8Array;
}

export interface StoreMeta {
  revision: number;
  appliedIndex: number;
  appliedTerm: number;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export function dataKey(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out[0] = DATA_PREFIX;
  out.set(key, 1);
  return out;
}

export function sessionKey(clientId: string): Uint8Array {
  const id = textEncoder.encode(clientId);
  const out = new Uint8Array(id.length + 1);
  out[0] = SESSION_PREFIX;
  out.set(id, 1);
  return out;
}

export function encodeEntry(entry: Entry): Uint8Array {
  const size =
    varintLength(entry.modRevision) +
    varintLength(entry.createRevision) +
    varintLength(entry.writes) +
    entry.value.length;
  const out = new Uint8Array(size);
  let offset = writeVarint(out, 0, entry.modRevision);
  offset = writeVarint(out, offset, entry.createRevision);
  offset = writeVarint(out, offset, entry.writes);
  out.set(entry.value, offset);
  return out;
}

export function decodeEntry(bytes: Uint8Array): Entry {
  const mod = readVarint(bytes, 0);
  const create = readVarint(bytes, mod.next);
  const writes = readVarint(bytes, create.next);
  return {
    modRevision: mod.value,
    createRevision: create.value,
    writes: writes.value,
    value: bytes.subarray(writes.next),
  };
}

export function encodeJson(value: unknown): Uint8Array {
  return textEncoder.encode(JSON.stringify(value));
}

export function decodeJson<T>(bytes: Uint8Array): T {
  return JSON.parse(textDecoder.decode(bytes)) as T;
}
