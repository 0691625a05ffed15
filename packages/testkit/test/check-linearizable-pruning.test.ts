// The checker drops unknown-outcome writes that nothing observes (model.pruneUnobservable). That
// must never change a verdict: on random small histories, with and without pruning, the
// answers agree — including histories that are not linearizable, and info cas chains.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkLinearizable,
  createCasRegisterModel,
  createKvModel,
  type HistoryEvent,
  type Model,
  valueKey,
} from '../src/index.js';

const RUNS = process.env.DDIA_LONG === '1' ? 20_000 : 1_500;

const opArb = fc.record({
  process: fc.integer({ min: 0, max: 3 }),
  f: fc.constantFrom('read', 'write', 'cas'),
  a: fc.integer({ min: 0, max: 3 }),
  b: fc.integer({ min: 0, max: 3 }),
  outcome: fc.constantFrom('ok', 'ok', 'info', 'fail'),
  start: fc.integer({ min: 0, max: 20 }),
  length: fc.integer({ min: 1, max: 8 }),
});

/** Random operations with random results: some histories are linearizable, many are not. */
type OpDraw = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

function toHistory(ops: OpDraw[], names: { read: string; write: string }): HistoryEvent[] {
  // One open operation per process: later ops of a busy process move after its previous one.
  const busyUntil = new Map<number, number>();
  const events: { timeMs: number; event: HistoryEvent }[] = [];
  for (const op of ops) {
    const start = Math.max(op.start, busyUntil.get(op.process) ?? 0);
    const end = start + op.length;
    const f = op.f === 'read' ? names.read : op.f === 'write' ? names.write : 'cas';
    const input = op.f === 'read' ? null : op.f === 'write' ? op.a : [op.a, op.b];
    const outcome = op.f === 'read' && op.outcome === 'info' ? 'fail' : op.outcome;
    events.push({
      timeMs: start,
      event: { process: op.process, type: 'invoke', f, key: 'k', value: input, timeMs: start },
    });
    if (outcome === 'info') {
      busyUntil.set(op.process, Number.POSITIVE_INFINITY);
      continue;
    }
    const output = op.f === 'read' ? (op.b === 0 ? null : op.b) : input;
    events.push({
      timeMs: end + 0.5,
      event: { process: op.process, type: outcome, f, key: 'k', value: output, timeMs: end + 0.5 },
    });
    busyUntil.set(op.process, end + 1);
  }
  return events
    .filter((e) => Number.isFinite(e.timeMs))
    .sort((x, y) => x.timeMs - y.timeMs)
    .map((e) => e.event);
}

function withoutPruning(model: Model<unknown>): Model<unknown> {
  const { pruneUnobservable: _ignored, ...rest } = model;
  return rest;
}

describe('pruning unobserved unknown-outcome writes keeps every verdict', () => {
  for (const [name, model, names] of [
    ['cas-register', createCasRegisterModel(), { read: 'read', write: 'write' }],
    ['kv', createKvModel({ initialValue: null }), { read: 'get', write: 'put' }],
  ] as const) {
    it(`${name}: same verdict with and without pruning over ${RUNS} random histories`, () => {
      let notLinearizable = 0;
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 9 }), (ops) => {
          const history = toHistory(ops, names);
          const pruned = checkLinearizable(history, model).verdict;
          const full = checkLinearizable(history, withoutPruning(model)).verdict;
          if (full === 'not-linearizable') notLinearizable++;
          expect(pruned).toBe(full);
        }),
        { numRuns: RUNS },
      );
      // The generator must exercise both verdicts, or the comparison proves little.
      expect(notLinearizable).toBeGreaterThan(RUNS / 10);
    });
  }
});

describe('valueKey (the memo key of a state)', () => {
  it('is distinct for distinct values of any type, a string being its own key', () => {
    const values: unknown[] = [
      null,
      '',
      'n',
      '1',
      1,
      '\0d1',
      '\0n',
      '\0s',
      '\0sx',
      'x',
      [1],
      '[1]',
      '\0j[1]',
      { a: 1 },
    ];
    const keys = values.map(valueKey);
    expect(new Set(keys).size).toBe(values.length);
    expect(valueKey('x 1 y')).toBe('x 1 y');
    expect(valueKey(undefined)).toBe(valueKey(null)); // an absent value reads as nil
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        if (JSON.stringify(a) !== JSON.stringify(b)) expect(valueKey(a)).not.toBe(valueKey(b));
      }),
    );
  });
});
