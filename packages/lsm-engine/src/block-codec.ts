// Block compression: the codecs behind the trailer's type byte (FORMAT.md "Compression"). The
// table builder compresses data and index blocks with the `compression` option's codec; the
// reader takes the codec from each block's trailer, so tables of any setting read alike.
import { createRequire } from 'node:module';
import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  deflateRawSync,
  inflateRawSync,
} from 'node:zlib';
import { LsmOptionsError } from './errors.js';
import {
  COMPRESSION_BROTLI,
  COMPRESSION_DEFLATE,
  COMPRESSION_NONE,
  COMPRESSION_SNAPPY,
  type Compression,
} from './table-format.js';

/** Speed over ratio, as LevelDB's Snappy: DEFLATE level 1, Brotli quality 1. */
const DEFLATE_OPTIONS = { level: 1 };
const BROTLI_OPTIONS = {
  params: { [constants.BROTLI_PARAM_QUALITY]: 1, [constants.BROTLI_PARAM_SIZE_HINT]: 0 },
};

interface SnappyBinding {
  compressSync(input: Uint8Array): Buffer;
  uncompressSync(input: Uint8Array, options: { asBuffer: true }): Buffer;
}

let snappy: SnappyBinding | null = null;

/**
 * The `snappy` npm package (Google's Snappy through napi-rs; a prebuilt binary per platform),
 * loaded on first use: a process that never meets a Snappy block never loads the binary, and
 * one on a platform without a build fails with a named error rather than at import.
 */
function snappyBinding(): SnappyBinding {
  if (snappy === null) {
    try {
      snappy = createRequire(import.meta.url)('snappy') as SnappyBinding;
    } catch (err) {
      throw new LsmOptionsError(`compression 'snappy' needs the snappy package: ${String(err)}`);
    }
  }
  return snappy;
}

/** Loads the codec of `compression` now (open() calls it: a missing binding fails the open). */
export function loadCodec(compression: Compression): void {
  if (compression === 'snappy') snappyBinding();
}

/** The trailer type byte of each `compression` setting. */
export const COMPRESSION_TYPES: Readonly<Record<Compression, number>> = {
  none: COMPRESSION_NONE,
  snappy: COMPRESSION_SNAPPY,
  deflate: COMPRESSION_DEFLATE,
  brotli: COMPRESSION_BROTLI,
};

/** `raw` compressed with the codec of `type` (not COMPRESSION_NONE). */
export function compressBlock(type: number, raw: Buffer): Buffer {
  if (type === COMPRESSION_SNAPPY) return snappyBinding().compressSync(raw);
  if (type === COMPRESSION_DEFLATE) return deflateRawSync(raw, DEFLATE_OPTIONS);
  return brotliCompressSync(raw, BROTLI_OPTIONS);
}

/** The stored bytes of a block of `type` (not COMPRESSION_NONE), decompressed. */
export function decompressBlock(type: number, stored: Buffer): Buffer {
  if (type === COMPRESSION_SNAPPY) return snappyBinding().uncompressSync(stored, { asBuffer: true });
  if (type === COMPRESSION_DEFLATE) return inflateRawSync(stored);
  return brotliDecompressSync(stored);
}

/** Whether `type` is a block type this reader knows. */
export function knownBlockType(type: number): boolean {
  return (
    type === COMPRESSION_NONE ||
    type === COMPRESSION_SNAPPY ||
    type === COMPRESSION_DEFLATE ||
    type === COMPRESSION_BROTLI
  );
}
