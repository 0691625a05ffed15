// X-Context: the causal context a client carries between a read and its next write, opaque to
// the client (Riak's X-Riak-Vclock). It is a version vector, JSON, base64url. In single-leader
// mode the vector has one entry, `pos`: the log position the client has seen (sessions).
import { DdiaError } from '@ddia/common';
import { ReplicationErrors } from '../core/errors.js';
import { sortedVector, type VersionVector } from '../core/version-vector.js';

export const CONTEXT_HEADER = 'x-context';
export const CONTEXT_BYTES_MAX = 4 * 1024;
export const CONTEXT_ENTRIES_MAX = 64;
const NODE_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export function encodeContext(vector: VersionVector): string {
  return Buffer.from(JSON.stringify(vector)).toString('base64url');
}

/** The context a request sent, null when none; a malformed one is a 400. */
export function decodeContext(header: string | string[] | undefined): VersionVector | null {
  if (header === undefined || header === '') return null;
  const bad = (why: string) => new DdiaError(ReplicationErrors.badContext, why);
  if (Array.isArray(header)) throw bad('X-Context given more than once');
  if (header.length > CONTEXT_BYTES_MAX) throw bad(`X-Context is longer than ${CONTEXT_BYTES_MAX} bytes`);
  if (!/^[A-Za-z0-9_-]+$/.test(header)) throw bad('X-Context is not base64url');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
  } catch {
    throw bad('X-Context does not decode to a version vector');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw bad('X-Context does not decode to a version vector');
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length > CONTEXT_ENTRIES_MAX)
    throw bad(`X-Context has more than ${CONTEXT_ENTRIES_MAX} entries`);
  for (const [node, counter] of entries) {
    if (!NODE_ID.test(node)) throw bad(`X-Context names a bad replica id '${node.slice(0, 64)}'`);
    if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 0)
      throw bad(`X-Context counter for '${node}' is not a non-negative integer`);
  }
  return sortedVector(parsed as Record<string, number>);
}
