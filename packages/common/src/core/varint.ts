// Unsigned LEB128 varints (7 bits per byte, high bit = more follows), as in Protocol Buffers
// and LevelDB's varint32/varint64. Numbers up to Number.MAX_SAFE_INTEGER (2^53 - 1).

export const VARINT_BYTES_MAX = 8; // 53 bits need at most 8 groups of 7

export class VarintError extends Error {
  override name = 'VarintError';
}

export function varintLength(value: number): number {
  let bytes = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    bytes++;
  }
  return bytes;
}

/** Writes `value` at `offset` and returns the offset just past it. */
export function writeVarint(target: Uint8Array, offset: number, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new VarintError(`not a non-negative safe integer: ${value}`);
  while (value >= 0x80) {
    target[offset++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  target[offset++] = value;
  return offset;
}

export function encodeVarint(value: number): Uint8Array {
  const out = new Uint8Array(varintLength(value));
  writeVarint(out, 0, value);
  return out;
}

/** Reads a varint at `offset`: the value and the offset just past it. Throws on truncation. */
export function readVarint(source: Uint8Array, offset: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < VARINT_BYTES_MAX; i++) {
    if (offset >= source.length) throw new VarintError('varint runs past the end of the buffer');
    const byte = source[offset++] as number;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) {
      if (!Number.isSafeInteger(value)) throw new VarintError('varint is larger than 2^53 - 1');
      return { value, next: offset };
    }
    scale *= 128;
  }
  throw new VarintError('varint longer than 8 bytes');
}
