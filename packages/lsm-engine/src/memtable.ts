// The memtable: a skiplist of internal entries, as in LevelDB's skiplist.h (Pugh 1990).
// Inserts and seeks cost O(log n) expected; entries are never removed, so a level-0 back
// pointer keeps prev() O(1). Book, ch. 3 "Constructing and maintaining SSTables": writes
// go to an in-memory balanced structure first and leave in sorted order when it is full.
//
// As in LevelDB, nothing here is an object per entry. Keys and values are copied into an arena
// (arena.ts), and a node is a number: an index into typed arrays holding its fields, its
// forward links included. With an object per node, a table of 200,000 entries would be a
// million JavaScript objects (node, links array, key and value Buffers, a boxed sequence number)
// for every garbage collection of a busy kv-store member to copy or mark, with requests waiting.
import { Arena } from './arena.js';
import { compareBytes, type InternalIterator, KIND_DELETE } from './internal-key.js';

const HEIGHT_MAX = 12;
/** Each level holds about 1/BRANCHING of the nodes of the level below. */
const BRANCHING = 4;
/** Bookkeeping bytes charged per entry on top of key and value (its typed-array fields). */
const ENTRY_OVERHEAD_BYTES = 64;
/** Nodes the arrays hold at first; they double when full. */
const INITIAL_NODES = 1024;
/** Presized memtables hold this many times the expected entries before they grow. */
const NODES_HEADROOM = 1.125;
/** No node: the end of a level, or no predecessor. */
const NIL = -1;
/** Node 0 is the head: it holds no entry and has every level. */
const HEAD = 0;

const EMPTY = Buffer.alloc(0);

export class Memtable {
  private readonly arena = new Arena();
  /** Per node: sequence number, where its key (then its value) sits in the arena, and sizes. */
  private seqs: Float64Array;
  private chunks: Int32Array;
  private offsets: Int32Array;
  private keyLengths: Int32Array;
  private valueLengths: Int32Array;
  private kinds: Uint8Array;
  private prevs: Int32Array;
  /** Where a node's forward links start in `links`; link i is its successor on level i. */
  private linkStarts: Int32Array;
  private links: Int32Array;
  private linksUsed = 0;
  private nodes = 0;
  private tail = NIL;
  private height = 1;
  /** xorshift32 state: the skiplist's coin flips need no cryptographic or shared randomness. */
  private rngState = 0x9e3779b9;
  private readonly update = new Int32Array(HEIGHT_MAX);
  /** The last insert's neighbours per level (see add()); valid up to `height`. */
  private readonly splicePrev = new Int32Array(HEIGHT_MAX);
  private readonly spliceNext = new Int32Array(HEIGHT_MAX);
  private lastNode = NIL;
  bytes = 0;
  entries = 0;
  /** Key and value bytes of every entry: what a packed run of them all holds besides headers. */
  entryBytes = 0;
  /** The first WAL record index not in this memtable, set when it turns immutable. */
  walEnd = -1;

  /**
   * `expectedEntries`: room for that many entries from the start (the engine passes the
   * previous memtable's count), so that the arrays are not grown and copied five or six
   * times over while a memtable fills.
   */
  constructor(expectedEntries = 0) {
    const nodes = Math.max(INITIAL_NODES, Math.ceil(expectedEntries * NODES_HEADROOM) + 1);
    this.seqs = new Float64Array(nodes);
    this.chunks = new Int32Array(nodes);
    this.offsets = new Int32Array(nodes);
    this.keyLengths = new Int32Array(nodes);
    this.valueLengths = new Int32Array(nodes);
    this.kinds = new Uint8Array(nodes);
    this.prevs = new Int32Array(nodes);
    this.linkStarts = new Int32Array(nodes);
    // A node has 1 + 1/3 links on average (BRANCHING 4); 2 per node leaves room to spare.
    this.links = new Int32Array(nodes * 2);
    this.newNode(HEIGHT_MAX);
  }

