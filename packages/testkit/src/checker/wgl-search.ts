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
// The search is resumable: `advance(steps)` runs a bounded number of steps and returns, so the
// checker can interleave the partitions of a history (Porcupine checks them in parallel and
// stops at the first that fails: one easy counterexample settles the verdict even when another
// partition would take hours to decide).

import type { Operation } from '../history/event.js';
import { LinearizedSet, type MemoBudget, MemoFullError, MemoTable } from './memo-table.js';
import { INCONSISTENT, type Model } from './model.js';

interface Entry {
  op: Operation;
  /** Index of op in this partition (its bit in the linearized set). */
  bit: number;
  isCall: boolean;
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
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
  private readonly head: Entry;
  private readonly linearized: LinearizedSet;
  private readonly memo: MemoTable;
  private readonly stack: { entry: Entry; state: S }[] = [];
  private finiteRemaining: number;
  private state: S;
  private entry: Entry | null;
  private longest: Operation[] = [];
  private longestState: S;
  private steps = 0;
  private outcome: SearchOutcome<S> | undefined;

  constructor(
    private readonly model: Model<S>,
    private readonly operations: Operation[],
    memoBudget: MemoBudget,
  ) {
    this.linearized = new LinearizedSet(operations.length);
    this.memo = new MemoTable(operations.length, memoBudget);
    this.finiteRemaining = operations.filter((op) => op.completeIndex !== Number.POSITIVE_INFINITY).length;
    this.state = model.init();
    this.longestState = this.state;
    if (operations.length === 0) {
      this.head = {
        op: undefined as unknown as Operation,
        bit: -1,
        isCall: false,
        match: null,
        prev: null,
        next: null,
      };
      this.entry = null;
      this.outcome = this.finish('linearizable');
    } else {
      this.head = buildList(operations);
      this.entry = this.head.next;
    }
  }

  /** The verdict once decided; undefined while the search still runs. */
  get result(): SearchOutcome<S> | undefined {
    return this.outcome;
  }

  /** Stops an undecided search (its time ran out): the verdict is unknown. */
  giveUp(): SearchOutcome<S> {
    this.outcome ??= this.finish('unknown', 'time');
    return this.outcome;
  }

  /** Runs up to `stepBudget` steps; returns the outcome once the search has decided. */
  advance(stepBudget: number): SearchOutcome<S> | undefined {
    if (this.outcome !== undefined) return this.outcome;
    const { model } = this;
    const stop = this.steps + stepBudget;
    while (this.finiteRemaining > 0) {
      if (this.steps >= stop) return undefined;
      this.steps++;
      // With finite ops left, a scan always meets a finite return before any infinite one.
      const current: Entry = this.entry!;
      if (current.isCall) {
        const next = model.step(this.state, current.op);
        if (next !== INCONSISTENT) {
          this.linearized.set(current.bit);
          let fresh: boolean;
          try {
            fresh = this.memo.add(this.linearized, model.stateKey(next));
          } catch (error) {
            if (!(error instanceof MemoFullError)) throw error;
            this.linearized.clear(current.bit);
            this.outcome = this.finish('unknown', 'memory');
            return this.outcome;
          }
          if (fresh) {
            this.stack.push({ entry: current, state: this.state });
            this.state = next;
            lift(current);
            if (current.op.completeIndex !== Number.POSITIVE_INFINITY) this.finiteRemaining--;
            if (this.stack.length > this.longest.length) {
              this.longest = this.stack.map((s) => s.entry.op);
              this.longestState = this.state;
            }
            this.entry = this.head.next;
            continue;
          }
          this.linearized.clear(current.bit);
        }
        this.entry = current.next;
        continue;
      }
      // A return: its operation was not linearized in time. Undo the last choice.
      const top = this.stack.pop();
      if (top === undefined) {
        this.outcome = this.finish('not-linearizable');
        return this.outcome;
      }
      this.state = top.state;
      this.linearized.clear(top.entry.bit);
      unlift(top.entry);
      if (top.entry.op.completeIndex !== Number.POSITIVE_INFINITY) this.finiteRemaining++;
      this.entry = top.entry.next;
    }
    this.outcome = this.finish('linearizable');
    return this.outcome;
  }

  private finish(verdict: SearchOutcome<S>['verdict'], stoppedBy?: 'time' | 'memory'): SearchOutcome<S> {
    const base = { steps: this.steps, memoEntries: this.memo.entries, memoBytes: this.memo.bytes };
    if (verdict === 'linearizable') {
      return { verdict, linearization: this.stack.map((s) => s.entry.op), ...base };
    }
    if (verdict === 'unknown') {
      return {
        verdict,
        longestPrefix: this.longest,
        stateAfterPrefix: this.longestState,
        ...(stoppedBy === undefined ? {} : { stoppedBy }),
        ...base,
      };
    }
    return { verdict, ...explainFailure(this.model, this.operations, this.longest), ...base };
  }
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
