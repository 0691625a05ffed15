// Property tests: histories made by a real sequential execution of the model, stretched into
// random overlapping intervals around each operation's linearization point, must always be
// linearizable; making one read stale (return a value overwritten before it began) must
// always make them not linearizable. fast-check prints the failing seed and shrinks.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { casRegisterModel, checkLinearizable, createKvModel, type HistoryEvent } from '../src/index.js';

interface PlannedOp {
  f: 'read' | 'write' | 'cas';
  key: string;
  input: unknown;
  output: unknown;
  /** Linearization point, invocation and completion times (completion Infinity = info). */
  pointMs: number;
  invokeMs: number;
  completeMs: number;
  outcome: 'ok' | 'fail' | 'info';
}

const KEYS = ['a', 'b', 'c'];

const opSpec = fc.record({
  kind: fc.constantFrom('read', 'read', 'write', 'cas-hit', 'cas-miss'),
  key: fc.constantFrom(...KEYS),
  before: fc.integer({ min: 0, max: 30 }),
  after: fc.integer({ min: 0, max: 30 }),
  unknown: fc.boolean(),
  unknownP: fc.integer({ min: 0, max: 9 }),
});

type OpSpec = typeof opSpec extends fc.Arbitrary<infer T> ? T : never;

/** Executes the ops sequentially on registers (values unique per write) and times them. */
function plan(specs: OpSpec[]): PlannedOp[] {
  const state = new Map<string, unknown>(KEYS.map((k) => [k, null]));
  let nextValue = 1;
  return specs.map((spec, i) => {
    const pointMs = i * 10 + 5;
    const current = state.get(spec.key);
    const op: PlannedOp = {
      f: 'read',
      key: spec.key,
      input: null,
      output: current,
      pointMs,
      invokeMs: pointMs - spec.before - 1,
      completeMs: pointMs + spec.after + 1,
      outcome: 'ok',
    };
    if (spec.kind === 'write') {
      op.f = 'write';
      op.input = op.output = nextValue++;
      state.set(spec.key, op.input);
    } else if (spec.kind === 'cas-hit') {
      op.f = 'cas';
      op.input = op.output = [current, nextValue++];
      state.set(spec.key, (op.input as unknown[])[1]);
    } else if (spec.kind === 'cas-miss') {
      op.f = 'cas';
      op.input = op.output = [-1, nextValue++];
      op.outcome = 'fail';
    }
    // Some writes time out: the client never learns that they took effect (1 in 10).
    if (op.f !== 'read' && op.outcome === 'ok' && spec.unknown && spec.unknownP === 0) {
      op.outcome = 'info';
      op.completeMs = Number.POSITIVE_INFINITY;
    }
    return op;
  });
}

/** Lays the ops out as events, giving each op its own process (clients are concurrent). */
function toEvents(ops: PlannedOp[]): HistoryEvent[] {
  const timed: { timeMs: number; event: HistoryEvent }[] = [];
  ops.forEach((op, process) => {
    timed.push({
      timeMs: op.invokeMs,
      event: { process, type: 'invoke', f: op.f, key: op.key, value: op.input, timeMs: op.invokeMs },
    });
    if (op.completeMs !== Number.POSITIVE_INFINITY) {
      timed.push({
        timeMs: op.completeMs,
        event: { process, type: op.outcome, f: op.f, key: op.key, value: op.output, timeMs: op.completeMs },
      });
    }
  });
  // Times are distinct between an op's own events; ties between ops break by push order.
  timed.sort((a, b) => a.timeMs - b.timeMs);
  return timed.map((t) => t.event);
}

const kvRegisters = createKvModel({ initialValue: null });
const asKv = (events: HistoryEvent[]): HistoryEvent[] =>
  events.map((e) => ({ ...e, f: e.f === 'read' ? 'get' : e.f === 'write' ? 'put' : e.f }));

describe('generated histories', () => {
  it('a real sequential execution with random overlaps is always linearizable', () => {
    fc.assert(
      fc.property(fc.array(opSpec, { minLength: 1, maxLength: 40 }), (specs) => {
        const events = toEvents(plan(specs));
        expect(checkLinearizable(asKv(events), kvRegisters).verdict).toBe('linearizable');
        // The same history on one key as a cas-register (keys dropped, ops on different keys
        // then interfere) is not necessarily linearizable, so only the per-key model is asserted.
      }),
      { numRuns: 200 },
    );
  });

  it('a single-register execution is linearizable under casRegisterModel', () => {
    fc.assert(
      fc.property(
        fc.array(
          opSpec.map((s) => ({ ...s, key: 'a' })),
          { minLength: 1, maxLength: 40 },
        ),
        (specs) => {
          const events = toEvents(plan(specs)).map(({ key: _key, ...rest }) => rest);
          expect(checkLinearizable(events, casRegisterModel).verdict).toBe('linearizable');
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a stale read injected into such a history is always caught', () => {
    fc.assert(
      fc.property(fc.array(opSpec, { minLength: 3, maxLength: 40 }), fc.nat(), (specs, pick) => {
        const ops = plan(specs);
        // A read R, and writes W1 -> W2 -> R in real time on R's key, both acknowledged: R
        // returning W1's value is stale (values are unique, so nothing else rewrote it).
        const candidates: { read: PlannedOp; stale: unknown }[] = [];
        for (const read of ops) {
          if (read.f !== 'read') continue;
          const writesBefore = ops.filter(
            (w) => w.key === read.key && w.f !== 'read' && w.outcome === 'ok' && w.completeMs < read.invokeMs,
          );
          for (const w1 of writesBefore) {
            if (writesBefore.some((w2) => w2 !== w1 && w1.completeMs < w2.invokeMs)) {
              const stale = w1.f === 'write' ? w1.input : (w1.input as unknown[])[1];
              if (stale !== read.output) candidates.push({ read, stale });
            }
          }
        }
        fc.pre(candidates.length > 0);
        const { read, stale } = candidates[pick % candidates.length];
        read.output = stale;
        const result = checkLinearizable(asKv(toEvents(ops)), kvRegisters);
        expect(result.verdict).toBe('not-linearizable');
        expect(result.failure!.key).toBe(read.key);
      }),
      { numRuns: 200 },
    );
  });
});
