// The Wing & Gong linearizability search (Wing & Gong 1993) with Lowe's memoisation
// (Lowe, "Testing for linearizability", 2017), as Porcupine implements it. Operations become
// call and return entries in one list ordered by real time. The search walks the list: at a
// call it tries to linearize that operation next (apply it to the model and remove it from
// the list); at a return it has met an operation that completed before it was linearized, so
// it backtracks. A (set of linearized operations, model state) pair already explored is never
// explored again: this memo is what makes the search fast in practice.
//
// Operations of unknown outcome (`info`) return "at infinity": they may be linearized anywhere
// after their call, and when only they remain the history is linearizable (they never took
// effect).
//
// Two things make it faster than the plain algorithm (measured in CHECKERS.md):
//   - States are interned to small integers, and each (state, operation) step is computed by
//     the model once and then looked up: a long append-built string is hashed once per new
//     state, not once per search step, and the memo compares integers.
//   - A read is never a choice. A successful read-only operation that agrees with the current
//     state can be linearized at once: if any linearization follows, one with that read first
//     follows too (it changes no state, and it is a candidate, so no remaining operation
//     returned before it was invoked). So the search takes such a read before any other
//     candidate, and when everything after it fails it backtracks past it without trying the
//     other candidates. On histories with many reads (Porcupine's kv tests: 40 % gets) this
//     cuts the search by orders of magnitude.
//
// The search is resumable: `advance(steps)` runs a bounded number of steps and returns, so the
// checker can interleave the partitions of a history (Porcupine checks them in parallel and
// stops at the first that fails: one easy counterexample settles the verdict even when another
// partition would take hours to decide).

import { assert } from '@ddia/common/core';
import type { Operation } from '../history/event.js';
import { initialSlots, LinearizedSet, type MemoBudget, MemoFullError, MemoTable } from './memo-table.js';
import { INCONSISTENT, type Model } from './model.js';

/** Cached steps past this many are forgotten (they are only a cache). */
const TRANSITIONS_MAX = 1 << 20;
/** What the step cache says of an (state, op) pair: the model rejects it. */
const REJECTED = -1;
/** No list node, no parent state. */
const NONE = -1;
const EMPTY = new Int32Array(0);

/**
 * A cache from (state id, operation bit) to a small integer, open addressing in one typed
 * array of (state, bit, value) triples (a Map per operation was a fifth of the search's time;
 * three arrays instead of one were a tenth of a small check's). Cleared when full.
 */
class PairTable {
  // Allocated on the first set: most partitions of a small history never need one of the two.
  private slots: Int32Array = EMPTY;
  private capacity = 0;
  size = 0;

  constructor(
    private readonly budget: MemoBudget,
    private readonly initialSlots: number,
  ) {}

  get(state: number, bit: number): number | undefined {
    if (this.size === 0) return undefined;
    const { slots } = this;
    const mask = this.capacity - 1;
    for (
      let slot = (Math.imul(state, 0x9e3779b1) ^ Math.imul(bit, 0x85ebca6b)) & mask;
      ;
      slot = (slot + 1) & mask
    ) {
      const s = slots[3 * slot];
      if (s === NONE) return undefined;
      if (s === state && slots[3 * slot + 1] === bit) return slots[3 * slot + 2];
    }
  }

  set(state: number, bit: number, value: number): void {
    if (2 * (this.size + 1) > this.capacity) {
      if (this.capacity >= TRANSITIONS_MAX) this.clear();
      else this.resize(Math.max(this.initialSlots, this.capacity * 2));
    }
    const { slots } = this;
    const mask = this.capacity - 1;
    let slot = (Math.imul(state, 0x9e3779b1) ^ Math.imul(bit, 0x85ebca6b)) & mask;
    while (slots[3 * slot] !== NONE) slot = (slot + 1) & mask;
    slots[3 * slot] = state;
    slots[3 * slot + 1] = bit;
    slots[3 * slot + 2] = value;
    this.size++;
  }

  get bytes(): number {
    return this.slots.byteLength;
  }

  private clear(): void {
    this.slots.fill(NONE);
    this.size = 0;
  }

