// Compound keys: a partition key and a sort key (Cassandra's partition key + clustering columns,
// DynamoDB's partition key + sort key; DDIA ch. 6 "Partitioning by Hash of Key": "only the first
// part of that key is hashed to determine the partition, but the other columns are used as a
// concatenated index for sorting the data"). The pair is stored as one key,
//   <partition key> U+0000 <sort key>
// and only the partition key chooses the partition (partitionKeyOf), under every scheme, so all
// sort keys of one partition key sit in one partition, next to each other, in sort-key order, and
// a scan of one partition key's sort keys asks one partition. U+0000 is the smallest code unit
// and the smallest UTF-8 byte and client keys may not contain it, so the stored keys sort as the
// pairs do (partition key first, then sort key), in JavaScript string order and in the store's
// byte order alike (test/compound-key.test.ts checks both). Keys that start with U+0000 are the
// store's own (global index postings: secondary-index.ts), never compound.
import { assert } from '@ddia/common/core';

export const COMPOUND_SEPARATOR = '\u0000';

export interface CompoundKey {
  partitionKey: string;
  sortKey: string;
}

/** The stored key of a (partition key, sort key) pair; neither part may hold U+0000. */
export function compoundKey(partitionKey: string, sortKey: string): string {
  assert(partitionKey.length > 0 && sortKey.length > 0, 'both parts of a compound key are non-empty');
  assert(
    !partitionKey.includes(COMPOUND_SEPARATOR) && !sortKey.includes(COMPOUND_SEPARATOR),
    'the parts of a compound key hold no U+0000',
  );
  return `${partitionKey}${COMPOUND_SEPARATOR}${sortKey}`;
}

/** The parts of a stored compound key, or null for a plain key (or a reserved one). */
export function splitCompoundKey(key: string): CompoundKey | null {
  const at = key.indexOf(COMPOUND_SEPARATOR);
  if (at <= 0) return null;
  return { partitionKey: key.slice(0, at), sortKey: key.slice(at + 1) };
}

/**
 * The stored keys [start, end) holding the sort keys of `partitionKey` in [sortStart, sortEnd)
 * ('' = from the first sort key, null = to the last). U+0001 right after the partition key is
 * past every one of its sort keys and before any longer partition key's.
 */
export function sortKeyRange(
  partitionKey: string,
  sortStart: string,
  sortEnd: string | null,
): { start: string; end: string } {
  const prefix = `${partitionKey}${COMPOUND_SEPARATOR}`;
  return {
    start: `${prefix}${sortStart}`,
    end: sortEnd === null ? `${partitionKey}\u0001` : `${prefix}${sortEnd}`,
  };
}
