// The memtable: a skiplist of internal entries, as in LevelDB's skiplist.h (Pugh 1990).
// Inserts and seeks cost O(log n) expected; entries are never removed, so a level-0 back
// pointer keeps prev() O(1). Book, ch. 3 "Constructing and maintaining SSTables": writes
// go to an in-memory balanced structure first and leave in sorted order when it is full.
import { compareInternal, compareKeys, type InternalIterator, KIND_DELETE } from './internal-key.js';

const HEIGHT_MAX = 12;
/** Each level holds about 1/BRANCHING of the nodes of the level below. */
const BRANCHING = 4;
/** Bookkeeping bytes charged per entry on top of key and value (node object, arrays). */
const ENTRY_OVERHEAD_BYTES = 64;

interface Node {
  key: Buffer;
  seq: number;
  kind: number;
  value: Buffer;
  next: (Node | null)[];
  prev: Node | null;
}

const EMPTY = Buffer.alloc(0);

export class Memtable {
  private readonly head: Node = { key: EMPTY, seq: 0, kind: 0, value: EMPTY, next: [], prev: null };
  private tail: Node | null = null;
  private height = 1;
  /** xorshift32 state: the skiplist's coin flips need no cryptographic or shared randomness. */
  private rngState = 0x9e3779b9;
  private readonly update: Node[] = new Array(HEIGHT_MAX);
  bytes = 0;
  entries = 0;
  /** The first WAL record index not in this memtable, set when it turns immutable. */
  walEnd = -1;

  constructor() {
    for (let i = 0; i < HEIGHT_MAX; i++) this.head.next.push(null);
  }

  add(key: Buffer, seq: number, kind: number, value: Buffer): void {
    let x = this.head;
    for (let level = this.height - 1; level >= 0; level--) {
      let n = x.next[level]!;
      while (n !== null && compareInternal(n.key, n.seq, key, seq) < 0) {
        x = n;
        n = x.next[level]!;
      }
      this.update[level] = x;
    }
    const height = this.randomHeight();
    if (height > this.height) {
      for (let level = this.height; level < height; level++) this.update[level] = this.head;
      this.height = height;
    }
    const node: Node = { key, seq, kind, value, next: new Array(height), prev: null };
    for (let level = 0; level < height; level++) {
      const before = this.update[level]!;
      node.next[level] = before.next[level]!;
      before.next[level] = node;
    }
    const before0 = this.update[0]!;
    node.prev = before0 === this.head ? null : before0;
    const after = node.next[0];
    if (after) after.prev = node;
    else this.tail = node;
    this.bytes += key.length + value.length + ENTRY_OVERHEAD_BYTES;
    this.entries++;
  }

  /** The newest version of `key` with sequence <= seq: a value, a tombstone, or not here. */
  get(key: Uint8Array, seq: number): { found: false } | { found: true; deleted: boolean; value: Buffer } {
    const n = this.findGreaterOrEqual(key, seq);
    if (n === null || compareKeys(n.key, key) !== 0) return { found: false };
    return { found: true, deleted: n.kind === KIND_DELETE, value: n.value };
  }

  iterator(): InternalIterator {
    return new MemtableIterator(this);
  }

  /** First node at or after (key, seq), or null. */
  findGreaterOrEqual(key: Uint8Array, seq: number): Node | null {
    let x = this.head;
    for (let level = this.height - 1; level >= 0; level--) {
      let n = x.next[level]!;
      while (n !== null && compareInternal(n.key, n.seq, key, seq) < 0) {
        x = n;
        n = x.next[level]!;
      }
      if (level === 0) return n;
    }
    return null;
  }

  first(): Node | null {
    return this.head.next[0]!;
  }

  last(): Node | null {
    return this.tail;
  }

  private randomHeight(): number {
    let height = 1;
    while (height < HEIGHT_MAX && this.nextRandom() % BRANCHING === 0) height++;
    return height;
  }

  private nextRandom(): number {
    let s = this.rngState;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.rngState = s >>> 0;
    return this.rngState;
  }
}

class MemtableIterator implements InternalIterator {
  private node: Node | null = null;
  constructor(private readonly table: Memtable) {}
  valid(): boolean {
    return this.node !== null;
  }
  seekToFirst(): void {
    this.node = this.table.first();
  }
  seekToLast(): void {
    this.node = this.table.last();
  }
  seek(userKey: Uint8Array, seq: number): void {
    this.node = this.table.findGreaterOrEqual(userKey, seq);
  }
  next(): void {
    this.node = this.node!.next[0]!;
  }
  prev(): void {
    this.node = this.node!.prev;
  }
  key(): Buffer {
    return this.node!.key;
  }
  seq(): number {
    return this.node!.seq;
  }
  kind(): number {
    return this.node!.kind;
  }
  value(): Buffer {
    return this.node!.value;
  }
}
