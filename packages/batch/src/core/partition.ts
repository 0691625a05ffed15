// Which reduce partition a key goes to. The default is a hash of the key (paper §4.1:
// "hash(key) mod R"); a total-order sort uses ranges instead, with boundaries picked from a
// sample of the keys (TeraSort), so that part-00000 < part-00001 < ... as whole files.

/** FNV-1a over the key's UTF-16 code units: stable across processes and runs. */
export function hashKey(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function hashPartition(key: string, partitions: number): number {
  return hashKey(key) % partitions;
}

/** Keys below boundaries[0] go to 0, keys in [boundaries[i-1], boundaries[i]) to i. */
export function rangePartition(key: string, boundaries: readonly string[]): number {
  let lo = 0;
  let hi = boundaries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key < boundaries[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** R-1 boundaries that cut a sample of keys into R groups of about equal size. */
export function pickBoundaries(sample: readonly string[], partitions: number): string[] {
  const sorted = [...sample].sort(compareStrings);
  const boundaries: string[] = [];
  for (let i = 1; i < partitions && sorted.length > 0; i++) {
    const candidate = sorted[Math.floor((i * sorted.length) / partitions)]!;
    // Equal boundaries would leave a partition empty forever; skip repeats.
    if (boundaries.length === 0 || candidate > boundaries[boundaries.length - 1]!) boundaries.push(candidate);
  }
  return boundaries;
}

/** The one order of keys (and values) everywhere: UTF-16 code units, like `<` on strings. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
