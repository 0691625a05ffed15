// Hot-path varint helpers for block encoding. Same LEB128 bytes as @ddia/common's varints,
// but inlined for 32-bit lengths: a table build writes three of them per entry.

export function putVarint32(target: Buffer, offset: number, value: number): number {
  while (value >= 0x80) {
    target[offset++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  target[offset++] = value;
  return offset;
}

/** Decoder state kept in a reused object to avoid an allocation per varint. */
export interface VarintCursor {
  value: number;
  offset: number;
}

export function getVarint32(source: Buffer, cursor: VarintCursor): void {
  let offset = cursor.offset;
  let result = 0;
  let shift = 0;
  for (;;) {
    if (offset >= source.length || shift > 28) throw new RangeError('varint runs past its block');
    const byte = source[offset++]!;
    result |= (byte & 0x7f) << shift;
    if (byte < 0x80) break;
    shift += 7;
  }
  cursor.value = result >>> 0;
  cursor.offset = offset;
}
