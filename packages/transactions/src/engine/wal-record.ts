// What the engine asks the write-ahead log to remember (FORMAT.md describes the bytes).
// Only committed effects are logged, as one record per transaction, so recovery is a
// replay of records in log order: a transaction whose record is not in the log never
// happened (redo-only logging; DDIA ch. 7 "Atomicity", ch. 3 "Making B-trees reliable").
import type { Row } from './expression.js';

export interface WalWrite {
  table: string;
  /** The primary key as encoded by keyOf (JSON). */
  key: string;
  /** The row after the transaction, or null if it deleted the row. */
  row: Row | null;
}

export type WalRecord =
  | { type: 'create-table'; name: string; primaryKey: string }
  | { type: 'drop-table'; name: string }
  | { type: 'commit'; txId: number; writes: WalWrite[] }
  /** Two-phase commit, phase 1: the writes are durable but their fate is not decided yet. */
  | { type: 'prepare'; gid: string; writes: WalWrite[] }
  | { type: 'commit-prepared'; gid: string }
  | { type: 'rollback-prepared'; gid: string };

/** Where commit records go; `append` resolves once the record is durable. */
export interface CommitLog {
  append(record: WalRecord): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeWalRecord(record: WalRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

/** Thrown when a log record is framed correctly (its CRC matched) but is not a record we wrote. */
export class WalRecordError extends Error {
  override name = 'WalRecordError';
}

export function decodeWalRecord(bytes: Uint8Array): WalRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (e) {
    throw new WalRecordError(`WAL record is not JSON: ${(e as Error).message}`);
  }
  const type = (parsed as { type?: unknown })?.type;
  const known = ['create-table', 'drop-table', 'commit', 'prepare', 'commit-prepared', 'rollback-prepared'];
  if (typeof type !== 'string' || !known.includes(type)) {
    throw new WalRecordError(`WAL record has unknown type ${JSON.stringify(type)}`);
  }
  return parsed as WalRecord;
}