  private resize(capacity: number): void {
    const old = this.slots;
    this.budget.usedBytes += 12 * (capacity - this.capacity);
    this.slots = this.budget.int32(3 * capacity, NONE);
    this.capacity = capacity;
    this.size = 0;
    for (let i = 0; i < old.length; i += 3) if (old[i] !== NONE) this.set(old[i], old[i + 1], old[i + 2]);
  }
}

/**
 * The model's states, interned to small integers by their key, and a cache of steps: per
 * operation, state id -> next state id (or REJECTED).
 */
class StateSpace<S> {
  readonly states: S[] = [];
  /** For a state first made by a growing operation: the state before it and the operation. */
  private readonly parent: number[] = [];
  private readonly parentOp: number[] = [];
  private readonly idOf = new Map<string, number>();
  private readonly steps: PairTable;
  /** (state, read) -> 1 when the state cannot grow into what the read saw, else 0. */
  private readonly unreachable: PairTable;
  /** Per operation, the state it sets whatever the state before (model.growth.resetTo). */
  private readonly resetTo: ({ state: unknown } | undefined)[];
  keyChars = 0;

  constructor(
    /** The model steps are computed with; the search may swap in model.forSearch's. */
    public model: Model<S>,
    private readonly operations: Operation[],
    private readonly budget: MemoBudget,
    private readonly growing: Uint8Array,
  ) {
    // Small at first: most partitions take a few steps per operation, and allocating tables
    // sized for the worst case was a sixth of a small check's time (profiled on etcd_013).
    this.steps = new PairTable(budget, initialSlots(operations.length));
    this.unreachable = new PairTable(budget, initialSlots(operations.length));
    const growth = model.growth;
    this.resetTo = operations.map((op) => growth?.resetTo(op));
  }

  intern(state: S, parent = NONE, parentOp = NONE): number {
    const key = this.model.stateKey(state);
    let id = this.idOf.get(key);
    if (id === undefined) {
      id = this.states.length;
      this.states.push(state);
      this.parent.push(parent);
      this.parentOp.push(parentOp);
      this.idOf.set(key, id);
      this.keyChars += key.length;
      this.budget.usedBytes += 2 * key.length;
    }
    return id;
  }

  step(stateId: number, bit: number): number {
    const known = this.steps.get(stateId, bit);
    if (known !== undefined) return known;
    const next = this.model.step(this.states[stateId], this.operations[bit]);
    const id = next === INCONSISTENT ? REJECTED : this.intern(next, stateId, bit);
    this.steps.set(stateId, bit, id);
    return id;
  }

  /** Does the operation set one state whatever the state before it (model.growth.resetTo)? */
  fixedReset(bit: number): boolean {
    return this.resetTo[bit] !== undefined;
  }

  /** Can growing operations never turn the state `reset` sets into what the read `bit` saw? */
  resetCannotServe(reset: number, bit: number): boolean {
    const growth = this.model.growth!;
    const to = this.resetTo[reset];
    return to !== undefined && !growth.reaches(to.state as S, growth.observed(this.operations[bit]));
  }

  /** Can growing operations never turn this state into what the read at `bit` saw? */
  stuck(stateId: number, bit: number): boolean {
    const cached = this.unreachable.get(stateId, bit);
    if (cached !== undefined) return cached === 1;
    const growth = this.model.growth!;
    const observed = growth.observed(this.operations[bit]);
    // Growing from a state that could not reach it cannot help; from one that could, only the
    // growth needs checking.
    const parent = this.parent[stateId];
    const parentOp = this.parentOp[stateId];
    const known = parent === NONE ? undefined : this.unreachable.get(parent, bit);
    let stuck: boolean;
    if (known === 1 && this.grows(parentOp)) stuck = true;
    else if (known === 0 && this.grows(parentOp) && growth.stillReaches !== undefined) {
      stuck = !growth.stillReaches(this.states[parent], this.operations[parentOp], observed);
    } else stuck = !growth.reaches(this.states[stateId], observed);
    this.unreachable.set(stateId, bit, stuck ? 1 : 0);
    return stuck;
  }

  private grows(bit: number): boolean {
    return this.growing[bit] === 1;
  }

  /** Bytes: two per key character, and the step caches. */
  get bytes(): number {
    return 2 * this.keyChars + this.steps.bytes + this.unreachable.bytes;
  }
}

