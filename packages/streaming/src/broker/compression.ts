// Decompression for the batches the broker must look inside (compaction). The broker stores
// and serves batches compressed as the producer sent them; only gzip is built into Node and
// kafkajs, so snappy, lz4 and zstd batches are refused at produce time.
import { gunzipSync } from 'node:zlib';
import { BatchError, Compression, type Decompress } from '../core/index.js';

/** The codecs a produce may use. */
export const SUPPORTED_CODECS: ReadonlySet<number> = new Set([Compression.none, Compression.gzip]);

export const decompress: Decompress = (codec, bytes) => {
  if (codec === Compression.gzip) {
    try {
      return new Uint8Array(gunzipSync(bytes));
    } catch (err) {
      throw new BatchError('corrupt', `gzip batch does not inflate: ${(err as Error).message}`);
    }
  }
  throw new BatchError('compression', `compression codec ${codec} is not supported by this broker`);
};
