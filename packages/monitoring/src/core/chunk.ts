// A chunk's first byte names its encoding, as Prometheus keeps an encoding byte beside each
// chunk: 1 = XOR (Gorilla, gorilla.ts), the head's appendable chunk; 2 = decimal
// (decimal-chunk.ts), which a full chunk becomes when it seals if that is smaller.
import { CHUNK_DECIMAL, decodeDecimalChunk, encodeDecimalChunk } from './decimal-chunk.js';
import { ChunkCorruptError } from './errors.js';
import { CHUNK_XOR, type DecodedChunk, decodeXorChunk, xorLatestAtOrBefore } from './gorilla.js';

/** Decodes the samples of a chunk of either encoding up to `untilT` (inclusive; default: all). */
export function decodeChunk(bytes: Uint8Array, untilT = Number.POSITIVE_INFINITY): DecodedChunk {
  switch (bytes[0]) {
    case CHUNK_XOR:
      return decodeXorChunk(bytes, untilT);
    case CHUNK_DECIMAL:
      return decodeDecimalChunk(bytes, untilT);
    default:
      throw new ChunkCorruptError(`unknown chunk encoding ${bytes[0]}`);
  }
}

/** The newest sample at or before `untilT` in a chunk of either encoding; null when there is none. */
export function latestAtOrBefore(
  bytes: Uint8Array,
  untilT: number,
): { t: number; value: number; stale: boolean } | null {
  if (bytes[0] === CHUNK_XOR) return xorLatestAtOrBefore(bytes, untilT);
  const d = decodeChunk(bytes, untilT);
  const last = d.timestamps.length - 1;
  if (last < 0) return null;
  return { t: d.timestamps[last]!, value: d.values[last]!, stale: d.stale?.[last] === 1 };
}

/** A sealed chunk's bytes: its XOR bytes, or the decimal encoding of its samples when smaller. */
export function sealedBytes(xor: Uint8Array): Uint8Array {
  const d = decodeXorChunk(xor);
  const decimal = encodeDecimalChunk(d.timestamps, d.values);
  return decimal !== null && decimal.length < xor.length ? decimal : xor;
}
