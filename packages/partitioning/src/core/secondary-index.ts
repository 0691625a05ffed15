// Secondary indexes on a partitioned store (DDIA ch. 6 "Partitioning and Secondary Indexes").
// Values that are JSON objects are indexed by a top-level field:
//   local  (document-partitioned, Figure 6-4): each partition indexes only its own documents,
//          in the same write; a query must ask every partition (scatter/gather);
//   global (term-partitioned, Figure 6-5): the index entries ("postings") for a term live in
//          the partition the term itself hashes (or ranges) to; a query asks one partition, but
//          a write of a document may touch a posting in another partition, so postings are
//          updated asynchronously (the book's "updates to global secondary indexes are often
//          asynchronous", as in DynamoDB).
// A posting is stored as a reserved key of the store, so it is copied, moved and dropped with
// its partition like any key. Reserved keys start with U+0000, which client keys may not.
import { assert } from '@ddia/common/core';
import { splitCompoundKey } from './compound-key.js';

export const INDEX_KINDS = ['local', 'global'] as const;
export type IndexKind = (typeof INDEX_KINDS)[number];

export interface IndexSpec {
  name: string;
  field: string;
  kind: IndexKind;
}

/** The prefix of every reserved (non-client) key. */
export const RESERVED_PREFIX = '\u0000';
const POSTING_PREFIX = '\u0000g\u0000';
const SEP = '\u0000';
/** Index names and fields: short identifiers (they appear in store keys and URLs). */
const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
/** Terms longer than this are not indexed (they would bloat every posting key). */
export const TERM_BYTES_MAX = 256;
/** Values longer than this are not parsed for indexing. */
export const INDEXED_VALUE_BYTES_MAX = 64 * 1024;

/** Parses `--indexes name=field:local,name2=field2:global`; throws a message on bad input. */
export function parseIndexSpecs(text: string): IndexSpec[] {
  const specs: IndexSpec[] = [];
  for (const part of text.split(',').map((s) => s.trim())) {
    if (part === '') continue;
    const match = /^([^=]+)=([^:]+):(local|global)$/.exec(part);
    if (!match) throw new Error(`"${part}" is not name=field:local|global`);
    const [, name, field, kind] = match as unknown as [string, string, string, IndexKind];
    if (!NAME_PATTERN.test(name) || !NAME_PATTERN.test(field))
      throw new Error(`index name and field must match ${NAME_PATTERN.source}, got "${part}"`);
    if (specs.some((s) => s.name === name)) throw new Error(`index "${name}" is declared twice`);
    specs.push({ name, field, kind });
  }
  return specs;
}

export function isReservedKey(key: string): boolean {
  return key.startsWith(RESERVED_PREFIX);
}

/**
 * The index terms of a value: for each index, the field's value as a string when the value is a
 * JSON object with that field holding a string, number or boolean; nothing otherwise.
 */
export function termsOf(indexes: readonly IndexSpec[], value: Uint8Array | null): Map<string, string> {
  const terms = new Map<string, string>();
  if (value === null || indexes.length === 0 || value.length > INDEXED_VALUE_BYTES_MAX) return terms;
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(value));
  } catch {
    return terms;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return terms;
  for (const index of indexes) {
    const field = (doc as Record<string, unknown>)[index.field];
    if (typeof field !== 'string' && typeof field !== 'number' && typeof field !== 'boolean') continue;
    const term = String(field);
    if (term.includes(SEP) || new TextEncoder().encode(term).length > TERM_BYTES_MAX) continue;
    terms.set(index.name, term);
  }
  return terms;
}

/** The reserved key of a global posting: the term's key prefix, then the document's key. */
export function postingKey(index: string, term: string, docKey: string): string {
  return `${postingTermPrefix(index, term)}${docKey}`;
}

/** All postings of one term share this prefix (and so one partition: see partitionKeyOf). */
export function postingTermPrefix(index: string, term: string): string {
  assert(!term.includes(SEP) && !index.includes(SEP), 'index names and terms hold no U+0000');
  return `${POSTING_PREFIX}${index}${SEP}${term}${SEP}`;
}

export function docKeyOfPosting(key: string): string {
  assert(key.startsWith(POSTING_PREFIX), 'not a posting key');
  const parts = key.slice(POSTING_PREFIX.length).split(SEP);
  return parts.slice(2).join(SEP);
}

/**
 * The part of a key that chooses its partition. A plain client key is its own partition key; a
 * compound key's is its first part (compound-key.ts); a posting is partitioned by its index and
 * term only, so every posting of a term is in one partition (the "term-partitioned" index)
 * whatever document it points at. Every key sorts at or after its partition key, and every key
 * with one partition key sorts before the next partition key, so a range boundary placed at a
 * partition key never separates keys that route together (splitter.ts `splitPoint`).
 */
export function partitionKeyOf(key: string): string {
  if (!key.startsWith(POSTING_PREFIX)) return splitCompoundKey(key)?.partitionKey ?? key;
  const rest = key.slice(POSTING_PREFIX.length);
  const first = rest.indexOf(SEP);
  const second = first < 0 ? -1 : rest.indexOf(SEP, first + 1);
  return second < 0 ? key : key.slice(0, POSTING_PREFIX.length + second + 1);
}

/** A posting's value: the document version it reflects, and whether the document has the term. */
export interface Posting {
  version: number;
  live: boolean;
}

export function encodePosting(posting: Posting): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(posting));
}

export function decodePosting(bytes: Uint8Array): Posting {
  return JSON.parse(new TextDecoder().decode(bytes)) as Posting;
}

/** Postings are applied newest-version-wins, so out-of-order or repeated delivery is harmless. */
export function postingSupersedes(incoming: Posting, current: Posting | undefined): boolean {
  return current === undefined || incoming.version > current.version;
}