  /** Copies the entry in: the caller's buffers (views into a WAL record) are not kept. */
  add(key: Uint8Array, seq: number, kind: number, value: Uint8Array): void {
    const length = key.length + value.length;
    const offset = this.arena.allocate(length);
    const bytes = this.arena.chunks[this.arena.lastChunk]!;
    bytes.set(key, offset);
    bytes.set(value, offset + key.length);
    this.link(seq, kind, offset, key.length, value.length);
  }

  /**
   * add() of the key at src[keyStart, +keyLength) and the value at src[valueStart,
   * +valueLength): the WAL record's bytes go straight into the arena, no view per operation.
   */
  addFrom(
    src: Buffer,
    keyStart: number,
    keyLength: number,
    valueStart: number,
    valueLength: number,
    seq: number,
    kind: number,
  ): void {
    const offset = this.arena.allocate(keyLength + valueLength);
    const bytes = this.arena.chunks[this.arena.lastChunk]!;
    copyBytes(src, keyStart, keyLength, bytes, offset);
    copyBytes(src, valueStart, valueLength, bytes, offset + keyLength);
    this.link(seq, kind, offset, keyLength, valueLength);
  }

  /** Makes a node for the entry just copied into the arena's last chunk and links it in. */
  private link(seq: number, kind: number, offset: number, keyLength: number, valueLength: number): void {
    const height = this.randomHeight();
    const node = this.newNode(height);
    const chunk = this.arena.lastChunk;
    // The new key, compared where it now lies in the arena: [ks, ke) of kb.
    const kb = this.arena.chunks[chunk]!;
    const ks = offset;
    const ke = offset + keyLength;
    this.seqs[node] = seq;
    this.chunks[node] = chunk;
    this.offsets[node] = offset;
    this.keyLengths[node] = keyLength;
    this.valueLengths[node] = valueLength;
    this.kinds[node] = kind;

    const links = this.links;
    const update = this.update;
    const splicePrev = this.splicePrev;
    const spliceNext = this.spliceNext;
    // Where the descent starts: from the top at HEAD, or (an entry after the last one added,
    // as in a batch of ascending keys or a sorted run of tombstones) from the lowest level of
    // the last insert's splice that still brackets the entry. Levels at and above it keep the
    // splice's predecessors: each is at or before the last entry, so before this one.
    let top = this.height;
    if (this.lastNode !== NIL && this.compareRange(this.lastNode, kb, ks, ke, seq) < 0) {
      top = 0;
      while (top < this.height) {
        const after = spliceNext[top]!;
        if (after === NIL || this.compareRange(after, kb, ks, ke, seq) > 0) break;
        top++;
      }
      for (let level = top; level < this.height; level++) update[level] = splicePrev[level]!;
    }
    let x = top < this.height ? update[top]! : HEAD;
    for (let level = top - 1; level >= 0; level--) {
      let n = links[this.linkStarts[x]! + level]!;
      while (n !== NIL && this.compareRange(n, kb, ks, ke, seq) < 0) {
        x = n;
        n = links[this.linkStarts[x]! + level]!;
      }
      update[level] = x;
    }
    if (height > this.height) {
      for (let level = this.height; level < height; level++) update[level] = HEAD;
      this.height = height;
    }
    const start = this.linkStarts[node]!;
    for (let level = 0; level < height; level++) {
      const before = this.linkStarts[update[level]!]! + level;
      links[start + level] = links[before]!;
      links[before] = node;
    }
    // The splice of this insert (RocksDB's InlineSkipList::Splice): on each level, the last
    // node at or before the new entry and the first after it.
    for (let level = 0; level < this.height; level++) {
      const before = level < height ? node : update[level]!;
      splicePrev[level] = before;
      spliceNext[level] = links[this.linkStarts[before]! + level]!;
    }
    this.lastNode = node;
    const before0 = update[0]!;
    this.prevs[node] = before0 === HEAD ? NIL : before0;
    const after = links[start]!;
    if (after !== NIL) this.prevs[after] = node;
    else this.tail = node;
    this.bytes += keyLength + valueLength + ENTRY_OVERHEAD_BYTES;
    this.entryBytes += keyLength + valueLength;
    this.entries++;
  }

