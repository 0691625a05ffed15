// A sequential specification for the linearizability checker, in the shape Porcupine uses
// (Athalye, "Porcupine"): an initial state, a step function that applies one operation with its
// observed output (or rejects it), a state key for memoisation, and a partition function that
// splits a history into independent sub-histories (P-compositionality, Horn & Kroening 2015).

import type { Operation } from '../history/event.js';

/** Returned by `step` when the operation's observed output is impossible in that state. */
export const INCONSISTENT: unique symbol = Symbol('inconsistent');

export interface Partition {
  /** The key this partition covers; undefined for a single-object model. */
  key?: string;
  operations: Operation[];
}

export interface Model<S = unknown> {
  readonly name: string;
  init(): S;
  /**
   * Applies `op` to `state`. An op with status `info` has no observed output: the model must
   * accept any outcome (e.g. an unknown cas applies when it matches and is a no-op otherwise).
   */
  step(state: S, op: Operation): S | typeof INCONSISTENT;
  /** Equal states must give equal keys: the memo of (linearized set, state) relies on it. */
  stateKey(state: S): string;
  /** Why the model cannot check `op` (unknown function, malformed argument), or undefined. */
  operationProblem(op: Operation): string | undefined;
  /** Read-only functions: an unknown-outcome read constrains nothing and is dropped. */
  isReadOnly(op: Operation): boolean;
  partition(operations: Operation[]): Partition[];
  /**
   * Optional: the model to search one partition's operations with, when knowing them lets it
   * merge states that no operation can tell apart (models/unobservable.ts). It must give the
   * same verdict as this model on those operations; the search replays this one for reports.
   */
  forSearch?(operations: Operation[]): Model<S>;
  /**
   * Optional: drops unknown-outcome operations whose effect no other operation can observe.
   * Such an operation may be taken never to have happened, so dropping it cannot change the
   * verdict, while every open-ended operation multiplies the search (Knossos does the same).
   */
  pruneUnobservable?(operations: Operation[]): Operation[];
  /**
   * Optional: lets the search prune a configuration as soon as a pending read can no longer be
   * satisfied (wgl-search.ts). Each answer must be safe: `grows` true only for operations that
   * can do nothing but extend the state, `reaches` false only when no sequence of growing
   * operations turns `from` into `to`.
   */
  growth?: {
    grows(op: Operation): boolean;
    /**
     * The state an operation sets whatever the state before it (a put, a delete), or undefined
     * when it depends on that state or the operation does not reset (a cas).
     */
    resetTo(op: Operation): { state: unknown } | undefined;
    /** The state a successful read-only operation saw. */
    observed(op: Operation): unknown;
    reaches(from: S, to: unknown): boolean;
    /**
     * Optional shortcut, for a growing `op` and a `from` that reaches `to`: does the state
     * after `op` still reach `to`? (A string checks only the appended part.)
     */
    stillReaches?(from: S, op: Operation, to: unknown): boolean;
  };
  describeOperation(op: Operation): string;
  describeState(state: S): string;
}

/**
 * Can appends turn `from` into `to`? A string grows by concatenation, a list by pushing
 * elements; null / undefined (an absent key) can become anything. Used by the models' `growth`.
 */
export function appendReaches(from: unknown, to: unknown): boolean {
  if (from === null || from === undefined) return true;
  if (typeof from === 'string') return typeof to === 'string' && to.startsWith(from);
  if (Array.isArray(from)) {
    if (!Array.isArray(to) || to.length < from.length) return false;
    for (let i = 0; i < from.length; i++) if (!sameValue(from[i], to[i])) return false;
    return true;
  }
  return sameValue(from, to);
}

/** Value equality for register contents: primitives by ===, structures by their JSON. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return (a ?? null) === (b ?? null);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * A memo key for a value, distinct for distinct values (1 and "1" differ). A string is its own
 * key (no copy of a long append-built state on every search step), unless it begins with the
 * NUL character that tags every other kind of value.
 */
