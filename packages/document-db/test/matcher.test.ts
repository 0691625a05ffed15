import fc from 'fast-check';
import { Query } from 'mingo';
import { describe, expect, it } from 'vitest';
import { DocDbError } from '../src/core/errors.js';
import { compileFilter } from '../src/core/matcher.js';
import { doc, filter, RUNS } from './support/arbitraries.js';
import { mingoDiverges } from './support/mingo-divergence.js';

const matches = (f: Record<string, unknown>, d: Record<string, unknown>) => compileFilter(f)(d);

describe('query matcher: differential against mingo', () => {
  it('matches exactly the documents mingo matches (known divergences excepted)', () => {
    let compared = 0;
    fc.assert(
      fc.property(doc, filter, (d, f) => {
        let theirs: boolean;
        try {
          theirs = new Query(f).test(d);
        } catch {
          return; // mingo throws on $in/$nin against document values (see the named test below).
        }
        const ours = matches(f, d);
        if (ours !== theirs && mingoDiverges(f, d)) return;
        compared++;
        expect({ f, d, matched: ours }).toEqual({ f, d, matched: theirs });
      }),
      { numRuns: RUNS },
    );
    expect(compared).toBeGreaterThan(RUNS * 0.8);
  });
});

describe('query matcher: MongoDB semantics (regressions; where mingo differs, MongoDB is followed)', () => {
  it('a dotted path walks into arrays of documents', () => {
    const d = { _id: 1, a: [{ b: 1 }, { b: 2 }] };
    expect(matches({ 'a.b': 2 }, d)).toBe(true);
    expect(matches({ 'a.b': { $gt: 1 } }, d)).toBe(true);
    expect(matches({ 'a.b': 3 }, d)).toBe(false);
    expect(matches({ 'a.1.b': 2 }, d)).toBe(true);
    expect(matches({ 'a.0.b': 2 }, d)).toBe(false);
  });

  it('nested arrays are not walked implicitly (mingo walks into them; MongoDB does not)', () => {
    const d = { _id: 1, a: [0, ['y', -2]] };
    expect(matches({ a: { $regex: 'y$' } }, d)).toBe(false);
    expect(new Query({ a: { $regex: 'y$' } }).test(d)).toBe(true);
    expect(matches({ a: ['y', -2] }, d)).toBe(true);
    expect(matches({ 'b.a': { $size: 2 } }, { _id: 2, b: [{ b: 'y' }, ['y', 'y'], 2] })).toBe(false);
  });

  it('{field: null} matches a missing field and an array element missing it (mingo: not the element)', () => {
    expect(matches({ a: null }, { _id: 1 })).toBe(true);
    expect(matches({ a: null }, { _id: 1, a: [1, null] })).toBe(true);
    expect(matches({ a: null }, { _id: 1, a: [1] })).toBe(false);
    expect(matches({ 'a.b': null }, { _id: 1, a: [{ c: false }] })).toBe(true);
    expect(new Query({ 'a.b': null }).test({ _id: 1, a: [{ c: false }] })).toBe(false);
  });

  it('$gte/$lte null match a missing field as {field: null} does (mingo: they do not)', () => {
    expect(matches({ b: { $gte: null } }, { _id: 1 })).toBe(true);
    expect(matches({ b: { $lte: null } }, { _id: 1, b: null })).toBe(true);
    expect(matches({ b: { $gt: null } }, { _id: 1 })).toBe(false);
    expect(new Query({ b: { $gte: null } }).test({ _id: 1 })).toBe(false);
  });

  it('comparisons stay inside their type bracket', () => {
    expect(matches({ a: { $gt: 1 } }, { _id: 1, a: 'z' })).toBe(false);
    expect(matches({ a: { $lt: 'a' } }, { _id: 1, a: 5 })).toBe(false);
    expect(matches({ a: { $gt: 1 } }, { _id: 1, a: [0, 'z', 2] })).toBe(true);
  });

  it('$all on a non-array field is equality (mingo: no match)', () => {
    expect(matches({ a: { $all: [0] } }, { _id: 1, a: 0 })).toBe(true);
    expect(matches({ a: { $all: [0, 1] } }, { _id: 1, a: [1, 2, 0] })).toBe(true);
    expect(matches({ a: { $all: [] } }, { _id: 1, a: [] })).toBe(false);
    expect(matches({ a: { $all: [{ $elemMatch: { x: 1 } }] } }, { _id: 1, a: [{ x: 1 }] })).toBe(true);
  });

  it('$type also matches array elements (MongoDB 3.6+; mingo only looks at the array)', () => {
    expect(matches({ a: { $type: 'string' } }, { _id: 1, a: [-0.5, 3, ''] })).toBe(true);
    expect(matches({ a: { $type: 'number' } }, { _id: 1, a: [0, {}] })).toBe(true);
    expect(matches({ a: { $type: 'array' } }, { _id: 1, a: [0] })).toBe(true);
    expect(matches({ a: { $type: 'object' } }, { _id: 1, a: [{}] })).toBe(true);
    expect(new Query({ a: { $type: 'object' } }).test({ _id: 1, a: [{}] })).toBe(false);
  });

  it('$type int/double follow the BSON the driver writes (integral numbers in int32 range are int)', () => {
    expect(matches({ a: { $type: 'int' } }, { _id: 1, a: -2 })).toBe(true);
    expect(matches({ a: { $type: 'double' } }, { _id: 1, a: -2 })).toBe(false);
    expect(matches({ a: { $type: 'double' } }, { _id: 1, a: 1.5 })).toBe(true);
    expect(matches({ a: { $type: 'double' } }, { _id: 1, a: 2 ** 40 })).toBe(true);
  });

  it('$size counts only arrays at the path, not values gathered through arrays (mingo counts those)', () => {
    expect(matches({ 'c.b': { $size: 1 } }, { _id: 1, c: [{ c: 1, b: 2 }, ''] })).toBe(false);
    expect(matches({ 'a.b': { $size: 0 } }, { _id: 1, a: [] })).toBe(false);
    expect(matches({ 'c.b': { $size: 2 } }, { _id: 1, c: [{ b: [1, 2] }] })).toBe(true);
  });

  it('an empty document or array literal matches an equal array element (mingo: no)', () => {
    expect(matches({ a: {} }, { _id: 1, a: [{}, 'xy'] })).toBe(true);
    expect(matches({ a: [] }, { _id: 1, a: [[], 1] })).toBe(true);
  });

  it('$in against a document-valued field (mingo throws)', () => {
    expect(matches({ a: { $in: ['x'] } }, { _id: 1, a: { c: 'x' } })).toBe(false);
    expect(matches({ a: { $nin: ['x'] } }, { _id: 1, a: { c: 'x' } })).toBe(true);
    expect(matches({ a: { $in: [{ c: 'x' }] } }, { _id: 1, a: { c: 'x' } })).toBe(true);
  });

  it('$elemMatch needs an array at the path itself and matches one element on all conditions', () => {
    const d = {
      _id: 1,
      a: [
        { x: 1, y: 2 },
        { x: 2, y: 1 },
      ],
    };
    expect(matches({ a: { $elemMatch: { x: 1, y: 1 } } }, d)).toBe(false);
    expect(matches({ 'a.x': 1, 'a.y': 1 }, d)).toBe(true);
    expect(matches({ a: { $elemMatch: { x: 2, y: 1 } } }, d)).toBe(true);
    expect(matches({ 'a.a': { $elemMatch: { $gt: 0 } } }, { _id: 1, a: [{ a: 3 }] })).toBe(false);
    expect(matches({ a: { $elemMatch: { $gt: 1, $lt: 3 } } }, { _id: 1, a: [0, 2] })).toBe(true);
    expect(matches({ a: { $elemMatch: { $gt: 1, $lt: 3 } } }, { _id: 1, a: [0, 5] })).toBe(false);
  });

  it('$not negates, and matches missing fields', () => {
    expect(matches({ a: { $not: { $gt: 1 } } }, { _id: 1 })).toBe(true);
    expect(matches({ a: { $not: /^x/ } }, { _id: 1, a: 'xy' })).toBe(false);
    expect(matches({ a: { $ne: 1 } }, { _id: 1, a: [1, 2] })).toBe(false);
  });

  it('logical operators and $regex with options', () => {
    expect(matches({ $or: [{ a: 1 }, { b: 2 }] }, { _id: 1, b: 2 })).toBe(true);
    expect(matches({ $nor: [{ a: 1 }, { b: 2 }] }, { _id: 1, b: 2 })).toBe(false);
    expect(matches({ a: { $regex: '^X', $options: 'i' } }, { _id: 1, a: 'xy' })).toBe(true);
    expect(matches({ a: /^X/i }, { _id: 1, a: 'xy' })).toBe(true);
    expect(matches({ a: { $mod: [3, 1] } }, { _id: 1, a: 7 })).toBe(true);
  });

  it('bad filters are errors with MongoDB codes, never crashes', () => {
    for (const bad of [
      { a: { $foo: 1 } },
      { $foo: [] },
      { a: { $in: 1 } },
      { $and: [] },
      { a: { $size: -1 } },
      { a: { $regex: '(' } },
      { a: { $type: 'nope' } },
      { a: { $mod: [0, 1] } },
    ]) {
      let caught: unknown;
      try {
        compileFilter(bad);
      } catch (error) {
        caught = error;
      }
      expect(caught, JSON.stringify(bad)).toBeInstanceOf(DocDbError);
      expect((caught as DocDbError).mongoCode).toBe(2);
    }
  });
});
