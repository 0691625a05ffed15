// A bounded cache of the stored records of recently written or read keys, in front of the
// abstract-level store (RocksDB's row cache plays the same part). Every write reads its key's
// current record first (its version, its creation revision, whether it exists), and with the
// LSM engine that read searches the memtable's skiplist and perhaps some tables; a key written
// a moment ago is found here instead. It also answers "known absent" for a key just deleted or
// just looked up and not found.
//
// Only the apply path fills it (the state machine's apply is one batch at a time), and it does
// so from what the store holds between batches, so the cache never holds a record the store
// does not: a read that misses goes to the store and leaves the cache alone (a read racing a
// batch could otherwise put back a value the batch has just replaced).

/** What the cache charges per entry on top of the key and value bytes (Map slot, strings). */
const ENTRY_OVERHEAD_BYTES = 96;

export class RowCache {
  /** Key id (latin1 of the store key) -> record bytes, or null for "not in the store". The Map's
   *  insertion order is the recency order: a hit moves the entry to the end. */
  private readonly rows = new Map<string, Uint8Array | null>();
  private bytes = 0;

  constructor(private readonly bytesMax: number) {}

  /** The record, null if the store has none, undefined if the cache does not know. */
  get(id: string): Uint8Array | null | undefined {
    const row = this.rows.get(id);
    if (row === undefined) return undefined;
    this.rows.delete(id);
    this.rows.set(id, row);
    return row;
  }

  set(id: string, row: Uint8Array | null): void {
    if (this.bytesMax <= 0) return;
    const old = this.rows.get(id);
    if (old !== undefined) {
      this.bytes -= cost(id, old);
      this.rows.delete(id);
    }
    const bytes = cost(id, row);
    // A record larger than the whole cache would evict everything else for nothing.
    if (bytes > this.bytesMax) return;
    this.rows.set(id, row);
    this.bytes += bytes;
    for (const [victim, value] of this.rows) {
      if (this.bytes <= this.bytesMax) break;
      this.rows.delete(victim);
      this.bytes -= cost(victim, value);
    }
  }

  clear(): void {
    this.rows.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.rows.size;
  }

  get bytesUsed(): number {
    return this.bytes;
  }
}

function cost(id: string, row: Uint8Array | null): number {
  return id.length + (row?.length ?? 0) + ENTRY_OVERHEAD_BYTES;
}
