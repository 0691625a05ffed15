import fc from 'fast-check';
import { update as mingoUpdate } from 'mingo';
import { describe, expect, it } from 'vitest';
import { DocDbError } from '../src/core/errors.js';
import { compileFilter, type MatchDetails } from '../src/core/matcher.js';
import { applyUpdate, upsertSeed } from '../src/core/update.js';
import { doc, RUNS, update } from './support/arbitraries.js';

type Doc = Record<string, unknown>;

/** Updates where mingo is lenient or compares differently from MongoDB (named tests below). */
function mingoDiverges(d: Doc, u: Record<string, Record<string, unknown>>): boolean {
  for (const op of ['$min', '$max']) {
    for (const path of Object.keys(u[op] ?? {})) {
      if (JSON.stringify(d[path.split('.')[0]!] ?? '').includes('[')) return true;
    }
  }
  return u['$addToSet'] !== undefined;
}

describe('update operators: differential against mingo', () => {
  it('produces the document mingo produces, or a MongoDB error where mingo silently ignores', () => {
    let compared = 0;
    fc.assert(
      fc.property(doc, update, (d, u) => {
        let ours: Doc | DocDbError;
        try {
          ours = applyUpdate(d, u).doc;
        } catch (error) {
          expect(error).toBeInstanceOf(DocDbError);
          return; // MongoDB rejects ($inc on a string, $push on a non-array...): named tests below.
        }
        const theirs = structuredClone(d);
        try {
          mingoUpdate(theirs, u as never);
        } catch {
          return;
        }
        if (mingoDiverges(d, u)) return;
        compared++;
        expect({ u, d, result: JSON.stringify(ours) }).toEqual({ u, d, result: JSON.stringify(theirs) });
      }),
      { numRuns: RUNS },
    );
    expect(compared).toBeGreaterThan(RUNS * 0.3);
  });
});

function errorOf(f: () => unknown): DocDbError {
  try {
    f();
  } catch (error) {
    if (error instanceof DocDbError) return error;
    throw error;
  }
  throw new Error('expected an error');
}

