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

import type { Operation } from '../history/event.js';
import { INCONSISTENT, type Model } from './model.js';

/** How often (in search steps) the deadline is looked at: cheap enough, fine enough. */
const DEADLINE_CHECK_STEPS = 1024;

interface Entry {
  op: Operation;
  /** Index of op in this partition (its bit in the linearized set). */
  bit: number;
  isCall: boolean;
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
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
  steps: number;
}

export interface SearchOptions {
  deadlineMs: number;
  nowMs: () => number;
}

function buildList(operations: Operation[]): Entry {
  const events: { time: number; entry: Entry }[] = [];
  operations.forEach((op, bit) => {
    const call: Entry = { op, bit, isCall: true, match: null, prev: null, next: null };
    const ret: Entry = { op, bit, isCall: false, match: call, prev: null, next: null };
    call.match = ret;
    events.push({ time: op.invokeIndex, entry: call });
    // Unknown outcomes return after everything else, in order of invocation.
    events.push({
      time: op.completeIndex === Number.POSITIVE_INFINITY ? Number.MAX_VALUE : op.completeIndex,
      entry: ret,
    });
  });
  // Array.prototype.sort is stable: infinite returns keep invocation order among themselves.
  events.sort((a, b) => a.time - b.time);
  const head: Entry = { op: operations[0], bit: -1, isCall: false, match: null, prev: null, next: null };
  let last = head;
  for (const { entry } of events) {
    last.next = entry;
    entry.prev = last;
    last = entry;
  }
  return head;
}

function lift(entry: Entry): void {
  entry.prev!.next = entry.next;
  if (entry.next !== null) entry.next.prev = entry.prev;
  const ret = entry.match!;
  ret.prev!.next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

function unlift(entry: Entry): void {
  const ret = entry.match!;
  ret.prev!.next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  entry.prev!.next = entry;
  if (entry.next !== null) entry.next.prev = entry;
}

/** The linearized set as a string of 16-bit words: a compact memo key. */
class BitSet {
  private readonly words: Uint16Array;
  constructor(size: number) {
    this.words = new Uint16Array(Math.ceil(size / 16) + 1);
  }
  set(bit: number): void {
    this.words[bit >>> 4] |= 1 << (bit & 15);
  }
  clear(bit: number): void {
    this.words[bit >>> 4] &= ~(1 << (bit & 15));
  }
  key(): string {
    return String.fromCharCode.apply(null, this.words as unknown as number[]);
  }
}

export function searchLinearization<S>(
  model: Model<S>,
  operations: Operation[],
  options: SearchOptions,
): SearchOutcome<S> {
  if (operations.length === 0) return { verdict: 'linearizable', linearization: [], steps: 0 };
  const head = buildList(operations);
  const linearized = new BitSet(operations.length);
  const memo = new Set<string>();
  const stack: { entry: Entry; state: S }[] = [];
  let finiteRemaining = operations.filter((op) => op.completeIndex !== Number.POSITIVE_INFINITY).length;
  let state = model.init();
  let entry: Entry | null = head.next;
  let longest: Operation[] = [];
  let longestState = state;
  let steps = 0;

  while (finiteRemaining > 0) {
    steps++;
    if (steps % DEADLINE_CHECK_STEPS === 0 && options.nowMs() > options.deadlineMs) {
      return { verdict: 'unknown', longestPrefix: longest, stateAfterPrefix: longestState, steps };
    }
    // With finite ops left, a scan always meets a finite return before any infinite one.
    const current: Entry = entry!;
    if (current.isCall) {
      const next = model.step(state, current.op);
      if (next !== INCONSISTENT) {
        linearized.set(current.bit);
        const key = `${linearized.key()}\u0000${model.stateKey(next)}`;
        if (!memo.has(key)) {
          memo.add(key);
          stack.push({ entry: current, state });
          state = next;
          lift(current);
          if (current.op.completeIndex !== Number.POSITIVE_INFINITY) finiteRemaining--;
          if (stack.length > longest.length) {
            longest = stack.map((s) => s.entry.op);
            longestState = state;
          }
          entry = head.next;
          continue;
        }
        linearized.clear(current.bit);
      }
      entry = current.next;
      continue;
    }
    // A return: its operation was not linearized in time. Undo the last choice.
    const top = stack.pop();
    if (top === undefined) {
      return { verdict: 'not-linearizable', ...explainFailure(model, operations, longest), steps };
    }
    state = top.state;
    linearized.clear(top.entry.bit);
    unlift(top.entry);
    if (top.entry.op.completeIndex !== Number.POSITIVE_INFINITY) finiteRemaining++;
    entry = top.entry.next;
  }
  return { verdict: 'linearizable', linearization: stack.map((s) => s.entry.op), steps };
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
  let state = model.init();
  const done = new Set<Operation>();
  for (const op of prefix) {
    const next = model.step(state, op);
    if (next === INCONSISTENT) break; // cannot happen: the prefix was built by stepping
    state = next;
    done.add(op);
  }
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
