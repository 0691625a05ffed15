// Internal keys: every stored entry is (user key, sequence number, kind). Entries sort by
// user key ascending, then by sequence number descending, so that a seek for (key, seq)
// lands on the newest version visible at `seq` (LevelDB's dbformat.h).

/** Kinds, numbered as LevelDB numbers them (kTypeDeletion = 0, kTypeValue = 1). */
export const KIND_DELETE = 0;
export const KIND_PUT = 1;
export type Kind = typeof KIND_DELETE | typeof KIND_PUT;

/** Sequence numbers are stored in 48 bits (see FORMAT.md: trailer). */
export const SEQ_MAX = 2 ** 48 - 1;
/** A seek target with this sequence sorts after every version of its user key. */
export const SEQ_AFTER_ALL = -1;
/** Bytes appended to a user key to make an internal key: kind (1) + seq (6) + reserved (1). */
export const TRAILER_BYTES = 8;

/** Compares two internal keys given as (user key, seq). */
export function compareInternal(aKey: Uint8Array, aSeq: number, bKey: Uint8Array, bSeq: number): number {
  const c = Buffer.compare(aKey, bKey);
  if (c !== 0) return c;
  return aSeq > bSeq ? -1 : aSeq < bSeq ? 1 : 0;
}

/** Writes the 8-byte trailer at `offset`: the same bytes as LevelDB's (seq << 8 | kind) LE. */
export function writeTrailer(target: Buffer, offset: number, seq: number, kind: number): void {
  target[offset] = kind;
  target.writeUIntLE(seq, offset + 1, 6);
  target[offset + 7] = 0;
}

/** What every internal iterator offers; the merging iterator and the DB iterator build on it. */
export interface InternalIterator {
  valid(): boolean;
  seekToFirst(): void;
  seekToLast(): void;
  /** Positions at the first entry at or after (userKey, seq) in internal order. */
  seek(userKey: Uint8Array, seq: number): void;
  next(): void;
  prev(): void;
  /** The user key; a view valid until the iterator moves. */
  key(): Buffer;
  seq(): number;
  kind(): number;
  /** The value; a view valid until the iterator moves (empty for deletes). */
  value(): Buffer;
}
