// Byte arrays for data that lives long in large numbers (Raft log entries, commands).
// `new Uint8Array(n)` gives each array an ArrayBuffer of its own: an object the GC tracks, a
// native allocation, and a sweep and a free() when it dies. A Raft log of 100,000 entries held
// 100,000 of them (heap snapshot of a member under load). Node's Buffer pool carves small
// buffers out of shared slabs instead; this hands such a slice back as a plain Uint8Array,
// so that callers and tests see the type they always saw.

/**
 * `n` uninitialised bytes from Node's Buffer pool (below half its slab size; a larger request
 * gets its own buffer, as Buffer.allocUnsafe does). The caller writes every byte. A slice pins
 * its slab: meant for data that dies with its neighbours, as log entries do.
 */
export function pooledBytes(n: number): Uint8Array {
  const b = Buffer.allocUnsafe(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}
