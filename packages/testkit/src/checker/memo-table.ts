// The search's memo: the set of (linearized operations, model state) pairs already explored,
// as Porcupine keeps it (a hash of the bitset and the state into buckets of exact entries),
// with a memory bound. A JavaScript Set of string keys cannot serve: it stops at 2^24 entries
// with a RangeError, and each key copies the whole bitset and state into a string.
//
// Bitsets are hashed Zobrist-style (Zobrist 1970): each operation has a random 32-bit word and
// the set's hash is the XOR of its members' words, updated in O(1) as the search sets and
// clears bits. States come interned to small integers (wgl-search.ts). An entry stores its
// hash, its state id and its bitset words in typed arrays outside the JavaScript heap.

import { SeededRandom } from '@ddia/common/core';
import { giveBackBuffer, LARGEST_KEPT_BYTES, takeBuffer } from './buffer-pool.js';

/**
 * The table starts with this many slots at most (a power of two) and doubles at half full; a
 * small partition starts smaller (allocating and zeroing 4,096 slots was a third of the time of
 * checking a 170-event etcd history).
 */
const INITIAL_SLOTS_MAX = 1 << 12;
const INITIAL_SLOTS_MIN = 1 << 6;
/** Zobrist words come from a fixed seed: hashing is deterministic, so runs replay. */
const ZOBRIST_SEED = 0x5eed;

/**
 * Bytes the memos of one check may hold together: the partitions of a history share it. It also
 * hands out the check's typed arrays from buffers reused between checks (buffer-pool.ts), and
 * takes them all back in `release()` when the check is over.
 */
export class MemoBudget {
  usedBytes = 0;
  private readonly taken: ArrayBuffer[] = [];
  constructor(readonly bytesMax: number) {}

  /** A buffer of at least `bytes`, contents undefined, returned to the pool by release(). */
  buffer(bytes: number): ArrayBuffer {
    const buffer = takeBuffer(bytes);
    // A big table is left to the collector once the search drops it, not held to the end.
    if (bytes <= LARGEST_KEPT_BYTES) this.taken.push(buffer);
    return buffer;
  }

  int32(length: number, fill: number): Int32Array {
    return new Int32Array(this.buffer(4 * length), 0, length).fill(fill);
  }

  uint32(length: number): Uint32Array {
    return new Uint32Array(this.buffer(4 * length), 0, length).fill(0);
  }

  uint8(length: number): Uint8Array {
    return new Uint8Array(this.buffer(length), 0, length).fill(0);
  }

  /** The check is over and nothing holds its arrays any more: their buffers go back. */
  release(): void {
    for (const buffer of this.taken) giveBackBuffer(buffer);
    this.taken.length = 0;
  }
}

/** The memo outgrew its bound: the search stops with the verdict unknown. */
export class MemoFullError extends Error {
  override name = 'MemoFullError';
}

/** The Zobrist words of every search so far: the same seed gives the same words, so share them. */
let zobristWords = new Uint32Array(0);

function zobristFor(size: number): Uint32Array {
  if (zobristWords.length < size) {
    const words = new Uint32Array(Math.max(size, 2 * zobristWords.length, 1024));
    const random = new SeededRandom(ZOBRIST_SEED);
    for (let i = 0; i < words.length; i++) words[i] = random.int(0, 0xffffffff) >>> 0;
    zobristWords = words;
  }
  return zobristWords;
}

/** Slots a fresh table of a partition of `size` operations starts with. */
export function initialSlots(size: number): number {
  let slots = INITIAL_SLOTS_MIN;
  while (slots < INITIAL_SLOTS_MAX && slots < 2 * size) slots *= 2;
  return slots;
}

export class LinearizedSet {
  readonly words: Uint32Array;
  private readonly zobrist: Uint32Array;
  hash = 0;

  constructor(
    readonly size: number,
    budget: MemoBudget,
  ) {
    this.words = budget.uint32(Math.max(1, Math.ceil(size / 32)));
    this.zobrist = zobristFor(size);
  }

  set(bit: number): void {
    this.words[bit >>> 5] |= 1 << (bit & 31);
    this.hash = (this.hash ^ this.zobrist[bit]) >>> 0;
  }

