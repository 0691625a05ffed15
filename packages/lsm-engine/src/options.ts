// Engine options with LevelDB's defaults where LevelDB has one; every size names its unit.
import { type FileSystem, nodeFileSystem } from '@ddia/common/fs';
import { BLOCK_CACHE_BYTES_DEFAULT } from './block-cache.js';
import { loadCodec } from './block-codec.js';
import { BLOOM_BITS_PER_KEY_DEFAULT } from './bloom.js';
import type { CompactionStyle } from './compaction.js';
import { LsmOptionsError } from './errors.js';
import { COMPRESSIONS, type Compression } from './table-format.js';
import { WAL_SEGMENT_BYTES_DEFAULT } from './wal.js';

export interface LsmOptions {
  /** Memtable size at which it is frozen and flushed (LevelDB write_buffer_size: 4 MiB). */
  writeBufferBytes: number;
  /**
   * Memtables, the active one included, that may exist at once before writes stop for a flush
   * (RocksDB's max_write_buffer_number, default 2; LevelDB always has 2: one active, one being
   * flushed), and so is ours by default: 4 let writes run past a slow flush, but in an A/B run
   * (README, round two) they cost more total CPU for no wall-clock gain, so more than 2 is opt-in.
   */
  maxWriteBuffers: number;
  /** Uncompressed data block size (LevelDB block_size: 4 KiB). */
  blockBytes: number;
  /** Entries between full keys in a block (LevelDB block_restart_interval: 16). */
  restartInterval: number;
  /** Bloom filter bits per key; 0 turns filters off (LevelDB's policy default: 10). */
  bloomBitsPerKey: number;
  /**
   * Block compression of new tables (LevelDB's `compression`, Snappy by default there):
   * 'snappy' (Google's Snappy, the `snappy` npm package), 'deflate' (zlib's raw DEFLATE,
   * level 1) or 'brotli' (quality 1) on each data and index
   * block, kept only where it saves >= 1/8; each block's trailer names its type, so tables
   * written with any setting stay readable. Default 'none': in the 100 B run of README
   * "Round four", Snappy cut the bytes on disk to 0.34x but cost 0.56-1.09x of the CPU per
   * operation and doubled the peak RSS; DEFLATE and Brotli cost more CPU still.
   */
  compression: Compression;
  blockCacheBytes: number;
  /** Compaction output tables are cut at about this size (LevelDB max_file_size: 2 MiB). */
  targetFileBytes: number;
  compaction: CompactionStyle;
  l0CompactionTrigger: number;
  /**
   * Each write is delayed by 1 ms once level 0 holds this many tables (LevelDB's
   * kL0_SlowdownWritesTrigger: 8), handing the CPU to compaction before the hard stop.
   * At or above l0StopTrigger it never applies.
   */
  l0SlowdownTrigger: number;
  /** Writes wait for compaction once level 0 holds this many tables. */
  l0StopTrigger: number;
  /** Level 1's byte budget (LevelDB: 10 MiB); each deeper level gets levelMultiplier times more. */
  levelBaseBytes: number;
  levelMultiplier: number;
  tieredMinRuns: number;
  tieredSizeRatio: number;
  walSegmentBytes: number;
  createIfMissing: boolean;
  errorIfExists: boolean;
  /**
   * The file system every file of the database goes through (common's FileSystem layer;
   * LevelDB's Env). Default: the real one. Power-loss tests pass testkit's FaultFileSystem;
   * then flushes and compactions run on the main thread, as a worker cannot share it.
   */
  fs: FileSystem;
}

const MiB = 1024 * 1024;

export const LSM_DEFAULTS: LsmOptions = {
  writeBufferBytes: 4 * MiB,
  maxWriteBuffers: 2,
  blockBytes: 4096,
  restartInterval: 16,
  bloomBitsPerKey: BLOOM_BITS_PER_KEY_DEFAULT,
  compression: 'none',
  blockCacheBytes: BLOCK_CACHE_BYTES_DEFAULT,
  targetFileBytes: 2 * MiB,
  compaction: 'leveled',
  l0CompactionTrigger: 4,
  l0SlowdownTrigger: 8,
  l0StopTrigger: 12,
  levelBaseBytes: 10 * MiB,
  levelMultiplier: 10,
  tieredMinRuns: 4,
  tieredSizeRatio: 2,
  walSegmentBytes: WAL_SEGMENT_BYTES_DEFAULT,
  createIfMissing: true,
  errorIfExists: false,
  fs: nodeFileSystem,
};

export function resolveOptions(given: Partial<LsmOptions>): LsmOptions {
  const o: LsmOptions = { ...LSM_DEFAULTS };
  for (const [k, v] of Object.entries(given)) {
    if (v !== undefined && k in LSM_DEFAULTS) (o as unknown as Record<string, unknown>)[k] = v;
  }
  const positive: (keyof LsmOptions)[] = [
    'writeBufferBytes',
    'blockBytes',
    'restartInterval',
    'targetFileBytes',
    'l0CompactionTrigger',
    'l0SlowdownTrigger',
    'l0StopTrigger',
    'levelBaseBytes',
    'levelMultiplier',
    'tieredMinRuns',
    'tieredSizeRatio',
    'walSegmentBytes',
  ];
  for (const k of positive) {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      throw new LsmOptionsError(`${k} must be a positive number, got ${String(v)}`);
  }
  if (!(Number.isInteger(o.maxWriteBuffers) && o.maxWriteBuffers >= 2))
    throw new LsmOptionsError(`maxWriteBuffers must be an integer >= 2, got ${String(o.maxWriteBuffers)}`);
  if (!(o.bloomBitsPerKey >= 0 && o.bloomBitsPerKey <= 64))
    throw new LsmOptionsError('bloomBitsPerKey must be in [0, 64]');
  if (!COMPRESSIONS.includes(o.compression))
    throw new LsmOptionsError(
      `compression must be one of ${COMPRESSIONS.join(', ')}, got ${String(o.compression)}`,
    );
  loadCodec(o.compression);
  if (!(o.blockCacheBytes >= 0)) throw new LsmOptionsError('blockCacheBytes must be >= 0');
  if (o.compaction !== 'leveled' && o.compaction !== 'tiered') {
    throw new LsmOptionsError(`compaction must be 'leveled' or 'tiered', got ${String(o.compaction)}`);
  }
  if (o.l0StopTrigger < o.l0CompactionTrigger)
    throw new LsmOptionsError('l0StopTrigger must be >= l0CompactionTrigger');
  return o;
}
