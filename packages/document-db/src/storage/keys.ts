// Where everything lives in the key-value store (FORMAT.md): the catalog, each collection's
// documents, and each index's entries, as separate key ranges of one ordered store.
import { concatBytes, encodeValue, HIGH } from '../core/key-encoding.js';

const CATALOG = 0x63; // 'c'
const DOCS = 0x64; // 'd'
const INDEX = 0x69; // 'i'
const utf8 = new TextEncoder();

function u32(n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/** `c` + namespace: the collection's catalog entry (JSON). */
export function catalogKey(namespace: string): Uint8Array {
  return concatBytes(Uint8Array.of(CATALOG), utf8.encode(namespace));
}
export const CATALOG_RANGE = { gte: Uint8Array.of(CATALOG), lt: Uint8Array.of(CATALOG + 1) };
/** Next collection/index id: ids are never reused, so leftovers of a crash mid-drop are inert. */
export const COUNTER_KEY = Uint8Array.of(0x00, 0x6e);
/**
 * Written (empty) with sync after a write's unsynced batches, to make them durable before the
 * write is acknowledged; concurrent writers' markers share one fsync (group commit). No range
 * reads it.
 */
export const SYNC_KEY = Uint8Array.of(0x00, 0x73);

/** `d` + collection id + encoded _id: a document's BSON (the brief's `coll/<_id>`). */
export function docKey(collectionId: number, id: unknown): Uint8Array {
  return concatBytes(Uint8Array.of(DOCS), u32(collectionId), encodeValue(id));
}
export function docRange(collectionId: number): { gte: Uint8Array; lt: Uint8Array } {
  const prefix = concatBytes(Uint8Array.of(DOCS), u32(collectionId));
  return { gte: prefix, lt: concatBytes(prefix, Uint8Array.of(HIGH)) };
}

/** `i` + collection id + index id: every entry of one index starts so. */
export function indexPrefix(collectionId: number, indexId: number): Uint8Array {
  return concatBytes(Uint8Array.of(INDEX), u32(collectionId), u32(indexId));
}
/** An index entry: prefix + encoded field values + encoded _id (so equal keys stay distinct). */
export function indexEntryKey(prefix: Uint8Array, fieldKey: Uint8Array, id: unknown): Uint8Array {
  return concatBytes(prefix, fieldKey, encodeValue(id));
}
export function prefixRange(prefix: Uint8Array): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: prefix, lt: concatBytes(prefix, Uint8Array.of(HIGH)) };
}
