// Siblings with dotted version vectors, told as the book's Figure 5-13 (two clients adding to
// one shopping cart): a write that sends back the context it read supersedes exactly what it
// saw; writes that saw nothing of each other become siblings.
import { describe, expect, it } from 'vitest';
import {
  applyMutation,
  collectTombstones,
  type KeyState,
  mergeStates,
  viewOf,
} from '../src/core/key-state.js';
import { compareVectors, type VersionVector } from '../src/core/version-vector.js';

const put = (
  state: KeyState | undefined,
  value: string,
  context: VersionVector | null,
  node = 's',
  wallMs = 0,
) => applyMutation(state, { op: 'put', value, context, type: 'mv' }, node, wallMs);

describe('version vectors', () => {
  it('orders histories: before, after, equal, concurrent', () => {
    expect(compareVectors({ a: 1 }, { a: 2 })).toBe('before');
    expect(compareVectors({ a: 2, b: 1 }, { a: 2 })).toBe('after');
    expect(compareVectors({ a: 1, b: 0 }, { a: 1 })).toBe('equal');
    expect(compareVectors({ a: 2 }, { b: 1 })).toBe('concurrent');
  });
});

describe('Figure 5-13: capturing causal dependencies between two clients writing one cart', () => {
  it('keeps concurrent writes as siblings and lets each write supersede only what it saw', () => {
    // Client 1 adds milk: version 1, context {s:1}.
    let cart = put(undefined, 'milk', null);
    const seenBy1 = viewOf(cart).context;
    // Client 2 adds eggs without having read: a sibling of milk.
    cart = put(cart, 'eggs', null);
    const seenBy2 = viewOf(cart).context;
    expect(viewOf(cart).values).toEqual(['milk', 'eggs']);
    // Client 1 adds flour to what it saw (milk): supersedes milk, not eggs.
    cart = put(cart, 'milk,flour', seenBy1);
    expect(viewOf(cart).values).toEqual(['eggs', 'milk,flour']);
    // Client 2 adds ham to what it saw (milk and eggs): supersedes both of those, not milk,flour.
    cart = put(cart, 'eggs,milk,ham', seenBy2);
    expect(viewOf(cart).values).toEqual(['milk,flour', 'eggs,milk,ham']);
    // Client 1 merges the siblings it read: one value again.
    const merged = put(cart, 'milk,flour,eggs,ham', viewOf(cart).context);
    expect(viewOf(merged).values).toEqual(['milk,flour,eggs,ham']);
    for (const [step, state] of [
      ['siblings', cart],
      ['merged', merged],
    ] as const)
      console.log(
        `figure 5-13 ${step}: ${JSON.stringify(viewOf(state).values)} context ${JSON.stringify(viewOf(state).context)}`,
      );
  });

  it('keeps concurrent writes at two replicas as siblings after they exchange states', () => {
    const base = put(undefined, 'v0', null, 'a');
    const atA = put(base, 'from-a', viewOf(base).context, 'a');
    const atB = put(base, 'from-b', viewOf(base).context, 'b');
    const merged = mergeStates(atA, atB);
    expect(viewOf(merged).values.sort()).toEqual(['from-a', 'from-b']);
    // Replaying either side's old state changes nothing: v0 stays superseded.
    expect(viewOf(mergeStates(merged, base)).values.sort()).toEqual(['from-a', 'from-b']);
  });

  it('a delete is a tombstone sibling until its grace period ends; the context keeps it dead', () => {
    const v1 = put(undefined, 'x', null, 'a', 1_000);
    const deleted = applyMutation(v1, { op: 'delete', context: viewOf(v1).context, type: 'mv' }, 'a', 2_000);
    expect(viewOf(deleted)).toMatchObject({ deleted: true, siblings: 1, values: [] });
    expect(collectTombstones(deleted, 2_500, 1_000)).toBe(deleted);
    const collected = collectTombstones(deleted, 3_000, 1_000);
    expect(viewOf(collected)).toMatchObject({ deleted: true, siblings: 0 });
    // A replica that missed the delete still holds x: merging cannot resurrect it.
    expect(viewOf(mergeStates(collected, v1)).values).toEqual([]);
  });
});

describe('last write wins', () => {
  it('drops a write stamped earlier than the stored one, although it was acknowledged', () => {
    const lww = (state: KeyState | undefined, value: string, node: string, wallMs: number) =>
      applyMutation(state, { op: 'put', value, context: null, type: 'lww' }, node, wallMs);
    const first = lww(undefined, 'first', 'a', 10_000);
    // Node b's clock runs 5 s behind: its later write carries an earlier timestamp.
    const second = lww(first, 'second', 'b', 6_000);
    expect(viewOf(second).values).toEqual(['first']);
  });

  it('refuses a mutation of another type with a 409-coded error', () => {
    const counter = applyMutation(undefined, { op: 'increment', amount: 2 }, 'a', 0);
    expect(() => put(counter, 'x', null)).toThrow(
      expect.objectContaining({ code: 'DDIA_ERR_REPLICATION_TYPE_MISMATCH', status: 409 }),
    );
  });
});
