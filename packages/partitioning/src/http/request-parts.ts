// Reading the parts of a client request: the key (with its size limit) and the conditional
// headers (RFC 9110 §13.1: If-Match "<version>" = compare-and-set, If-None-Match: * = create).
import { DdiaError } from '@ddia/common';
import { COMPOUND_SEPARATOR, compoundKey } from '../core/index.js';
import type { Condition } from '../data/partition-store.js';
import { PartErrors } from '../errors.js';

export const KEY_BYTES_MAX_DEFAULT = 1024;
export const VALUE_BYTES_MAX_DEFAULT = 1024 * 1024;

export function parseKey(raw: string | undefined, keyBytesMax: number, what = 'key'): string {
  if (raw === undefined || raw.length === 0) throw new DdiaError(PartErrors.badKey, `the ${what} is empty`);
  // U+0000 separates a compound key's parts, and keys starting with it are the store's own
  // (global index postings): core/compound-key.ts.
  if (raw.includes(COMPOUND_SEPARATOR))
    throw new DdiaError(PartErrors.badKey, `the ${what} may not contain U+0000`);
  const bytes = Buffer.byteLength(raw, 'utf8');
  if (bytes > keyBytesMax) {
    throw new DdiaError(
      PartErrors.keyTooLarge,
      `the ${what} is ${bytes} bytes; the limit is ${keyBytesMax}`,
      {
        keyBytesMax,
      },
    );
  }
  return raw;
}

/**
 * The stored key a request names: the path's key alone, or with `?sort=` the compound key
 * (partition key, sort key). The limit is on the whole stored key, separator included.
 */
export function parseClientKey(raw: string | undefined, sort: unknown, keyBytesMax: number): string {
  if (sort === undefined) return parseKey(raw, keyBytesMax);
  if (typeof sort !== 'string') throw new DdiaError(PartErrors.badKey, 'give one sort key (?sort=) at most');
  const partitionKey = parseKey(raw, keyBytesMax, 'partition key');
  const sortKey = parseKey(sort, keyBytesMax, 'sort key');
  const key = compoundKey(partitionKey, sortKey);
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > keyBytesMax) {
    throw new DdiaError(
      PartErrors.keyTooLarge,
      `the partition key, the sort key and their separator are ${bytes} bytes; the limit is ${keyBytesMax}`,
      { keyBytesMax },
    );
  }
  return key;
}

export function parseCondition(
  headers: Record<string, string | string[] | undefined>,
  isPut: boolean,
): Condition {
  const ifMatch = headers['if-match'];
  const ifNoneMatch = headers['if-none-match'];
  if (Array.isArray(ifMatch) || Array.isArray(ifNoneMatch)) {
    throw new DdiaError(PartErrors.badCondition, 'a conditional header is given twice');
  }
  if (ifMatch !== undefined && ifNoneMatch !== undefined) {
    throw new DdiaError(PartErrors.badCondition, 'send either If-Match or If-None-Match, not both');
  }
  if (ifNoneMatch !== undefined) {
    if (!isPut || ifNoneMatch.trim() !== '*') {
      throw new DdiaError(PartErrors.badCondition, 'only If-None-Match: * on PUT (create only) is supported');
    }
    return { kind: 'absent' };
  }
  if (ifMatch !== undefined) {
    const match = /^\s*"?(\d{1,15})"?\s*$/.exec(ifMatch);
    if (!match)
      throw new DdiaError(
        PartErrors.badCondition,
        `If-Match takes a version such as "12", got ${JSON.stringify(ifMatch)}`,
      );
    return { kind: 'version', version: Number(match[1]) };
  }
  return { kind: 'none' };
}
