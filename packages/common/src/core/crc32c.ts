// CRC32C (Castagnoli), the checksum on every record we write to disk, as LevelDB and
// RocksDB use. @node-rs/crc32 computes it with SSE4.2 / ARMv8 CRC instructions.
import { crc32c as nativeCrc32c } from '@node-rs/crc32';

export function crc32c(bytes: Uint8Array, initial = 0): number {
  return (
    nativeCrc32c(
      Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      initial,
    ) >>> 0
  );
}

const MASK_DELTA = 0xa282ead8;

/**
 * LevelDB masks stored CRCs (rotate right 15, add a constant) because computing the CRC of
 * a string that itself contains embedded CRCs is problematic. We do the same for records.
 */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

export function unmaskCrc(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}
