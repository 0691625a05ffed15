// WAL checkpoints: the committed state written to `<data-dir>/checkpoint` beside the WAL
// position it covers, then the WAL segments behind that position deleted. Restart loads the
// checkpoint and replays only the WAL after it (FORMAT.md, "Checkpoint").
//
// The order is what makes a cut anywhere safe:
//   1. image + position, taken synchronously (no commit can fall between them);
//   2. the WAL synced up to that position (so the checkpoint never covers a record that a
//      power cut could still take back);
//   3. the file written with write-then-rename and fsyncs (writeFileAtomic): a crash leaves
//      the old checkpoint or the new one, never a mix;
//   4. only then the old segments dropped: until the new checkpoint is durable, the old one
//      still needs them.
import { join } from 'node:path';
import {
  CorruptionError,
  crc32c,
  encodeRecords,
  errorCode,
  type FileSystem,
  type Log,
  maskCrc,
  RECORD_HEADER_BYTES,
  writeFileAtomic,
} from '@ddia/common';
import {
  type CheckpointImage,
  CheckpointImageError,
  decodeCheckpointImage,
  encodeCheckpointImage,
} from '../engine/checkpoint-image.js';
import type { Database } from '../engine/database.js';

export const CHECKPOINT_FILE = 'checkpoint';
/** Sync point prefix of the checkpoint's writeFileAtomic (`.file`, `.dir`). */
export const CHECKPOINT_SYNC = 'tx.checkpoint';
/**
 * A checkpoint starts once the WAL has grown this much since the last one, or twice the last
 * image's size if that is more, so that writing images costs at most about half the WAL
 * bandwidth however large the tables are (PostgreSQL's max_wal_size plays this role).
 */
export const CHECKPOINT_WAL_BYTES_DEFAULT = 32 * 1024 * 1024;
/** WAL segment size: a checkpoint can delete only whole segments behind it. */
export const WAL_SEGMENT_BYTES = 8 * 1024 * 1024;
/** writeFileAtomic's temp files are named `.<name>.<pid>.<ms>.<n>.tmp`; a crash can leave one. */
const TEMP_FILE = /^\.checkpoint\..*\.tmp$/;

export class CheckpointCorruptError extends CorruptionError {
  override name = 'CheckpointCorruptError';
  constructor(file: string, reason: string) {
    super('DDIA_ERR_TX_CORRUPT_CHECKPOINT', 'checkpoint', file, null, reason);
  }
}

export interface CheckpointStats {
  walIndex: number;
  bytes: number;
  rows: number;
}

/** The file's bytes: one record framed as the log frames them (length, CRC32C, header CRC). */
export function encodeCheckpointFile(image: CheckpointImage): Uint8Array {
  return encodeRecords([encodeCheckpointImage(image)]);
}

export function decodeCheckpointFile(file: string, bytes: Uint8Array): CheckpointImage {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < RECORD_HEADER_BYTES) throw new CheckpointCorruptError(file, 'shorter than its header');
  const length = buffer.readUInt32LE(0);
  if (maskCrc(crc32c(buffer.subarray(0, 8))) !== buffer.readUInt32LE(8))
    throw new CheckpointCorruptError(file, 'header CRC mismatch');
  if (length !== buffer.length - RECORD_HEADER_BYTES)
    throw new CheckpointCorruptError(file, `header says ${length} bytes, file holds ${buffer.length - 12}`);
  const payload = buffer.subarray(RECORD_HEADER_BYTES);
  if (maskCrc(crc32c(payload)) !== buffer.readUInt32LE(4))
    throw new CheckpointCorruptError(file, 'payload CRC mismatch');
  try {
    return decodeCheckpointImage(payload);
  } catch (e) {
    if (e instanceof CheckpointImageError) throw new CheckpointCorruptError(file, e.message);
    throw e;
  }
}

/** The newest checkpoint of `dataDir`, or null when none was ever written; removes stale temp files. */
export async function readCheckpoint(fs: FileSystem, dataDir: string): Promise<CheckpointImage | null> {
  for (const name of await fs.readdir(dataDir))
    if (TEMP_FILE.test(name)) await fs.unlink(join(dataDir, name));
  const path = join(dataDir, CHECKPOINT_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return null;
    throw e;
  }
  return decodeCheckpointFile(path, bytes);
}

export interface CheckpointerOptions {
  db: Database;
  log: Log;
  fs: FileSystem;
  dataDir: string;
  /** WAL growth that starts a checkpoint; 0 turns automatic checkpoints off. */
  walBytes: number;
  /** A background checkpoint failed (the old checkpoint and the WAL still hold everything). */
  onError?: (e: unknown) => void;
}

/** Counts WAL bytes and takes a checkpoint when enough have accumulated, one at a time. */
export class Checkpointer {
  private bytesSince = 0;
  private lastImageBytes = 0;
  private running: Promise<CheckpointStats> | null = null;

  constructor(private readonly options: CheckpointerOptions) {}

  /** Called for every WAL append. */
  noteAppended(bytes: number): void {
    this.bytesSince += bytes;
    const due = Math.max(this.options.walBytes, 2 * this.lastImageBytes);
    if (this.options.walBytes > 0 && this.bytesSince >= due && !this.running) {
      this.checkpoint().catch((e) => this.options.onError?.(e));
    }
  }

  /** Takes a checkpoint now (or joins the one under way). */
  checkpoint(): Promise<CheckpointStats> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Waits for a checkpoint under way (closing). */
  async settle(): Promise<void> {
    await this.running?.catch(() => {});
  }

  private async run(): Promise<CheckpointStats> {
    const { db, log, fs, dataDir } = this.options;
    const image = db.checkpointImage(log.nextIndex);
    const bytes = encodeCheckpointFile(image);
    this.bytesSince = 0;
    this.lastImageBytes = bytes.length;
    await log.sync();
    await writeFileAtomic(join(dataDir, CHECKPOINT_FILE), bytes, { fs, syncPoint: CHECKPOINT_SYNC });
    await log.dropPrefix(image.walIndex);
    return {
      walIndex: image.walIndex,
      bytes: bytes.length,
      rows: image.tables.reduce((n, t) => n + t.rows.length, 0),
    };
  }
}
