// Kafka's range assignor (src/streams/range-assigner.ts), pure: the Java client's documented
// example, and properties over random groups.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignRanges } from '../src/streams/range-assigner.js';

describe('assignRanges (Kafka RangeAssignor)', () => {
  it("gives two members of two 3-partition topics Kafka's documented split", () => {
    const subscriptions = new Map([
      ['C1', ['t0', 't1']],
      ['C0', ['t0', 't1']],
    ]);
    const partitions = new Map([
      ['t0', [2, 0, 1]],
      ['t1', [0, 1, 2]],
    ]);
    expect(assignRanges(subscriptions, partitions)).toEqual(
      new Map([
        ['C1', { t0: [2], t1: [2] }],
        ['C0', { t0: [0, 1], t1: [0, 1] }],
      ]),
    );
  });

  it('gives a topic only to its subscribers, and nothing to a member beyond the partitions', () => {
    const out = assignRanges(
      new Map([
        ['a', ['x']],
        ['b', ['x', 'y']],
        ['c', ['x']],
      ]),
      new Map([
        ['x', [0, 1]],
        ['y', [0, 1, 2]],
      ]),
    );
    expect(out.get('a')).toEqual({ x: [0] });
    expect(out.get('b')).toEqual({ x: [1], y: [0, 1, 2] });
    expect(out.get('c')).toEqual({});
  });

  it('per topic: every partition once, contiguous runs in member-id order, sizes within one, larger first', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 20 }),
        (members, count) => {
          const ids = Array.from({ length: count }, (_, p) => p);
          const out = assignRanges(new Map(members.map((m) => [m, ['t']])), new Map([['t', ids]]));
          const runs = [...members].sort().map((m) => out.get(m)!.t ?? []);
          expect(runs.flat()).toEqual(ids);
          const sizes = runs.map((r) => r.length);
          expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
          expect([...sizes].sort((a, b) => b - a)).toEqual(sizes);
        },
      ),
    );
  });
});
