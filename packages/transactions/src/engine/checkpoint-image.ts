// A checkpoint's contents: the committed state of every table and the writes of every
// prepared (in-doubt) transaction, as of one position in the WAL. Recovery loads the image
// and replays only the records from that position on, so restart time follows the size of
// the data, not the length of the history (DDIA ch. 3 "Making B-trees reliable"; PostgreSQL
// and LevelDB checkpoint for the same reason). FORMAT.md describes the bytes.
import type { Row } from './expression.js';
import type { WalWrite } from './wal-record.js';

export interface CheckpointImage {
  /** The first WAL record the image does not contain: replay starts here. */
  walIndex: number;
  tables: { name: string; primaryKey: string; rows: Row[] }[];
  /** Transactions prepared for 2PC and not yet decided, with their writes (as in `prepare`). */
  prepared: { gid: string; writes: WalWrite[] }[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Thrown when a checkpoint's bytes passed their CRC but are not an image we wrote. */
export class CheckpointImageError extends Error {
  override name = 'CheckpointImageError';
}

export function encodeCheckpointImage(image: CheckpointImage): Uint8Array {
  return encoder.encode(JSON.stringify({ type: 'checkpoint', ...image }));
}

export function decodeCheckpointImage(bytes: Uint8Array): CheckpointImage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (e) {
    throw new CheckpointImageError(`checkpoint is not JSON: ${(e as Error).message}`);
  }
  const p = parsed as Partial<CheckpointImage> & { type?: unknown };
  if (
    p?.type !== 'checkpoint' ||
    !Number.isSafeInteger(p.walIndex) ||
    (p.walIndex as number) < 0 ||
    !Array.isArray(p.tables) ||
    !Array.isArray(p.prepared)
  ) {
    throw new CheckpointImageError('checkpoint lacks type "checkpoint", walIndex, tables or prepared');
  }
  return { walIndex: p.walIndex as number, tables: p.tables, prepared: p.prepared };
}