// The call/return list lives in typed arrays: node 0 is the head, operation i's call is node
// 2i + 1 and its return node 2i + 2; NONE ends the list.
/** firstChoice's answer for a configuration no linearization can follow. */
const DEAD = -2;
/**
 * How many list nodes firstChoice looks at for a read that can no longer be satisfied. The
 * nearest reads prune nearly everything: on 20,000-event 50-client kv histories 24 nodes take
 * as few search steps as 64 at a third of the time per step, while 8 take ten times the steps.
 */
const LOOKAHEAD_NODES = 24;

/**
 * A search still undecided after this many steps goes on with model.forSearch's model (one
 * that merges states no operation can tell apart, models/unobservable.ts). Building it costs
 * more than the whole search of a small partition (kv c10-bad: 148 -> 282 us); the states
 * already met keep their ids, which only means fewer memo hits for them. What the search
 * reports is replayed on the model itself.
 */
const FOR_SEARCH_AFTER_STEPS = 4096;
/** Scratch for firstChoice: the fixed resets met in the list so far (it never runs re-entrantly). */
const RESETS_MET = new Int32Array(LOOKAHEAD_NODES);
/** Scratch for laying out a list, kept between searches: a small check allocates no buffer for it. */
let scratchInts = new Int32Array(1024);

/** `scratchInts`' first `length` slots, filled with NONE. */
function scratch(length: number): Int32Array {
  if (scratchInts.length < length) scratchInts = new Int32Array(Math.max(length, 2 * scratchInts.length));
  return scratchInts.fill(NONE, 0, length);
}

export interface SearchOutcome<S> {
  verdict: 'linearizable' | 'not-linearizable' | 'unknown';
  /** A linearization of every op with a known outcome (when linearizable). */
  linearization?: Operation[];
  /** The longest linearizable prefix found (when not linearizable or unknown). */
  longestPrefix?: Operation[];
  /** Model state after the longest prefix. */
  stateAfterPrefix?: S;
  /** Operations that were candidates to follow that prefix: none of them could. */
  blocked?: Operation[];
  /** The op whose response arrives first after the prefix: it must be linearized by then. */
  mustPrecede?: Operation;
  /** Why an unknown search stopped: its time budget, or its memory bound. */
  stoppedBy?: 'time' | 'memory';
  steps: number;
  /** (linearized set, state) pairs remembered, and the bytes they took. */
  memoEntries: number;
  memoBytes: number;
}

/** One partition's search, run a slice of steps at a time. */
export class WglSearch<S> {
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly readOnly: Uint8Array;
  /** Operations that only extend the state (model.growth), when the model says so. */
  private readonly grows: Uint8Array | undefined;
  private readonly infinite: Uint8Array;
  private readonly linearized: LinearizedSet;
  private readonly memo: MemoTable;
  private readonly space: StateSpace<S>;
  /** The linearized operations (bits) and the state before each, as a stack. */
  private readonly stackBits: Int32Array;
  private readonly stackStates: Int32Array;
  private depth = 0;
  private finiteRemaining: number;
  private stateId: number;
  /** The list node the scan is at. */
  private node: number;
  /**
   * The longest prefix so far, as bits: its first `longestDepth` entries. Only the part of the
   * stack that changed since the last copy (from `stackLow` up) is copied when the stack grows
   * past it, so keeping it costs O(1) per step amortised, not O(depth).
   */
  private readonly longestBits: Int32Array;
  private longestDepth = 0;
  private stackLow = 0;
  private steps = 0;
  private outcome: SearchOutcome<S> | undefined;

