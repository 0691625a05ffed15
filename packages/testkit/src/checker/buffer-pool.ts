// Buffers for the search's typed arrays, kept between checks. A small history (a few dozen
// operations over a few keys) is checked in tens of microseconds, and allocating a fresh
// ArrayBuffer for each partition's list, stacks, memo and step caches was most of that time:
// each one is a zeroed allocation outside the JavaScript heap that the collector must track
// (profiled on Porcupine's kv c01 and the etcd logs: allocation plus collection were 60 % of a
// check). A check takes its buffers through its MemoBudget and gives them all back when it ends.

/** Buffers smaller than this are rounded up to it (size classes are powers of two). */
const SMALLEST_BYTES = 64;
/** Larger buffers are not kept: a big history's tables go back to the collector. */
export const LARGEST_KEPT_BYTES = 1 << 20;
/** Free buffers kept per size class: more than the partitions of any small history. */
const KEPT_PER_CLASS = 64;

/** Free buffers by size class (index: log2 of the byte length). */
const free: ArrayBuffer[][] = [];

/** log2 of SMALLEST_BYTES: the first size class. */
const SMALLEST_CLASS = 31 - Math.clz32(SMALLEST_BYTES);

/** The size class of a buffer of `bytes`: log2 of the next power of two (clz32, no floats). */
function sizeClass(bytes: number): number {
  return Math.max(SMALLEST_CLASS, 32 - Math.clz32(Math.max(1, bytes) - 1));
}

/** A buffer of at least `bytes`, not zeroed: the caller fills what it reads before writing. */
export function takeBuffer(bytes: number): ArrayBuffer {
  if (bytes > LARGEST_KEPT_BYTES) return new ArrayBuffer(bytes);
  const cls = sizeClass(bytes);
  const kept = free[cls];
  if (kept !== undefined && kept.length > 0) return kept.pop()!;
  return new ArrayBuffer(2 ** cls);
}

/** Gives a buffer back for a later check; nothing may hold a view of it any more. */
export function giveBackBuffer(buffer: ArrayBuffer): void {
  const bytes = buffer.byteLength;
  if (bytes > LARGEST_KEPT_BYTES || bytes < SMALLEST_BYTES || (bytes & (bytes - 1)) !== 0) return;
  const cls = 31 - Math.clz32(bytes);
  const kept = (free[cls] ??= []);
  if (kept.length < KEPT_PER_CLASS) kept.push(buffer);
}
