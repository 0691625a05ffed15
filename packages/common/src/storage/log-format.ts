// The byte format of one log record (packages/common/FORMAT.md describes it):
//
//   0       4       8       12
//   +-------+-------+-------+----------------+
//   | len   | crc   | hcrc  | payload (len)  |
//   +-------+-------+-------+----------------+
//
// len  u32 LE  payload length in bytes
// crc  u32 LE  masked CRC32C of the payload
// hcrc u32 LE  masked CRC32C of bytes 0..8 (len and crc), so that a damaged length is
//              recognised as damage instead of being followed into the weeds
import { crc32c, maskCrc, unmaskCrc } from '../core/crc32c.js';

export const RECORD_HEADER_BYTES = 12;
/** A record larger than this is refused on append and treated as damage on read. */
export const RECORD_BYTES_MAX = 256 * 1024 * 1024;

export function encodeRecordHeader(payload: Uint8Array, target: Buffer, offset: number): void {
  target.writeUInt32LE(payload.length, offset);
  target.writeUInt32LE(maskCrc(crc32c(payload)), offset + 4);
  target.writeUInt32LE(maskCrc(crc32c(target.subarray(offset, offset + 8))), offset + 8);
}

export type HeaderCheck =
  | { kind: 'ok'; payloadBytes: number; payloadCrc: number }
  | { kind: 'short' }
  | { kind: 'bad-header' };

export function checkHeader(buffer: Buffer, offset: number): HeaderCheck {
  if (buffer.length - offset < RECORD_HEADER_BYTES) return { kind: 'short' };
  const headerCrc = unmaskCrc(buffer.readUInt32LE(offset + 8));
  if (crc32c(buffer.subarray(offset, offset + 8)) !== headerCrc) return { kind: 'bad-header' };
  const payloadBytes = buffer.readUInt32LE(offset);
  if (payloadBytes > RECORD_BYTES_MAX) return { kind: 'bad-header' };
  return { kind: 'ok', payloadBytes, payloadCrc: unmaskCrc(buffer.readUInt32LE(offset + 4)) };
}

export function payloadMatches(payload: Uint8Array, expectedCrc: number): boolean {
  return crc32c(payload) === expectedCrc;
}

/** Frames records back to back, ready for one write (what an append writes). */
export function encodeRecords(records: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const r of records) total += RECORD_HEADER_BYTES + r.length;
  const buffer = Buffer.allocUnsafe(total);
  let at = 0;
  for (const record of records) {
    encodeRecordHeader(record, buffer, at);
    buffer.set(record, at + RECORD_HEADER_BYTES);
    at += RECORD_HEADER_BYTES + record.length;
  }
  return buffer;
}

/** Segment files are named by the index of their first record, as 20 decimal digits. */
export const SEGMENT_FILE_NAME = /^(\d{20})\.seg$/;
const INDEX_DIGITS = 20;

export function segmentFileName(firstIndex: number): string {
  return `${String(firstIndex).padStart(INDEX_DIGITS, '0')}.seg`;
}
