// A long search merges every value that no read or cas can observe into one state
// (models/unobservable.ts, through model.forSearch). That must never change a verdict: on
// random small kv histories (appends that build strings and lists, puts, deletes, cas, reads of
// values that share prefixes and substrings), the model forSearch makes for the history's
// operations and the plain model agree, and both verdicts occur often. (Searches this small
// end before the checker would swap the model in, so the test checks the merged model itself.)
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkLinearizable,
  createKvModel,
  type HistoryEvent,
  type Model,
  relevantOperations,
} from '../src/index.js';

const RUNS = process.env.DDIA_LONG === '1' ? 20_000 : 750;

/** Short values with shared prefixes and substrings ('a' is in 'ba'), and non-strings. */
const STRINGS = ['', 'a', 'b', 'ab', 'ba', 'aab', 'abb', 'bab'];
const VALUES: unknown[] = [...STRINGS, 1, 2, [1], [1, 2], [2], null];

const opArb = fc.record({
  process: fc.integer({ min: 0, max: 3 }),
  f: fc.constantFrom('get', 'get', 'put', 'append', 'append', 'delete', 'cas'),
  a: fc.integer({ min: 0, max: VALUES.length - 1 }),
  b: fc.integer({ min: 0, max: VALUES.length - 1 }),
  outcome: fc.constantFrom('ok', 'ok', 'ok', 'info', 'fail'),
  start: fc.integer({ min: 0, max: 20 }),
  length: fc.integer({ min: 1, max: 8 }),
});
type OpDraw = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

/** Values drawn from `pool` (strings only, or every kind); random results, one op per process. */
function toHistory(ops: OpDraw[], pool: readonly unknown[]): HistoryEvent[] {
  const value = (i: number) => pool[i % pool.length];
  const busyUntil = new Map<number, number>();
  const events: HistoryEvent[] = [];
  for (const op of ops) {
    const start = Math.max(op.start, busyUntil.get(op.process) ?? 0);
    if (!Number.isFinite(start)) continue; // its process timed out: it invokes nothing more
    const end = start + op.length;
    const input =
      op.f === 'get' || op.f === 'delete' ? null : op.f === 'cas' ? [value(op.a), value(op.b)] : value(op.a);
    const outcome = op.f === 'get' && op.outcome === 'info' ? 'fail' : op.outcome;
    events.push({ process: op.process, type: 'invoke', f: op.f, key: 'k', value: input, timeMs: start });
    if (outcome === 'info') {
      busyUntil.set(op.process, Number.POSITIVE_INFINITY);
      continue;
    }
    const output = op.f === 'get' ? value(op.b) : input;
    events.push({ process: op.process, type: outcome, f: op.f, key: 'k', value: output, timeMs: end + 0.5 });
    busyUntil.set(op.process, end + 1);
  }
  return events.sort((x, y) => x.timeMs - y.timeMs);
}

function withoutMerging(model: Model<unknown>): Model<unknown> {
  const { forSearch: _ignored, ...rest } = model;
  return rest;
}

/** The merged model for this history's operations (one key: one partition), used from the start. */
function merged(model: Model<unknown>, history: HistoryEvent[]): Model<unknown> {
  return withoutMerging(model.forSearch!(relevantOperations(history, model)));
}

describe('merging unobservable values keeps every verdict', () => {
  for (const [name, model, pool] of [
    ['kv of strings', createKvModel(), STRINGS],
    ['kv of strings, lists, numbers and nil', createKvModel({ initialValue: null }), VALUES],
  ] as const) {
    it(`${name}: same verdict with and without merging over ${RUNS} random histories`, () => {
      expect(model.forSearch, 'the kv model merges unobservable values').toBeDefined();
      const verdicts = { linearizable: 0, 'not-linearizable': 0, unknown: 0 };
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 10 }), (ops) => {
          const history = toHistory(ops, pool);
          const plain = checkLinearizable(history, withoutMerging(model)).verdict;
          verdicts[plain]++;
          expect(checkLinearizable(history, merged(model, history)).verdict).toBe(plain);
        }),
        { numRuns: RUNS },
      );
      // Both verdicts must be common, or the comparison proves little.
      expect(verdicts['not-linearizable']).toBeGreaterThan(RUNS / 10);
      expect(verdicts.linearizable).toBeGreaterThan(RUNS / 10);
    });
  }
});