  /** The newest version of `key` with sequence <= seq: a value, a tombstone, or not here. */
  get(key: Uint8Array, seq: number): { found: false } | { found: true; deleted: boolean; value: Buffer } {
    const n = this.findGreaterOrEqual(key, seq);
    if (n === NIL || this.compareKeyTo(n, key) !== 0) return { found: false };
    return { found: true, deleted: this.kinds[n] === KIND_DELETE, value: this.valueOf(n) };
  }

  iterator(): InternalIterator {
    return new MemtableIterator(this);
  }

  /** First node at or after (key, seq) in internal order, or NIL. */
  findGreaterOrEqual(key: Uint8Array, seq: number): number {
    const links = this.links;
    let x = HEAD;
    for (let level = this.height - 1; level >= 0; level--) {
      let n = links[this.linkStarts[x]! + level]!;
      while (n !== NIL && this.compareTo(n, key, seq) < 0) {
        x = n;
        n = links[this.linkStarts[x]! + level]!;
      }
      if (level === 0) return n;
    }
    return NIL;
  }

  first(): number {
    return this.next(HEAD);
  }

  last(): number {
    return this.tail;
  }

  next(node: number): number {
    return this.links[this.linkStarts[node]!]!;
  }

  prev(node: number): number {
    return this.prevs[node]!;
  }

  seqOf(node: number): number {
    return this.seqs[node]!;
  }

  kindOf(node: number): number {
    return this.kinds[node]!;
  }

  /** A view of the node's key in the arena (its bytes never change). */
  keyOf(node: number): Buffer {
    const offset = this.offsets[node]!;
    return this.arena.chunks[this.chunks[node]!]!.subarray(offset, offset + this.keyLengths[node]!);
  }

  valueOf(node: number): Buffer {
    if (node === HEAD) return EMPTY;
    const start = this.offsets[node]! + this.keyLengths[node]!;
    return this.arena.chunks[this.chunks[node]!]!.subarray(start, start + this.valueLengths[node]!);
  }

  /**
   * Copies up to `entries` entries, in internal order from `cursor.node` on, into `out` at
   * `cursor.at`: for each, `header` writes `headerBytes` bytes, then its key and value follow
   * (table-writer.ts packMemtable's run layout). An entry with sequence <= `smallestSnapshot`
   * hides every older version of its key from every reader: those are skipped. Moves the
   * cursor on (node NIL at the end). No view or object per entry: bytes go arena to `out`.
   */
  packInto(
    cursor: PackCursor,
    out: Buffer,
    entries: number,
    headerBytes: number,
    header: EntryHeaderWriter,
    smallestSnapshot: number,
  ): void {
    let node = cursor.node;
    let at = cursor.at;
    const links = this.links;
    for (let i = 0; i < entries && node !== NIL; i++) {
      const keyLength = this.keyLengths[node]!;
      const valueLength = this.valueLengths[node]!;
      const seq = this.seqs[node]!;
      header(out, at, keyLength, valueLength, seq, this.kinds[node]!);
      at += headerBytes;
      // Key and value lie side by side in the arena: one copy.
      const offset = this.offsets[node]!;
      copyBytes(this.arena.chunks[this.chunks[node]!]!, offset, keyLength + valueLength, out, at);
      at += keyLength + valueLength;
      let next = links[this.linkStarts[node]!]!;
      if (seq <= smallestSnapshot)
        while (next !== NIL && this.sameKey(next, node)) next = links[this.linkStarts[next]!]!;
      node = next;
    }
    cursor.node = node;
    cursor.at = at;
  }

  /** Whether two nodes hold the same user key. */
  private sameKey(a: number, b: number): boolean {
    const oa = this.offsets[a]!;
    const ob = this.offsets[b]!;
    const chunks = this.arena.chunks;
    return (
      compareBytes(
        chunks[this.chunks[a]!]!,
        oa,
        oa + this.keyLengths[a]!,
        chunks[this.chunks[b]!]!,
        ob,
        ob + this.keyLengths[b]!,
      ) === 0
    );
  }

