// The commands the replicated log carries. Raft never looks inside them (they are opaque
// bytes to @ddia/raft); the state machine decodes and applies them in log order on every
// replica, so the encoding must be exact and deterministic. Byte layout: FORMAT.md §1.

import { pooledBytes, readVarint, varintLength, writeVarint } from '@ddia/common';

export const COMMAND_FORMAT_VERSION = 1;

/** etcd-style guard on a write: none, "the key's current version is N", "the key is absent",
 *  "the key exists" (If-Match: *), or "the version is one of these" (an If-Match list; empty
 *  when no tag in it can name a version of ours, so the condition is false on every replica). */
export type Condition =
  | { kind: 'none' }
  | { kind: 'version'; version: number }
  | { kind: 'absent' }
  | { kind: 'present' }
  | { kind: 'anyOf'; versions: number[] };

/** Identifies a client request for at-most-once execution (MIT 6.5840 kvraft's client sessions). */
export interface SessionRef {
  clientId: string;
  seq: number;
}

export type Command =
  | { op: 'put'; key: Uint8Array; value: Uint8Array; condition: Condition; session?: SessionRef }
  | { op: 'delete'; key: Uint8Array; condition: Condition; session?: SessionRef };

/** A command that cannot be decoded: the log is damaged or was written by another program. */
export class CommandFormatError extends Error {
  override name = 'CommandFormatError';
}

const OP_CODES = { put: 1, delete: 2 } as const;
const CONDITION_CODES = { none: 0, version: 1, absent: 2, present: 3, anyOf: 4 } as const;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

export function encodeCommand(command: Command): Uint8Array {
  const clientId = command.session ? textEncoder.encode(command.session.clientId) : new Uint8Array(0);
  const value = command.op === 'put' ? command.value : new Uint8Array(0);
  const condition = command.condition;
  const size =
    3 +
    conditionLength(condition) +
    varintLength(clientId.length) +
    clientId.length +
    (command.session ? varintLength(command.session.seq) : 0) +
    varintLength(command.key.length) +
    command.key.length +
    value.length;
  // Pooled: the Raft envelope copies it at once. The check below proves every byte was written.
  const out = pooledBytes(size);
  out[0] = COMMAND_FORMAT_VERSION;
  out[1] = OP_CODES[command.op];
  out[2] = CONDITION_CODES[condition.kind];
  let offset = 3;
  if (condition.kind === 'version') offset = writeVarint(out, offset, condition.version);
  if (condition.kind === 'anyOf') {
    offset = writeVarint(out, offset, condition.versions.length);
    for (const version of condition.versions) offset = writeVarint(out, offset, version);
  }
  offset = writeVarint(out, offset, clientId.length);
  out.set(clientId, offset);
  offset += clientId.length;
  if (command.session) offset = writeVarint(out, offset, command.session.seq);
  offset = writeVarint(out, offset, command.key.length);
  out.set(command.key, offset);
  offset += command.key.length;
  out.set(value, offset);
  offset += value.length;
  if (offset !== size) throw new CommandFormatError(`encoded ${offset} bytes, planned ${size}`);
  return out;
}

function conditionLength(condition: Condition): number {
  if (condition.kind === 'version') return varintLength(condition.version);
  if (condition.kind !== 'anyOf') return 0;
  let bytes = varintLength(condition.versions.length);
  for (const version of condition.versions) bytes += varintLength(version);
  return bytes;
}

export function decodeCommand(bytes: Uint8Array): Command {
  if (bytes.length < 3) throw new CommandFormatError(`command of ${bytes.length} bytes is too short`);
  if (bytes[0] !== COMMAND_FORMAT_VERSION)
    throw new CommandFormatError(`unknown command format version ${bytes[0]}`);
  try {
    let offset = 3;
    let condition: Condition;
    switch (bytes[2]) {
      case CONDITION_CODES.none:
        condition = { kind: 'none' };
        break;
      case CONDITION_CODES.version: {
        const v = readVarint(bytes, offset);
        offset = v.next;
        condition = { kind: 'version', version: v.value };
        break;
      }
      case CONDITION_CODES.absent:
        condition = { kind: 'absent' };
        break;
      case CONDITION_CODES.present:
        condition = { kind: 'present' };
        break;
      case CONDITION_CODES.anyOf: {
        const count = readVarint(bytes, offset);
        offset = count.next;
        if (count.value > bytes.length)
          throw new CommandFormatError(`${count.value} versions in a short command`);
        const versions: number[] = [];
        for (let i = 0; i < count.value; i++) {
          const v = readVarint(bytes, offset);
          offset = v.next;
          versions.push(v.value);
        }
        condition = { kind: 'anyOf', versions };
        break;
      }
      default:
        throw new CommandFormatError(`unknown condition code ${bytes[2]}`);
    }
    const idLength = readVarint(bytes, offset);
    offset = idLength.next;
    let session: SessionRef | undefined;
    if (idLength.value > 0) {
      const clientId = textDecoder.decode(bytes.subarray(offset, offset + idLength.value));
      offset += idLength.value;
      const seq = readVarint(bytes, offset);
      offset = seq.next;
      session = { clientId, seq: seq.value };
    }
    const keyLength = readVarint(bytes, offset);
    offset = keyLength.next;
    if (offset + keyLength.value > bytes.length) throw new CommandFormatError('key runs past the end');
    const key = bytes.slice(offset, offset + keyLength.value);
    offset += keyLength.value;
    const base = session ? { key, condition, session } : { key, condition };
    switch (bytes[1]) {
      case OP_CODES.put:
        return { op: 'put', ...base, value: bytes.slice(offset) };
      case OP_CODES.delete:
        if (offset !== bytes.length) throw new CommandFormatError('trailing bytes after a delete');
        return { op: 'delete', ...base };
      default:
        throw new CommandFormatError(`unknown op code ${bytes[1]}`);
    }
  } catch (err) {
    if (err instanceof CommandFormatError) throw err;
    throw new CommandFormatError(`malformed command: ${(err as Error).message}`);
  }
}