  constructor(
    private readonly model: Model<S>,
    private readonly operations: Operation[],
    private readonly budget: MemoBudget,
  ) {
    const n = operations.length;
    this.linearized = new LinearizedSet(n, budget);
    this.memo = new MemoTable(n, budget);
    // One allocation for the list and the stacks, one for the flags: views into them are
    // cheaper than ten arrays of their own for a search of a few operations.
    const ints = budget.int32(2 * (2 * n + 1) + 3 * n, NONE);
    this.next = ints.subarray(0, 2 * n + 1);
    this.prev = ints.subarray(2 * n + 1, 2 * (2 * n + 1));
    this.stackBits = ints.subarray(2 * (2 * n + 1), 2 * (2 * n + 1) + n);
    this.stackStates = ints.subarray(2 * (2 * n + 1) + n, 2 * (2 * n + 1) + 2 * n);
    this.longestBits = ints.subarray(2 * (2 * n + 1) + 2 * n);
    const flags = budget.uint8(3 * n);
    this.readOnly = flags.subarray(0, n);
    this.infinite = flags.subarray(n, 2 * n);
    const growth = model.growth;
    this.grows = growth === undefined ? undefined : flags.subarray(2 * n);
    this.finiteRemaining = 0;
    operations.forEach((op, bit) => {
      const open = op.completeIndex === Number.POSITIVE_INFINITY;
      this.infinite[bit] = open ? 1 : 0;
      if (!open) this.finiteRemaining++;
      this.readOnly[bit] = !open && op.status === 'ok' && model.isReadOnly(op) ? 1 : 0;
      if (this.grows !== undefined) this.grows[bit] = growth!.grows(op) ? 1 : 0;
    });
    this.space = new StateSpace(model, operations, budget, this.grows ?? budget.uint8(n));
    this.buildList();
    this.stateId = this.space.intern(model.init());
    this.node = this.next[0];
    if (n === 0) this.outcome = this.finish('linearizable');
    else {
      this.node = this.firstChoice();
      if (this.node === DEAD) this.outcome = this.finish('not-linearizable');
    }
  }

  private buildList(): void {
    if (!this.buildListByIndex()) this.buildListBySort();
  }

  /**
   * The usual case: event indices from one history are distinct, so each finite time is one
   * slot of an array and the list is read off it in order, with no sort and no objects.
   * Answers false (nothing written) when two times collide.
   */
  private buildListByIndex(): boolean {
    const { operations } = this;
    let maxTime = -1;
    for (const op of operations) {
      const end = op.completeIndex === Number.POSITIVE_INFINITY ? op.invokeIndex : op.completeIndex;
      if (!Number.isInteger(op.invokeIndex) || op.invokeIndex < 0 || !Number.isInteger(end)) return false;
      if (end > maxTime) maxTime = end;
    }
    if (maxTime >= 8 * operations.length + 1024) return false; // sparse: sorting is cheaper
    const at = scratch(maxTime + 1);
    let open = 0;
    for (let bit = 0; bit < operations.length; bit++) {
      const op = operations[bit];
      if (at[op.invokeIndex] !== NONE) return false;
      at[op.invokeIndex] = 2 * bit + 1;
      if (op.completeIndex === Number.POSITIVE_INFINITY) open++;
      else {
        if (at[op.completeIndex] !== NONE) return false;
        at[op.completeIndex] = 2 * bit + 2;
      }
    }
    let last = 0;
    for (let time = 0; time <= maxTime; time++) {
      const node = at[time];
      if (node === NONE) continue;
      this.next[last] = node;
      this.prev[node] = last;
      last = node;
    }
    // Unknown outcomes return after everything else, in order of operation (as the sort keeps them).
    for (let bit = 0; open > 0 && bit < operations.length; bit++) {
      if (this.infinite[bit] === 0) continue;
      const node = 2 * bit + 2;
      this.next[last] = node;
      this.prev[node] = last;
      last = node;
      open--;
    }
    return true;
  }

  private buildListBySort(): void {
    const { operations } = this;
    const order: { time: number; node: number }[] = [];
    operations.forEach((op, bit) => {
      order.push({ time: op.invokeIndex, node: 2 * bit + 1 });
      // Unknown outcomes return after everything else, in order of invocation.
      order.push({
        time: op.completeIndex === Number.POSITIVE_INFINITY ? Number.MAX_VALUE : op.completeIndex,
        node: 2 * bit + 2,
      });
    });
    // Array.prototype.sort is stable: infinite returns keep invocation order among themselves.
    order.sort((a, b) => a.time - b.time);
    let last = 0;
    for (const { node } of order) {
      this.next[last] = node;
      this.prev[node] = last;
      last = node;
    }
  }

  /** The result once decided; undefined while the search still runs. */
  get result(): SearchOutcome<S> | undefined {
    return this.outcome;
  }

  /** Stops an undecided search (its time ran out): the verdict is unknown. */
  giveUp(): SearchOutcome<S> {
    this.outcome ??= this.finish('unknown', 'time');
    return this.outcome;
  }

