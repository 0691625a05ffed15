// A stable 32-bit hash of a key: FNV-1a over the UTF-8 bytes, then MurmurHash3's finaliser
// (fmix32) so that keys differing in one byte land far apart. DDIA ch. 6 "Partitioning by
// Hash of Key": the hash need not be cryptographic, only stable across processes and restarts
// (Java's Object.hashCode is not, which is why the book warns against language hashes).

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** Keys are at most a few KiB; the encoder is shared. */
const encoder = new TextEncoder();

export const HASH_SPACE = 2 ** 32;

export function hashBytes(bytes: Uint8Array): number {
  let h = FNV_OFFSET_BASIS;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i] as number;
    h = Math.imul(h, FNV_PRIME);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function hashKey(key: string): number {
  return hashBytes(encoder.encode(key));
}
