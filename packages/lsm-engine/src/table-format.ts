// Constants and helpers shared by the table writer and reader. Byte layout: FORMAT.md "Table".
import { crc32c, maskCrc } from '@ddia/common/core';

/** "DDIALSM1" in ASCII: the last 8 bytes of every table. */
export const TABLE_MAGIC = Buffer.from('DDIALSM1', 'ascii');
/** Block trailer: 1 byte compression type + 4 bytes masked CRC32C. */
export const BLOCK_TRAILER_BYTES = 5;
/** Footer: filter offset, filter size, index offset, index size, entry count (5 x u64 LE), magic. */
export const FOOTER_BYTES = 48;
/** Block types (the trailer's first byte): the stored bytes are the block as is... */
export const COMPRESSION_NONE = 0;
/** ...raw Snappy (the block format without framing; LevelDB's kSnappyCompression is 1)... */
export const COMPRESSION_SNAPPY = 1;
/** ...raw DEFLATE (RFC 1951, zlib's deflateRaw; RocksDB's kZlibCompression is 2 as well)... */
export const COMPRESSION_DEFLATE = 2;
/** ...or Brotli (RFC 7932). Codecs: block-codec.ts. */
export const COMPRESSION_BROTLI = 3;

/** The `compression` option: what the table builder tries on each data and index block. */
export type Compression = 'none' | 'snappy' | 'deflate' | 'brotli';
export const COMPRESSIONS: readonly Compression[] = ['none', 'snappy', 'deflate', 'brotli'];

export interface BlockHandle {
  offset: number;
  size: number;
}

/** Masked CRC32C over the block bytes followed by the type byte, as LevelDB computes it. */
export function blockChecksum(block: Uint8Array, type: number): number {
  const crc = crc32c(block);
  return maskCrc(crc32c(Buffer.of(type), crc));
}

export function writeU64(target: Buffer, offset: number, value: number): void {
  target.writeUIntLE(value, offset, 6);
  target.writeUInt16LE(0, offset + 6);
}

export function readU64(source: Buffer, offset: number): number {
  if (source.readUInt16LE(offset + 6) !== 0) return Number.NaN;
  return source.readUIntLE(offset, 6);
}

export function tableFileName(fileNumber: number): string {
  return `${String(fileNumber).padStart(6, '0')}.sst`;
}
