// The merge of every key type is a join: commutative, associative and idempotent, so replicas
// that receive the same states in any order, any number of times, end up equal (Shapiro et al.
// 2011, §2.2, "state-based CRDTs"). States come from random histories of writes and merges at
// three replicas, so that they are states replicas can really reach.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyMutation,
  canonicalJson,
  type KeyState,
  type KeyType,
  type Mutation,
  mergeStates,
} from '../src/core/key-state.js';

const REPLICAS = ['a', 'b', 'c'] as const;

function mutationArb(type: KeyType): fc.Arbitrary<Mutation> {
  const word = fc.constantFrom('x', 'y', 'z', 'w');
  switch (type) {
    case 'mv':
    case 'lww':
      return fc.oneof(
        word.map((value) => ({ op: 'put', value, context: null, type }) as Mutation),
        fc.constant({ op: 'delete', context: null, type } as Mutation),
      );
    case 'counter':
      return fc.integer({ min: -5, max: 5 }).map((amount) => ({ op: 'increment', amount }) as Mutation);
    case 'set':
      return fc.oneof(
        word.map((element) => ({ op: 'add', element }) as Mutation),
        word.map((element) => ({ op: 'remove', element }) as Mutation),
      );
    case 'map':
      return fc.oneof(
        fc.tuple(word, word).map(([field, value]) => ({ op: 'setField', field, value }) as Mutation),
        word.map((field) => ({ op: 'removeField', field }) as Mutation),
      );
  }
}

type Step =
  | { kind: 'write'; at: number; mutation: Mutation; useContext: boolean; wallMs: number }
  | { kind: 'merge'; from: number; to: number };

/** Runs a history and returns every state any replica held along the way. */
function reachableStates(steps: Step[]): KeyState[] {
  const replicas: (KeyState | undefined)[] = [undefined, undefined, undefined];
  const seen: KeyState[] = [];
  for (const step of steps) {
    if (step.kind === 'write') {
      const current = replicas[step.at];
      let mutation = step.mutation;
      // Half the mv writes send back the context they read: they supersede what they saw.
      if (step.useContext && current?.type === 'mv' && (mutation.op === 'put' || mutation.op === 'delete'))
        mutation = { ...mutation, context: current.store.context };
      replicas[step.at] = applyMutation(current, mutation, REPLICAS[step.at] as string, step.wallMs);
    } else {
      const from = replicas[step.from];
      const to = replicas[step.to];
      if (from) replicas[step.to] = to ? mergeStates(to, from) : from;
    }
    for (const state of replicas) if (state) seen.push(state);
  }
  return seen;
}

function historyArb(type: KeyType): fc.Arbitrary<KeyState[]> {
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({
      kind: fc.constant('write' as const),
      at: fc.integer({ min: 0, max: 2 }),
      mutation: mutationArb(type),
      useContext: fc.boolean(),
      wallMs: fc.integer({ min: 0, max: 50 }),
    }),
    fc.record({
      kind: fc.constant('merge' as const),
      from: fc.integer({ min: 0, max: 2 }),
      to: fc.integer({ min: 0, max: 2 }),
    }),
  );
  return fc
    .array(step, { minLength: 1, maxLength: 25 })
    .map((steps) => reachableStates(steps))
    .filter((s) => s.length > 0);
}

function same(a: KeyState, b: KeyState): void {
  expect(canonicalJson(a)).toBe(canonicalJson(b));
}

describe.each(['mv', 'lww', 'counter', 'set', 'map'] as const)('merge laws: %s', (type) => {
  const triple = historyArb(type).chain((states) =>
    fc.tuple(fc.constantFrom(...states), fc.constantFrom(...states), fc.constantFrom(...states)),
  );

  it('is commutative: merge(a, b) = merge(b, a)', () => {
    fc.assert(
      fc.property(triple, ([a, b]) => {
        same(mergeStates(a, b), mergeStates(b, a));
      }),
      { numRuns: 300 },
    );
  });

  it('is associative: merge(merge(a, b), c) = merge(a, merge(b, c))', () => {
    fc.assert(
      fc.property(triple, ([a, b, c]) => {
        same(mergeStates(mergeStates(a, b), c), mergeStates(a, mergeStates(b, c)));
      }),
      { numRuns: 300 },
    );
  });

  it('is idempotent: merge(a, a) = a, and merging what you already have changes nothing', () => {
    fc.assert(
      fc.property(triple, ([a, b]) => {
        same(mergeStates(a, a), a);
        const ab = mergeStates(a, b);
        same(mergeStates(ab, b), ab);
      }),
      { numRuns: 300 },
    );
  });
});
