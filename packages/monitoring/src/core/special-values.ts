// Float values with meaning beyond their number. Prometheus marks a series that vanished from
// a scrape with a "stale NaN": the bit pattern 0x7ff0000000000002. V8 sets the quiet bit of a
// signalling NaN when it loads one, so in JavaScript the marker is 0x7ff8000000000002; the
// chunk encoder writes Prometheus's exact pattern to disk (gorilla.ts).

const scratch = new DataView(new ArrayBuffer(8));

/** The high and low 32 bits of Prometheus's staleness marker as stored in chunks. */
export const STALE_NAN_HI = 0x7ff00000;
export const STALE_NAN_LO = 0x00000002;

function fromBits(hi: number, lo: number): number {
  scratch.setUint32(0, hi);
  scratch.setUint32(4, lo);
  return scratch.getFloat64(0);
}

export const STALE_NAN: number = fromBits(STALE_NAN_HI, STALE_NAN_LO);

/** True for the staleness marker, with or without the quiet bit set. */
export function isStaleNaN(value: number): boolean {
  if (!Number.isNaN(value)) return false;
  scratch.setFloat64(0, value);
  return (scratch.getUint32(0) & 0xfff7ffff) === STALE_NAN_HI && scratch.getUint32(4) === STALE_NAN_LO;
}

/** Formats a sample value as Prometheus's JSON API does ("NaN", "+Inf", "-Inf", shortest float). */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** Parses a Prometheus float literal; null when it is not one. */
export function parseFloatLiteral(text: string): number | null {
  const lower = text.toLowerCase();
  if (lower === 'nan') return Number.NaN;
  if (lower === '+inf' || lower === 'inf') return Number.POSITIVE_INFINITY;
  if (lower === '-inf') return Number.NEGATIVE_INFINITY;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) && !/^[+-]?0[xX][0-9a-fA-F]+$/.test(text))
    return null;
  const value = Number(text);
  return Number.isNaN(value) ? null : value;
}