  /**
   * Where the scan starts in a fresh configuration: at a read that agrees with the state if a
   * candidate is one (taking it loses nothing, see the top of the file), else at the head.
   * DEAD when a pending read can never be satisfied: it saw a value that the state cannot grow
   * into (model.growth), and every operation that may be ordered before it (each one invoked
   * before it returned: the calls before its return in the list) is a read or a growing one.
   */
  private firstChoice(): number {
    const { next, readOnly, grows, infinite, space, stateId } = this;
    const resetsMet = RESETS_MET;
    let inWindow = true;
    /** An operation that may set any state (a cas) is ahead: no read is surely stuck. */
    let anyState = false;
    let resets = 0;
    let seen = 0;
    for (let node = next[0]; node !== NONE && seen < LOOKAHEAD_NODES; node = next[node], seen++) {
      const bit = (node - 1) >>> 1;
      if ((node & 1) === 1) {
        if (readOnly[bit] === 1) {
          if (inWindow && space.step(stateId, bit) === stateId) return node;
        } else if (grows === undefined || grows[bit] === 0) {
          if (space.fixedReset(bit)) resetsMet[resets++] = bit;
          else {
            anyState = true;
            if (!inWindow) break;
          }
        }
        continue;
      }
      if (infinite[bit] === 1 || grows === undefined) break;
      inWindow = false;
      if (anyState) break;
      if (readOnly[bit] === 1 && space.step(stateId, bit) !== stateId && space.stuck(stateId, bit)) {
        let served = false;
        for (let i = 0; i < resets && !served; i++) served = !space.resetCannotServe(resetsMet[i], bit);
        if (!served) return DEAD;
      }
    }
    return next[0];
  }

  private lift(bit: number): void {
    const { next, prev } = this;
    const call = 2 * bit + 1;
    const ret = call + 1;
    next[prev[call]] = next[call];
    if (next[call] !== NONE) prev[next[call]] = prev[call];
    next[prev[ret]] = next[ret];
    if (next[ret] !== NONE) prev[next[ret]] = prev[ret];
  }

  private unlift(bit: number): void {
    const { next, prev } = this;
    const call = 2 * bit + 1;
    const ret = call + 1;
    next[prev[ret]] = ret;
    if (next[ret] !== NONE) prev[next[ret]] = ret;
    next[prev[call]] = call;
    if (next[call] !== NONE) prev[next[call]] = call;
  }

  /**
   * Undoes the last choice, and keeps undoing past reads (nothing else could have been chosen
   * in their place). Answers false when nothing is left to undo: not linearizable.
   */
  private backtrack(): boolean {
    for (;;) {
      if (this.depth === 0) return false;
      this.depth--;
      if (this.depth < this.stackLow) this.stackLow = this.depth;
      const bit = this.stackBits[this.depth];
      this.stateId = this.stackStates[this.depth];
      this.linearized.clear(bit);
      this.unlift(bit);
      if (this.infinite[bit] === 0) this.finiteRemaining++;
      if (this.readOnly[bit] === 1) continue;
      this.node = this.next[2 * bit + 1];
      return true;
    }
  }

