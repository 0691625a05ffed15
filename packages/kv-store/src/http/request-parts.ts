// Reading the parts of an HTTP request that become a command: the key, the conditional
// headers (RFC 9110 §13.1: If-Match / If-None-Match) and the client session headers.
// Bad input is answered with a 4xx problem, never an assertion.

import { DdiaError } from '@ddia/common';
import { KvErrors } from '../errors.js';
import type { Condition, SessionRef } from '../store/command.js';

export const KEY_BYTES_MAX_DEFAULT = 4 * 1024;
export const VALUE_BYTES_MAX_DEFAULT = 1024 * 1024;
export const CLIENT_ID_CHARS_MAX = 128;
const CLIENT_ID_PATTERN = /^[A-Za-z0-9_.:-]+$/;
/** RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text. */
const ENTITY_TAG_PATTERN = /^(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"$/;
/** Our versions as tags: "12". A bare 12 is accepted too: clients written against the unquoted form keep working. */
const VERSION_TAG_PATTERN = /^\d{1,15}$/;
/** A longer If-Match list is refused rather than carried through the log. */
export const IF_MATCH_TAGS_MAX = 16;

const textEncoder = new TextEncoder();

type HeaderValue = string | string[] | undefined;

function single(
  name: string,
  value: HeaderValue,
  spec: typeof KvErrors.badCondition | typeof KvErrors.badSession,
) {
  if (Array.isArray(value)) throw new DdiaError(spec, `${name} given ${value.length} times`);
  return value;
}

export function parseKey(raw: string | undefined, keyBytesMax: number, what = 'key'): Uint8Array {
  if (raw === undefined || raw.length === 0) throw new DdiaError(KvErrors.badKey, `the ${what} is empty`);
  const bytes = textEncoder.encode(raw);
  if (bytes.length > keyBytesMax) {
    throw new DdiaError(
      KvErrors.keyTooLarge,
      `the ${what} is ${bytes.length} bytes; the limit is ${keyBytesMax}`,
      {
        keyBytesMax,
      },
    );
  }
  return bytes;
}

/** If-Match: "<version>" is compare-and-set; If-None-Match: * is create-only. */
export function parseCondition(headers: Record<string, HeaderValue>, allowCreateOnly: boolean): Condition {
  const ifMatch = single('If-Match', headers['if-match'], KvErrors.badCondition)?.trim();
  const ifNoneMatch = single('If-None-Match', headers['if-none-match'], KvErrors.badCondition)?.trim();
  if (ifMatch !== undefined && ifNoneMatch !== undefined) {
    throw new DdiaError(KvErrors.badCondition, 'send either If-Match or If-None-Match, not both');
  }
  if (ifMatch !== undefined) return parseIfMatch(ifMatch);
  if (ifNoneMatch !== undefined) {
    if (!allowCreateOnly)
      throw new DdiaError(KvErrors.badCondition, 'If-None-Match is only meaningful on PUT');
    if (ifNoneMatch !== '*') {
      throw new DdiaError(
        KvErrors.badCondition,
        `only If-None-Match: * (create only) is supported, got ${ifNoneMatch}`,
      );
    }
    return { kind: 'absent' };
  }
  return { kind: 'none' };
}

/**
 * If-Match (RFC 9110 §13.1.1): `*` or a list of entity tags. A well-formed tag that is not one
 * of our versions (an opaque "no-such-version", or a weak W/"3", which If-Match's strong
 * comparison never matches) is a condition that is false, answered 412 by the state machine
 * with the current version; only a header that is not entity-tag syntax is a 400.
 */
function parseIfMatch(header: string): Condition {
  if (header === '*') return { kind: 'present' };
  const tags = header.split(',').map((tag) => tag.trim());
  if (tags.length > IF_MATCH_TAGS_MAX) {
    throw new DdiaError(
      KvErrors.badCondition,
      `If-Match lists ${tags.length} tags; the limit is ${IF_MATCH_TAGS_MAX}`,
    );
  }
  const versions: number[] = [];
  for (const tag of tags) {
    if (VERSION_TAG_PATTERN.test(tag)) {
      versions.push(Number(tag));
      continue;
    }
    const match = ENTITY_TAG_PATTERN.exec(tag);
    if (!match) {
      throw new DdiaError(
        KvErrors.badCondition,
        `If-Match takes * or entity tags such as "12" (from a GET or PUT), got ${JSON.stringify(header)}`,
      );
    }
    const weak = match[1] !== undefined;
    if (!weak && VERSION_TAG_PATTERN.test(match[2])) versions.push(Number(match[2]));
  }
  return versions.length === 1 ? { kind: 'version', version: versions[0] } : { kind: 'anyOf', versions };
}

/** X-Client-Id + X-Request-Seq make a retried write apply at most once. Both or neither. */
export function parseSession(headers: Record<string, HeaderValue>): SessionRef | undefined {
  const clientId = single('X-Client-Id', headers['x-client-id'], KvErrors.badSession);
  const seqText = single('X-Request-Seq', headers['x-request-seq'], KvErrors.badSession);
  if (clientId === undefined && seqText === undefined) return undefined;
  if (clientId === undefined || seqText === undefined) {
    throw new DdiaError(KvErrors.badSession, 'X-Client-Id and X-Request-Seq go together');
  }
  if (clientId.length > CLIENT_ID_CHARS_MAX || !CLIENT_ID_PATTERN.test(clientId)) {
    throw new DdiaError(
      KvErrors.badSession,
      `X-Client-Id must be 1-${CLIENT_ID_CHARS_MAX} characters of A-Z a-z 0-9 _ . : -`,
    );
  }
  if (!/^\d{1,15}$/.test(seqText) || Number(seqText) < 1) {
    throw new DdiaError(
      KvErrors.badSession,
      `X-Request-Seq must be a positive integer, got ${JSON.stringify(seqText)}`,
    );
  }
  return { clientId, seq: Number(seqText) };
}