describe('update operators: MongoDB semantics (regressions)', () => {
  it('$set creates documents on the way and pads arrays with null', () => {
    expect(applyUpdate({ _id: 1 }, { $set: { 'a.b.c': 1 } }).doc).toEqual({ _id: 1, a: { b: { c: 1 } } });
    expect(applyUpdate({ _id: 1, a: [1] }, { $set: { 'a.3': 4 } }).doc).toEqual({
      _id: 1,
      a: [1, null, null, 4],
    });
  });

  it('type errors are errors (mingo ignores them silently)', () => {
    expect(errorOf(() => applyUpdate({ _id: 1, b: '' }, { $inc: { b: 1 } })).mongoCode).toBe(14);
    expect(errorOf(() => applyUpdate({ _id: 1, b: 1 }, { $inc: { b: 'x' } })).mongoCode).toBe(14);
    expect(errorOf(() => applyUpdate({ _id: 1, c: 'y' }, { $push: { c: 1 } })).mongoCode).toBe(14);
    expect(errorOf(() => applyUpdate({ _id: 1, b: 'x' }, { $inc: { 'b.b': 0 } })).mongoCode).toBe(28);
    expect(errorOf(() => applyUpdate({ _id: 1, c: null }, { $min: { 'c.0': 2 } })).mongoCode).toBe(28);
  });

  it('conflicting paths and _id changes are refused', () => {
    expect(errorOf(() => applyUpdate({ _id: 1 }, { $set: { a: 1 }, $inc: { 'a.b': 1 } })).mongoCode).toBe(40);
    expect(errorOf(() => applyUpdate({ _id: 1 }, { $set: { _id: 2 } })).mongoCode).toBe(66);
    expect(errorOf(() => applyUpdate({ _id: 1 }, { _id: 2, a: 1 })).mongoCode).toBe(66);
    expect(errorOf(() => applyUpdate({ _id: 1 }, { $bogus: { a: 1 } })).mongoCode).toBe(9);
  });

  it('$min and $max compare whole values in BSON order, arrays included (mingo compares elements)', () => {
    expect(applyUpdate({ _id: 1, a: [-3, 0] }, { $min: { a: 3 } }).doc).toEqual({ _id: 1, a: 3 });
    expect(applyUpdate({ _id: 1, a: [-3, 0] }, { $max: { a: 3 } }).doc).toEqual({ _id: 1, a: [-3, 0] });
    expect(applyUpdate({ _id: 1, a: 5 }, { $min: { a: 'x' } }).doc).toEqual({ _id: 1, a: 5 });
  });

  it('$addToSet adds each value once and keeps existing duplicates (mingo differs on both)', () => {
    expect(applyUpdate({ _id: 1 }, { $addToSet: { c: { $each: [false, false] } } }).doc).toEqual({
      _id: 1,
      c: [false],
    });
    expect(applyUpdate({ _id: 1, a: [1.5, 1.5] }, { $addToSet: { a: -2 } }).doc).toEqual({
      _id: 1,
      a: [1.5, 1.5, -2],
    });
  });

  it('$push with $each, $position, $sort and $slice; $pull with a condition; $pop', () => {
    const pushed = applyUpdate(
      { _id: 1, s: [3, 1] },
      { $push: { s: { $each: [5, 2], $sort: -1, $slice: 3 } } },
    ).doc;
    expect(pushed).toEqual({ _id: 1, s: [5, 3, 2] });
    expect(applyUpdate({ _id: 1, s: [1, 2] }, { $push: { s: { $each: [0], $position: 0 } } }).doc.s).toEqual([
      0, 1, 2,
    ]);
    expect(applyUpdate({ _id: 1, s: [1, 6, 7] }, { $pull: { s: { $gte: 6 } } }).doc.s).toEqual([1]);
    expect(
      applyUpdate(
        {
          _id: 1,
          r: [
            { i: 'A', n: 1 },
            { i: 'B', n: 8 },
          ],
        },
        { $pull: { r: { n: 8 } } },
      ).doc.r,
    ).toEqual([{ i: 'A', n: 1 }]);
    expect(applyUpdate({ _id: 1, s: [1, 2, 3] }, { $pop: { s: -1 } }).doc.s).toEqual([2, 3]);
  });

  it('$rename moves a field; $unset of an array element leaves null', () => {
    expect(applyUpdate({ _id: 1, a: 1, b: 2 }, { $rename: { a: 'c.d' } }).doc).toEqual({
      _id: 1,
      b: 2,
      c: { d: 1 },
    });
    expect(applyUpdate({ _id: 1, a: [1, 2] }, { $unset: { 'a.0': '' } }).doc).toEqual({
      _id: 1,
      a: [null, 2],
    });
  });

  it('the positional $ updates the element the query matched', () => {
    const d = { _id: 1, grades: [80, 85, 90] };
    const details: MatchDetails = {};
    expect(compileFilter({ grades: 85 })(d, details)).toBe(true);
    expect(applyUpdate(d, { $set: { 'grades.$': 82 } }, { position: details.position }).doc.grades).toEqual([
      80, 82, 90,
    ]);
    const e = {
      _id: 2,
      items: [
        { k: 'a', n: 1 },
        { k: 'b', n: 1 },
      ],
    };
    const at: MatchDetails = {};
    compileFilter({ 'items.k': 'b' })(e, at);
    expect(applyUpdate(e, { $inc: { 'items.$.n': 5 } }, { position: at.position }).doc.items).toEqual([
      { k: 'a', n: 1 },
      { k: 'b', n: 6 },
    ]);
    expect(errorOf(() => applyUpdate(d, { $set: { 'grades.$': 1 } })).mongoCode).toBe(2);
  });

  it('an upsert seeds the new document from the filter equalities, then $setOnInsert applies', () => {
    const seed = upsertSeed({ name: 'x', 'a.b': 1, n: { $gt: 1 }, $and: [{ k: { $eq: 2 } }] });
    expect(seed).toEqual({ name: 'x', a: { b: 1 }, k: 2 });
    const made = applyUpdate(
      { _id: 9, ...seed },
      { $set: { v: 1 }, $setOnInsert: { created: true } },
      { inserting: true },
    );
    expect(made.doc).toEqual({ _id: 9, name: 'x', a: { b: 1 }, k: 2, v: 1, created: true });
    expect(applyUpdate({ _id: 9 }, { $setOnInsert: { created: true } }).modified).toBe(false);
  });
});
