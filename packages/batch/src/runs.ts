// The sorted-run file format of map output (FORMAT.md): a sequence of records, each
// [u32 key bytes][key UTF-8][u32 value bytes][value UTF-8], big-endian lengths, sorted by
// (key, value). A run for reduce partition r of map task m is what the shuffle serves.
import type { Pair } from './core/merge.js';

export function encodeRun(pairs: Iterable<Pair>): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  for (const [key, value] of pairs) {
    const k = Buffer.from(key, 'utf8');
    const v = Buffer.from(value, 'utf8');
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32BE(k.length, 0);
    const middle = Buffer.allocUnsafe(4);
    middle.writeUInt32BE(v.length, 0);
    parts.push(header, k, middle, v);
    size += 8 + k.length + v.length;
  }
  return Buffer.concat(parts, size);
}

/** Decodes a run lazily; throws on a truncated record (a torn fetch). */
export function* decodeRun(bytes: Buffer): Generator<Pair> {
  let pos = 0;
  while (pos < bytes.length) {
    if (pos + 4 > bytes.length) throw new RangeError('truncated run: key length');
    const keyBytes = bytes.readUInt32BE(pos);
    pos += 4;
    if (pos + keyBytes + 4 > bytes.length) throw new RangeError('truncated run: key');
    const key = bytes.toString('utf8', pos, pos + keyBytes);
    pos += keyBytes;
    const valueBytes = bytes.readUInt32BE(pos);
    pos += 4;
    if (pos + valueBytes > bytes.length) throw new RangeError('truncated run: value');
    const value = bytes.toString('utf8', pos, pos + valueBytes);
    pos += valueBytes;
    yield [key, value];
  }
}
