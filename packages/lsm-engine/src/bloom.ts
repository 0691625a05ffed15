// A Bloom filter per table (Bloom 1970; book ch. 3 "Performance optimizations"): a negative
// answer means the key is certainly absent, so a point read skips the table's data blocks.
// LevelDB's util/bloom.cc: k probes by double hashing from one 32-bit hash, k = bits/key * ln 2.

/** LevelDB's default: about 1% false positives. */
export const BLOOM_BITS_PER_KEY_DEFAULT = 10;
const PROBES_MAX = 30;
const FILTER_BITS_MIN = 64;
const HASH_SEED = 0xbc9f1d34;
const HASH_M = 0xc6a4a793;

/** LevelDB's Hash(): a Murmur-like 32-bit hash, written with Math.imul for 32-bit overflow. */
export function bloomHash(key: Uint8Array): number {
  const n = key.length;
  let h = (HASH_SEED ^ Math.imul(n, HASH_M)) >>> 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const w = key[i]! | (key[i + 1]! << 8) | (key[i + 2]! << 16) | (key[i + 3]! << 24);
    h = (h + w) >>> 0;
    h = Math.imul(h, HASH_M) >>> 0;
    h ^= h >>> 16;
  }
  const rest = n - i;
  if (rest === 3) h = (h + (key[i + 2]! << 16)) >>> 0;
  if (rest >= 2) h = (h + (key[i + 1]! << 8)) >>> 0;
  if (rest >= 1) {
    h = (h + key[i]!) >>> 0;
    h = Math.imul(h, HASH_M) >>> 0;
    h ^= h >>> 24;
  }
  return h >>> 0;
}

/** Builds the filter bytes for the given key hashes: the bit array, then one byte holding k. */
export function buildBloom(hashes: ArrayLike<number>, count: number, bitsPerKey: number): Buffer {
  // Zero bits per key: no filter; readers treat an empty filter as "maybe present".
  if (bitsPerKey <= 0) return Buffer.alloc(0);
  const probes = Math.max(1, Math.min(PROBES_MAX, Math.round(bitsPerKey * Math.LN2)));
  const bits = Math.max(FILTER_BITS_MIN, Math.ceil((count * bitsPerKey) / 8) * 8);
  const filter = Buffer.alloc(bits / 8 + 1);
  filter[bits / 8] = probes;
  for (let i = 0; i < count; i++) {
    let h = hashes[i]!;
    const delta = ((h >>> 17) | (h << 15)) >>> 0;
    for (let j = 0; j < probes; j++) {
      const bit = h % bits;
      filter[bit >>> 3]! |= 1 << (bit & 7);
      h = (h + delta) >>> 0;
    }
  }
  return filter;
}

/** False means certainly absent; true means maybe present. */
export function bloomMayContain(filter: Buffer, hash: number): boolean {
  if (filter.length < 2) return true;
  const bits = (filter.length - 1) * 8;
  const probes = filter[filter.length - 1]!;
  // Larger k is reserved for other encodings (LevelDB does the same): treat as a match.
  if (probes > PROBES_MAX) return true;
  let h = hash;
  const delta = ((h >>> 17) | (h << 15)) >>> 0;
  for (let j = 0; j < probes; j++) {
    const bit = h % bits;
    if ((filter[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
    h = (h + delta) >>> 0;
  }
  return true;
}