export function valueKey(value: unknown): string {
  if (typeof value === 'string') return value.charCodeAt(0) === 0 ? `\0s${value}` : value;
  if (value === null || value === undefined) return '\0n';
  if (typeof value === 'number') return `\0d${value}`;
  return `\0j${JSON.stringify(value)}`;
}

export function show(value: unknown): string {
  return value === undefined ? 'nil' : value === null ? 'nil' : JSON.stringify(value);
}

/** Reads a cas argument written as [from, to] (Jepsen) or {from, to}. */
export function casArgument(input: unknown): { from: unknown; to: unknown } | undefined {
  if (Array.isArray(input) && input.length === 2) return { from: input[0], to: input[1] };
  if (typeof input === 'object' && input !== null && 'from' in input && 'to' in input) {
    const pair = input as { from: unknown; to: unknown };
    return { from: pair.from, to: pair.to };
  }
  return undefined;
}

/** Groups operations by key (operations without a key share the key ''). */
export function partitionByKey(operations: Operation[]): Partition[] {
  const byKey = new Map<string, Operation[]>();
  for (const op of operations) {
    const key = op.key ?? '';
    let list = byKey.get(key);
    if (list === undefined) byKey.set(key, (list = []));
    list.push(op);
  }
  const out: Partition[] = [];
  for (const [key, ops] of byKey) {
    out.push(ops.length > 0 && ops[0].key === undefined ? { operations: ops } : { key, operations: ops });
  }
  return out;
}

/**
 * An info write (or cas) that sets a value no operation ever observes can be taken never to
 * have happened: putting it anywhere in a linearization only sets a state that nobody reads,
 * and no successful cas expects. Observed values are what ok reads returned and what ok cas
 * expected, closed over kept info cas (one that sets an observed value may need its `from`).
 * Only for register-like keys: an append builds on whatever came before it.
 */
export function pruneUnobservedWrites(
  operations: Operation[],
  names: { read: string; write: string },
): Operation[] {
  const observed = new Set<string>();
  for (const op of operations) {
    if (op.status !== 'ok') continue;
    if (op.f === names.read) observed.add(valueKey(op.output));
    else if (op.f === 'cas') observed.add(valueKey(casArgument(op.input)!.from));
  }
  const infoCas = operations.filter((op) => op.status === 'info' && op.f === 'cas');
  for (let grew = true; grew; ) {
    grew = false;
    for (const op of infoCas) {
      const arg = casArgument(op.input)!;
      const from = valueKey(arg.from);
      if (observed.has(valueKey(arg.to)) && !observed.has(from)) {
        observed.add(from);
        grew = true;
      }
    }
  }
  return operations.filter((op) => {
    if (op.status !== 'info') return true;
    if (op.f === names.write) return observed.has(valueKey(op.input));
    if (op.f === 'cas') return observed.has(valueKey(casArgument(op.input)!.to));
    return true;
  });
}

/**
 * The step of a register's read, write and cas (named by `names`; cas is `cas`): the shared
 * core of the cas-register and kv models. INCONSISTENT for any other function.
 */
export function registerStep(
  state: unknown,
  op: Operation,
  names: { read: string; write: string },
): unknown | typeof INCONSISTENT {
  if (op.f === names.read) return readStep(state, op);
  if (op.f === names.write) return op.input;
  if (op.f === 'cas') return casStep(state, op);
  return INCONSISTENT;
}

/** A read: its observed output must be the state (an unknown-outcome read constrains nothing). */
function readStep(state: unknown, op: Operation): unknown | typeof INCONSISTENT {
  return op.status === 'info' || sameValue(op.output, state) ? state : INCONSISTENT;
}

/** Compare-and-set: a cas that succeeded must have matched; one of unknown outcome may have failed. */
function casStep(state: unknown, op: Operation): unknown | typeof INCONSISTENT {
  const arg = casArgument(op.input)!;
  if (sameValue(state, arg.from)) return arg.to;
  return op.status === 'info' ? state : INCONSISTENT;
}