  /** memcmp order of the node's user key against `key`. */
  private compareKeyTo(node: number, key: Uint8Array): number {
    const offset = this.offsets[node]!;
    const bytes = this.arena.chunks[this.chunks[node]!]!;
    return compareBytes(bytes, offset, offset + this.keyLengths[node]!, key, 0, key.length);
  }

  /** compareTo() against the key at kb[ks, ke). */
  private compareRange(node: number, kb: Uint8Array, ks: number, ke: number, seq: number): number {
    const offset = this.offsets[node]!;
    const c = compareBytes(
      this.arena.chunks[this.chunks[node]!]!,
      offset,
      offset + this.keyLengths[node]!,
      kb,
      ks,
      ke,
    );
    if (c !== 0) return c;
    const nodeSeq = this.seqs[node]!;
    return nodeSeq > seq ? -1 : nodeSeq < seq ? 1 : 0;
  }

  /** Internal order of the node's entry against (key, seq): key ascending, then seq descending. */
  private compareTo(node: number, key: Uint8Array, seq: number): number {
    const c = this.compareKeyTo(node, key);
    if (c !== 0) return c;
    const nodeSeq = this.seqs[node]!;
    return nodeSeq > seq ? -1 : nodeSeq < seq ? 1 : 0;
  }

  /** A node with `height` links, all NIL; the arrays double when full. */
  private newNode(height: number): number {
    if (this.nodes === this.seqs.length) this.growNodes();
    while (this.linksUsed + height > this.links.length) this.links = grown(this.links);
    const node = this.nodes++;
    this.linkStarts[node] = this.linksUsed;
    this.links.fill(NIL, this.linksUsed, this.linksUsed + height);
    this.linksUsed += height;
    return node;
  }

  private growNodes(): void {
    this.seqs = grown(this.seqs);
    this.chunks = grown(this.chunks);
    this.offsets = grown(this.offsets);
    this.keyLengths = grown(this.keyLengths);
    this.valueLengths = grown(this.valueLengths);
    this.kinds = grown(this.kinds);
    this.prevs = grown(this.prevs);
    this.linkStarts = grown(this.linkStarts);
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

/** Copies src[start, +length) to dst at `at`: short runs by a loop (a native call costs more). */
function copyBytes(src: Buffer, start: number, length: number, dst: Buffer, at: number): void {
  if (length > 32) {
    src.copy(dst, at, start, start + length);
    return;
  }
  for (let i = 0; i < length; i++) dst[at + i] = src[start + i]!;
}

/** A typed array twice as long, holding `a`'s elements first. */
function grown<T extends Float64Array | Int32Array | Uint8Array>(a: T): T {
  const b = new (a.constructor as new (n: number) => T)(a.length * 2);
  b.set(a);
  return b;
}

/** Writes one packed entry's header (table-writer.ts owns the layout). */
export type EntryHeaderWriter = (
  out: Buffer,
  at: number,
  keyLength: number,
  valueLength: number,
  seq: number,
  kind: number,
) => void;

/** Where Memtable.packInto goes on: the next node (first() to start) and output offset. */
export interface PackCursor {
  node: number;
  at: number;
}

class MemtableIterator implements InternalIterator {
  private node = NIL;
  /** key() of `keyNode`: merging iterators ask for the same key many times per step. */
  private keyNode = NIL;
  private keyView: Buffer = EMPTY;
  constructor(private readonly table: Memtable) {}
  valid(): boolean {
    return this.node !== NIL;
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
    this.node = this.table.next(this.node);
  }
  prev(): void {
    this.node = this.table.prev(this.node);
  }
  key(): Buffer {
    if (this.keyNode !== this.node) {
      this.keyView = this.table.keyOf(this.node);
      this.keyNode = this.node;
    }
    return this.keyView;
  }
  seq(): number {
    return this.table.seqOf(this.node);
  }
  kind(): number {
    return this.table.kindOf(this.node);
  }
  value(): Buffer {
    return this.table.valueOf(this.node);
  }
}
