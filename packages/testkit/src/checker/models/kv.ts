// A key-value map with get / put / append / delete / cas. Keys are independent, so the
// checker splits the history per key (P-compositionality) and checks each key as a register
// whose value is a string (append concatenates) or a list (append pushes an element).

import type { Operation } from '../../history/event.js';
import {
  appendReaches,
  casArgument,
  INCONSISTENT,
  type Model,
  partitionByKey,
  pruneUnobservedWrites,
  registerStep,
  show,
  valueKey,
} from '../model.js';
import { mergeUnobservable } from './unobservable.js';

export interface KvModelOptions {
  /**
   * What a get of an absent key returns, and what delete resets a key to. The Jepsen kv
   * histories in shared/data start every key as the empty string (the default); a store that
   * answers "not found" as null wants `initialValue: null`.
   */
  initialValue?: unknown;
}

/** A key's read and write functions. */
const NAMES = { read: 'get', write: 'put' };
const KV_FUNCTIONS = new Set(['get', 'put', 'append', 'delete', 'cas']);

function appendValue(state: unknown, suffix: unknown): unknown {
  if (Array.isArray(state)) return [...state, suffix];
  if (typeof state === 'string' && typeof suffix === 'string') return state + suffix;
  if (state === null || state === undefined) return typeof suffix === 'string' ? suffix : [suffix];
  return INCONSISTENT; // appending to a number or object has no meaning
}

export function createKvModel(options: KvModelOptions = {}): Model<unknown> {
  const initialValue = options.initialValue === undefined ? '' : options.initialValue;
  const model: Model<unknown> = {
    name: 'kv',
    init: () => initialValue,
    step(state, op) {
      if (op.f === 'append') return appendValue(state, op.input);
      if (op.f === 'delete') return initialValue;
      return registerStep(state, op, NAMES);
    },
    stateKey: valueKey,
    operationProblem(op: Operation) {
      if (!KV_FUNCTIONS.has(op.f)) return `a kv operation (get, put, append, delete, cas), not "${op.f}"`;
      if (op.key === undefined)
        return `a key on every kv operation (${op.f} by process ${op.process} has none)`;
      if (op.f === 'cas' && casArgument(op.input) === undefined) {
        return `a cas argument [from, to], not ${JSON.stringify(op.input)}`;
      }
      return undefined;
    },
    isReadOnly: (op) => op.f === 'get',
    // Between resets (put, delete, cas) a key's value only grows: a get that saw a value the
    // current one is not a prefix of is unreachable until a reset.
    growth: {
      grows: (op) => op.f === 'append',
      resetTo: (op) =>
        op.f === 'put' ? { state: op.input } : op.f === 'delete' ? { state: initialValue } : undefined,
      observed: (op) => op.output,
      reaches: appendReaches,
      stillReaches(from, op, to) {
        if (typeof from === 'string' && typeof op.input === 'string' && typeof to === 'string') {
          return to.startsWith(op.input, from.length);
        }
        const next = appendValue(from, op.input);
        return next !== INCONSISTENT && appendReaches(next, to);
      },
    },
    partition: partitionByKey,
    // Appends build on the value before them, so only append-free keys are pruned.
    pruneUnobservable: (operations) =>
      operations.some((op) => op.f === 'append') ? operations : pruneUnobservedWrites(operations, NAMES),
    describeOperation(op) {
      const arg = op.f === 'cas' ? casArgument(op.input) : undefined;
      const what =
        op.f === 'get'
          ? `get ${op.key} -> ${op.status === 'info' ? '?' : show(op.output)}`
          : op.f === 'delete'
            ? `delete ${op.key}`
            : op.f === 'cas' && arg !== undefined
              ? `cas ${op.key} ${show(arg.from)} -> ${show(arg.to)}`
              : `${op.f} ${op.key} ${show(op.input)}`;
      return `process ${op.process}: ${what}${op.status === 'info' ? ' (outcome unknown)' : ''}`;
    },
    describeState: show,
    forSearch: (operations) => mergeUnobservable(model, operations, NAMES),
  };
  return model;
}

/** The kv map whose keys start as the empty string, as in the Jepsen kv histories. */
export const kvModel: Model<unknown> = createKvModel();
