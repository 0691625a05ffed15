// One state for every value nobody can see. In a partition's history, a register (or a kv key)
// holding a value that no successful read returned and no cas expected, and that appends
// cannot grow into one, behaves the same whatever that value is: every later read and
// successful cas fails, an append leaves it unobservable, and only a write, a put or a delete
// brings back a value someone can see. So the search may treat all such values as one state,
// and the memo folds the branches that differ only in them. On 50-client kv histories with five
// keys (ten operations in flight per key), the search spent its time ordering appends before a
// put that the reads show after it: every order was a distinct string, so the memo never
// matched, and no key was decided in 60 s; merged, each key takes 0.1-0.7 million steps.
//
// Exact for strings (a value is observable when an observed string starts with it: one binary
// search in the sorted observed strings); lists are compared with each observed list, once per
// distinct value; other values are observable when equal to an observed one.

import type { Operation } from '../../history/event.js';
import { appendReaches, casArgument, INCONSISTENT, type Model, valueKey } from '../model.js';

/** What an append does to a value: concatenate to a string, push onto a list, or nothing valid. */
type Kind = 'string' | 'list' | 'other';

/** The one state standing for every unobservable value of a kind. */
class Unobservable {
  constructor(readonly kind: Kind) {}
}

const UNOBSERVABLE: Record<Kind, Unobservable> = {
  string: new Unobservable('string'),
  list: new Unobservable('list'),
  other: new Unobservable('other'),
};

function kindOf(value: unknown): Kind {
  return typeof value === 'string' ? 'string' : Array.isArray(value) ? 'list' : 'other';
}

/** The model's read and write functions (a cas is `cas`; `append` and `delete` as in kv). */
export interface RegisterNames {
  read: string;
  write: string;
}

/**
 * The model the search runs on one partition: `base` with every unobservable value merged into
 * one state per kind. Equivalent to `base` for every verdict (see the top of the file); the
 * states it reports must come from replaying `base`, which the search does.
 */
export function mergeUnobservable<S>(
  base: Model<S>,
  operations: Operation[],
  names: RegisterNames,
): Model<S> {
  const observed: unknown[] = [];
  for (const op of operations) {
    if (op.f === names.read && op.status === 'ok') observed.push(op.output);
    else if (op.f === 'cas') observed.push(casArgument(op.input)?.from);
  }
  const observedKeys = new Set(observed.map(valueKey));
  const distinct = [...new Map(observed.map((value) => [valueKey(value), value])).values()];
  // The observed strings in code-unit order: those that start with a string s form one run,
  // beginning where s would be inserted, so one binary search answers "is s a prefix of one?".
  const strings = distinct.filter((value): value is string => typeof value === 'string').sort();
  const lists = distinct.filter(Array.isArray);
  const prefixOfObservedString = (value: string): boolean => {
    let lo = 0;
    let hi = strings.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (strings[mid] < value) lo = mid + 1;
      else hi = mid;
    }
    return lo < strings.length && strings[lo].startsWith(value);
  };
  const listVerdicts = new Map<string, boolean>();
  /** Can no sequence of appends turn `value` into an observed value? */
  const unobservable = (value: unknown): boolean => {
    if (value === null || value === undefined) return false; // an absent key grows into anything
    if (typeof value === 'string') return !prefixOfObservedString(value);
    if (!Array.isArray(value)) return !observedKeys.has(valueKey(value));
    const key = valueKey(value);
    let answer = listVerdicts.get(key);
    if (answer === undefined) {
      answer = !lists.some((o) => appendReaches(value, o));
      listVerdicts.set(key, answer);
    }
    return answer;
  };
  const merge = (value: S): S =>
    unobservable(value) ? (UNOBSERVABLE[kindOf(value)] as unknown as S) : value;

  return {
    ...base,
    step(state, op) {
      if (state instanceof Unobservable) {
        if (op.f === 'append') {
          if (state.kind === 'list' || (state.kind === 'string' && typeof op.input === 'string'))
            return state;
          return INCONSISTENT;
        }
        // A read and a successful cas would need the value to be one someone observed.
        if (op.f === names.read || op.f === 'cas') return op.status === 'info' ? state : INCONSISTENT;
        // A write or a delete sets a value whatever the one before.
        const next = base.step(base.init(), op);
        return next === INCONSISTENT ? next : merge(next);
      }
      const next = base.step(state, op);
      return next === INCONSISTENT || next === state ? next : merge(next);
    },
    stateKey: (state) => (state instanceof Unobservable ? `\0u${state.kind}` : base.stateKey(state)),
    ...(base.growth === undefined
      ? {}
      : {
          growth: {
            ...base.growth,
            reaches: (from: S, to: unknown) =>
              !(from instanceof Unobservable) && base.growth!.reaches(from, to),
            ...(base.growth.stillReaches === undefined
              ? {}
              : {
                  stillReaches: (from: S, op: Operation, to: unknown) =>
                    !(from instanceof Unobservable) && base.growth!.stillReaches!(from, op, to),
                }),
          },
        }),
    describeState: (state) =>
      state instanceof Unobservable ? 'a value no read observes' : base.describeState(state),
  };
}
