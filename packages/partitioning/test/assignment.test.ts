// The shard controller's rules (MIT 6.5840 Lab 4A) as properties: after any sequence of joins
// and leaves, every partition has a live owner, counts differ by at most one, the number of
// partitions moved is the least any balanced assignment could move, and partitions on nodes a
// change does not concern stay where they are.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countsOf, movesBetween, rebalance } from '../src/core/assignment.js';

const NODE_POOL = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

const stepArb = fc.record({
  kind: fc.constantFrom('join' as const, 'leave' as const),
  node: fc.constantFrom(...NODE_POOL),
});

/** The least number of moves of any balanced assignment, by trying every choice of which
 *  nodes get the larger share (feasible for up to 7 nodes). */
function minimumMoves(before: readonly (string | null)[], nodes: readonly string[]): number {
  const counts = countsOf(before, nodes);
  const orphans = before.filter((o) => o === null || !nodes.includes(o)).length;
  const base = Math.floor(before.length / nodes.length);
  const extra = before.length % nodes.length;
  let best = Number.POSITIVE_INFINITY;
  for (let mask = 0; mask < 1 << nodes.length; mask++) {
    let bits = 0;
    for (let i = 0; i < nodes.length; i++) if (mask & (1 << i)) bits++;
    if (bits !== extra) continue;
    let given = 0;
    nodes.forEach((n, i) => {
      const share = base + (mask & (1 << i) ? 1 : 0);
      given += Math.max(0, (counts.get(n) as number) - share);
    });
    best = Math.min(best, orphans + given);
  }
  return best;
}

describe('shard controller: rebalance', () => {
  it('after any sequence of joins and leaves: balanced within one, minimal moves, unaffected nodes unchanged', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.array(stepArb, { minLength: 1, maxLength: 25 }),
        (partitions, steps) => {
          let nodes: string[] = [];
          let owners: (string | null)[] = new Array(partitions).fill(null);
          for (const step of steps) {
            const next =
              step.kind === 'join'
                ? [...new Set([...nodes, step.node])]
                : nodes.filter((n) => n !== step.node);
            if (next.length === 0 || next.length === nodes.length) continue;
            const after = rebalance(owners, next);
            // 1. every partition on a live node
            expect(after.every((o) => next.includes(o))).toBe(true);
            // 2. balanced within one
            const counts = [...countsOf(after, next).values()];
            expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
            // 3. minimal moves
            const moves = movesBetween(owners, after);
            expect(moves.length).toBe(minimumMoves(owners, next));
            // 4. a join only moves partitions to the new node; a leave only moves the leaver's
            //    partitions (when the assignment was balanced before, as it always is here).
            if (nodes.length > 0 && step.kind === 'join') {
              expect(moves.every((m) => m.to === step.node)).toBe(true);
            }
            if (step.kind === 'leave') {
              expect(moves.every((m) => m.from === step.node)).toBe(true);
            }
            // No node both gives and receives.
            const givers = new Set(moves.map((m) => m.from));
            expect(moves.some((m) => givers.has(m.to))).toBe(false);
            owners = after;
            nodes = next;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is deterministic: the same input gives the same assignment in any node order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.shuffledSubarray(NODE_POOL, { minLength: 1 }),
        (partitions, nodes) => {
          const first = rebalance(new Array(partitions).fill(null), nodes);
          const second = rebalance(new Array(partitions).fill(null), [...nodes].reverse());
          expect(second).toEqual(first);
        },
      ),
    );
  });

  it('leaves a balanced assignment alone', () => {
    const owners = rebalance(new Array(10).fill(null), ['a', 'b', 'c']);
    expect(movesBetween(owners, rebalance(owners, ['a', 'b', 'c']))).toEqual([]);
  });

  it('gives nodes beyond the partition count nothing rather than failing', () => {
    const owners = rebalance(new Array(2).fill(null), ['a', 'b', 'c']);
    const counts = countsOf(owners, ['a', 'b', 'c']);
    expect([...counts.values()].sort()).toEqual([0, 1, 1]);
  });
});