  /** Runs up to `stepBudget` steps; returns the outcome once the search has decided. */
  advance(stepBudget: number): SearchOutcome<S> | undefined {
    if (this.outcome !== undefined) return this.outcome;
    if (this.steps >= FOR_SEARCH_AFTER_STEPS && this.space.model === this.model && this.model.forSearch) {
      this.space.model = this.model.forSearch(this.operations);
    }
    const { next, readOnly, linearized, memo, space } = this;
    const stop = this.steps + stepBudget;
    while (this.finiteRemaining > 0) {
      if (this.steps >= stop) return undefined;
      this.steps++;
      // With finite ops left, a scan always meets a finite return before any infinite one.
      const node = this.node;
      if ((node & 1) === 1) {
        const bit = (node - 1) >>> 1;
        const after = space.step(this.stateId, bit);
        if (after !== REJECTED) {
          linearized.set(bit);
          let fresh: boolean;
          try {
            fresh = memo.add(linearized, after);
          } catch (error) {
            if (!(error instanceof MemoFullError)) throw error;
            linearized.clear(bit);
            this.outcome = this.finish('unknown', 'memory');
            return this.outcome;
          }
          if (this.budget.usedBytes > this.budget.bytesMax) {
            this.outcome = this.finish('unknown', 'memory');
            return this.outcome;
          }
          if (fresh) {
            this.stackBits[this.depth] = bit;
            this.stackStates[this.depth] = this.stateId;
            this.depth++;
            this.stateId = after;
            this.lift(bit);
            if (this.infinite[bit] === 0) this.finiteRemaining--;
            if (this.depth > this.longestDepth) {
              this.longestBits.set(this.stackBits.subarray(this.stackLow, this.depth), this.stackLow);
              this.stackLow = this.depth;
              this.longestDepth = this.depth;
            }
            this.node = this.firstChoice();
            if (this.node === DEAD && !this.backtrack()) {
              this.outcome = this.finish('not-linearizable');
              return this.outcome;
            }
            continue;
          }
          linearized.clear(bit);
          // An agreeing read leads only to explored ground: so does everything else here.
          if (readOnly[bit] === 1 && after === this.stateId) {
            if (!this.backtrack()) {
              this.outcome = this.finish('not-linearizable');
              return this.outcome;
            }
            continue;
          }
        }
        this.node = next[node];
        continue;
      }
      // A return: its operation was not linearized in time. Undo the last choice.
      if (!this.backtrack()) {
        this.outcome = this.finish('not-linearizable');
        return this.outcome;
      }
    }
    this.outcome = this.finish('linearizable');
    return this.outcome;
  }

  private linearizedOps(): Operation[] {
    const out: Operation[] = new Array(this.depth);
    for (let i = 0; i < this.depth; i++) out[i] = this.operations[this.stackBits[i]];
    return out;
  }

  private longestOps(): Operation[] {
    const out: Operation[] = new Array(this.longestDepth);
    for (let i = 0; i < this.longestDepth; i++) out[i] = this.operations[this.longestBits[i]];
    return out;
  }

  private finish(verdict: SearchOutcome<S>['verdict'], stoppedBy?: 'time' | 'memory'): SearchOutcome<S> {
    const base = {
      steps: this.steps,
      memoEntries: this.memo.entries,
      memoBytes: this.memo.bytes + this.space.bytes,
    };
    if (verdict === 'linearizable') {
      return { verdict, linearization: this.linearizedOps(), ...base };
    }
    if (verdict === 'unknown') {
      const longestPrefix = this.longestOps();
      return {
        verdict,
        longestPrefix,
        stateAfterPrefix: replay(this.model, longestPrefix),
        ...(stoppedBy === undefined ? {} : { stoppedBy }),
        ...base,
      };
    }
    return { verdict, ...explainFailure(this.model, this.operations, this.longestOps()), ...base };
  }
}

/** The model's state after a sequence the search ordered (so every step is accepted). */
function replay<S>(model: Model<S>, ordered: Operation[]): S {
  let state = model.init();
  for (const op of ordered) {
    const next = model.step(state, op);
    assert(next !== INCONSISTENT, 'the search ordered an operation its model rejects');
    state = next;
  }
  return state;
}

/**
 * Replays the longest prefix and lists the operations that could come next by real time:
 * those invoked before the first response still outstanding. None of them can follow the
 * prefix (each either contradicts the model state or leads to a dead end).
 */
function explainFailure<S>(
  model: Model<S>,
  operations: Operation[],
  prefix: Operation[],
): { longestPrefix: Operation[]; stateAfterPrefix: S; blocked: Operation[]; mustPrecede?: Operation } {
  const state = replay(model, prefix);
  const done = new Set<Operation>(prefix);
  const remaining = operations.filter((op) => !done.has(op));
  let firstReturn = Number.POSITIVE_INFINITY;
  let mustPrecede: Operation | undefined;
  for (const op of remaining) {
    if (op.completeIndex < firstReturn) {
      firstReturn = op.completeIndex;
      mustPrecede = op;
    }
  }
  const blocked = remaining.filter((op) => op.invokeIndex < firstReturn);
  const out: {
    longestPrefix: Operation[];
    stateAfterPrefix: S;
    blocked: Operation[];
    mustPrecede?: Operation;
  } = {
    longestPrefix: prefix,
    stateAfterPrefix: state,
    blocked,
  };
  if (mustPrecede !== undefined) out.mustPrecede = mustPrecede;
  return out;
}
