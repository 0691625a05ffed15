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
const ETAG_PATTERN = /^"(\d{1,15})"$|^(\d{1,15})$/;

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
  if (ifMatch !== undefined) {
    const match = ETAG_PATTERN.exec(ifMatch);
    if (!match) {
      throw new DdiaError(
        KvErrors.badCondition,
        `If-Match takes one version ETag such as "12" (from a GET or PUT), got ${JSON.stringify(ifMatch)}`,
      );
    }
    return { kind: 'version', version: Number(match[1] ?? match[2]) };
  }
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