  clear(bit: number): void {
    this.words[bit >>> 5] &= ~(1 << (bit & 31));
    this.hash = (this.hash ^ this.zobrist[bit]) >>> 0;
  }
}

export class MemoTable {
  private slots: Int32Array;
  private hashes: Uint32Array;
  private stateIds: Int32Array;
  private words: Uint32Array;
  private count = 0;
  private readonly wordsPerSet: number;

  constructor(
    setSize: number,
    /** Shared with the other partitions' memos (and their interned states). */
    private readonly budget: MemoBudget,
  ) {
    this.wordsPerSet = Math.max(1, Math.ceil(setSize / 32));
    const slots = initialSlots(setSize);
    // The first tables are views into one buffer: one allocation instead of four for a small
    // partition, whose memo never grows (growing gives each table a buffer of its own).
    const entries = slots / 2;
    const buffer = budget.buffer(4 * (slots + 2 * entries + entries * this.wordsPerSet));
    this.slots = new Int32Array(buffer, 0, slots).fill(0);
    this.hashes = new Uint32Array(buffer, 4 * slots, entries);
    this.stateIds = new Int32Array(buffer, 4 * (slots + entries), entries);
    this.words = new Uint32Array(buffer, 4 * (slots + 2 * entries), entries * this.wordsPerSet);
    budget.usedBytes += this.bytes;
  }

  get entries(): number {
    return this.count;
  }

  /** Bytes held by the typed arrays. */
  get bytes(): number {
    return this.slots.byteLength + this.hashes.byteLength + this.stateIds.byteLength + this.words.byteLength;
  }

  /**
   * Adds (set, state) and answers true, or answers false when it was already there. States are
   * small integers (the search interns them). Throws MemoFullError when adding would pass the
   * bound.
   */
  add(set: LinearizedSet, stateId: number): boolean {
    const hash = (set.hash ^ Math.imul(stateId + 1, 0x9e3779b1)) >>> 0;
    const mask = this.slots.length - 1;
    let slot = hash & mask;
    for (;;) {
      const stored = this.slots[slot];
      if (stored === 0) break;
      const entry = stored - 1;
      if (this.hashes[entry] === hash && this.stateIds[entry] === stateId && this.sameSet(entry, set)) {
        return false;
      }
      slot = (slot + 1) & mask;
    }
    // Growing doubles every array: refuse before allocating past the bound.
    const full = this.count >= this.hashes.length;
    const arrays = full ? this.bytes : 0;
    if (this.budget.usedBytes + arrays > this.budget.bytesMax) {
      throw new MemoFullError(
        `the search memos hold ${this.budget.usedBytes} bytes (this one ${this.count} entries); the bound is ${this.budget.bytesMax} bytes`,
      );
    }
    if (full) {
      this.budget.usedBytes += arrays;
      this.grow();
    }
    const entry = this.count++;
    this.hashes[entry] = hash;
    this.stateIds[entry] = stateId;
    this.words.set(set.words, entry * this.wordsPerSet);
    // The table may have grown: find the empty slot again.
    const newMask = this.slots.length - 1;
    slot = hash & newMask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & newMask;
    this.slots[slot] = entry + 1;
    return true;
  }

  private sameSet(entry: number, set: LinearizedSet): boolean {
    const base = entry * this.wordsPerSet;
    for (let i = 0; i < this.wordsPerSet; i++) if (this.words[base + i] !== set.words[i]) return false;
    return true;
  }

  /** Doubles entries and slots, and re-places every entry by its stored hash. */
  private grow(): void {
    const capacity = this.hashes.length * 2;
    const hashes = this.budget.uint32(capacity);
    hashes.set(this.hashes);
    const stateIds = this.budget.int32(capacity, 0);
    stateIds.set(this.stateIds);
    const words = this.budget.uint32(capacity * this.wordsPerSet);
    words.set(this.words);
    this.hashes = hashes;
    this.stateIds = stateIds;
    this.words = words;
    this.slots = this.budget.int32(capacity * 2, 0);
    const mask = this.slots.length - 1;
    for (let entry = 0; entry < this.count; entry++) {
      let slot = this.hashes[entry] & mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
      this.slots[slot] = entry + 1;
    }
  }
}
