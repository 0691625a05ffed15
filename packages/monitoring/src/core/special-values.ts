// Float values with meaning beyond their number. Prometheus marks a series that vanished from
// a scrape with a "stale NaN": the bit pattern 0x7ff0000000000002, distinct from the NaN an
// exporter can report. In JavaScript that payload cannot be trusted in memory: V8 sets the
// quiet bit when it loads a signalling NaN, and once TurboFan optimizes a loop that stores
// doubles into a plain number[] it canonicalizes every NaN to 0x7ff8000000000000 (measured on
// Node 20: test/gorilla.test.ts, "V8 loses the payload"). So staleness travels as a flag beside
// the value everywhere in memory (IngestSample.stale, DecodedChunk.stale, SeriesData.stale),
// and the NaN payload exists only in bytes: chunks and WAL records carry Prometheus's exact
// bit pattern, written and recognized as two 32-bit halves, never as a float.

/** The high and low 32 bits of Prometheus's staleness marker as stored in chunks and the WAL. */
export const STALE_NAN_HI = 0x7ff00000;
export const STALE_NAN_LO = 0x00000002;

/** True when the 64 bits hi:lo are exactly the staleness marker (Prometheus's value.IsStaleNaN). */
export function isStaleBits(hi: number, lo: number): boolean {
  return hi >>> 0 === STALE_NAN_HI && lo >>> 0 === STALE_NAN_LO;
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
