import fc from 'fast-check';
import { find } from 'mingo';
import { describe, expect, it } from 'vitest';
import { DocDbError } from '../src/core/errors.js';
import { compileProjection } from '../src/core/projection.js';
import { parseSort, sortDocs } from '../src/core/sort.js';
import { compareValues, isDoc } from '../src/core/values.js';
import { doc, docs, projection, RUNS, sortSpec } from './support/arbitraries.js';
import { sortComparable } from './support/mingo-divergence.js';

type Doc = Record<string, unknown>;
/** Field order aside (compared in a named test), the same document. */
const normal = (value: unknown): string =>
  JSON.stringify(value, (_key, v) =>
    isDoc(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
const project = (spec: Doc, d: Doc) => compileProjection(spec)!(d);

describe('projection: differential against mingo', () => {
  it('returns what mingo returns for inclusion, exclusion, $elemMatch and $slice within other fields', () => {
    let compared = 0;
    fc.assert(
      fc.property(doc, projection, (d, p) => {
        // Numeric path components and a lone $slice are where mingo and MongoDB differ (named tests).
        if (Object.keys(p).some((k) => /\.\d/.test(k))) return;
        if (Object.values(p).every((v) => isDoc(v) && '$slice' in v)) return;
        // mingo's $elemMatch with a document query also matches non-document elements.
        if (Object.values(p).some((v) => isDoc(v) && '$elemMatch' in v)) {
          const arrays = Object.keys(p).map((k) => (d as Doc)[k]);
          if (arrays.some((a) => Array.isArray(a) && a.some((e) => !isDoc(e)))) return;
        }
        let ours: string;
        try {
          ours = normal(project(p, d));
        } catch (error) {
          expect(error).toBeInstanceOf(DocDbError);
          return;
        }
        compared++;
        expect({ p, d, out: ours }).toEqual({ p, d, out: normal(find([d], {}, p).all()[0]) });
      }),
      { numRuns: RUNS },
    );
    expect(compared).toBeGreaterThan(RUNS * 0.3);
  });
});

describe('sort: differential against mingo', () => {
  it('orders documents as mingo does where no sort path holds an array or a document', () => {
    fc.assert(
      fc.property(docs, sortSpec, (rows, s) => {
        const spec = { ...s, _id: 1 };
        // Documents compare by field type before field name in MongoDB; mingo compares names first.
        if (!sortComparable(rows, s)) return;
        let theirs: unknown[];
        try {
          theirs = find(rows, {})
            .sort(spec)
            .all()
            .map((d) => d['_id']);
        } catch {
          return; // mingo throws hashing some nested values
        }
        expect(sortDocs(rows, parseSort(spec)).map((d) => d['_id'])).toEqual(theirs);
      }),
      { numRuns: RUNS / 4 },
    );
  });
});

describe('projection and sort: MongoDB semantics (regressions)', () => {
  it("inclusion keeps the document's field order and _id unless excluded", () => {
    expect(Object.keys(project({ c: 1, a: 1 }, { _id: 1, a: 1, b: 2, c: 3 }))).toEqual(['_id', 'a', 'c']);
    expect(project({ a: 1, _id: 0 }, { _id: 1, a: 1 })).toEqual({ a: 1 });
    expect(project({ a: 0 }, { _id: 1, a: 1, b: 2 })).toEqual({ _id: 1, b: 2 });
  });

  it('a dotted inclusion through an array keeps the sub-field of each document element, drops scalars', () => {
    expect(project({ 'a.b': 1 }, { _id: 1, a: [{ b: 1, c: 2 }, 3] })).toEqual({ _id: 1, a: [{ b: 1 }] });
    // "a.0" names the field "0" of elements, not a position (mingo takes the position).
    expect(project({ 'a.0': 1, _id: 0 }, { _id: 18, a: [false] })).toEqual({ a: [] });
  });

  it('$slice alone keeps every other field (mingo keeps only the sliced one)', () => {
    expect(project({ c: { $slice: 1 } }, { _id: 1, b: 2, c: [1, 2, 3] })).toEqual({ _id: 1, b: 2, c: [1] });
    expect(project({ c: { $slice: -2 } }, { _id: 1, c: [1, 2, 3] })).toEqual({ _id: 1, c: [2, 3] });
    expect(project({ c: { $slice: [1, 1] } }, { _id: 1, c: [1, 2, 3] })).toEqual({ _id: 1, c: [2] });
  });

  it('$elemMatch projects the first matching element only', () => {
    const d = { _id: 1, s: [{ g: 1 }, { g: 2 }, { g: 2, h: 1 }], x: 1 };
    expect(project({ s: { $elemMatch: { g: 2 } } }, d)).toEqual({ _id: 1, s: [{ g: 2 }] });
    expect(project({ s: { $elemMatch: { g: 9 } } }, d)).toEqual({ _id: 1 });
  });

  it('documents sort by field type before field name (mingo compares names first)', () => {
    const rows = [
      { _id: 0, c: { c: 'x' } },
      { _id: 1, c: { a: false } },
    ];
    expect(sortDocs(rows, [['c', 1]]).map((d) => d._id)).toEqual([0, 1]);
  });

  it('mixing inclusion and exclusion is an error', () => {
    expect(() => project({ a: 1, b: 0 }, { _id: 1 })).toThrow(
      /Cannot do exclusion on field b in inclusion projection/,
    );
    expect(() => project({ a: 1, 'a.b': 1 }, { _id: 1 })).toThrow(/Path collision/);
  });

  it('arrays sort by their smallest element ascending and largest descending; [] sorts below null (mingo differs)', () => {
    const rows = [
      { _id: 1, a: [-1, null, false] },
      { _id: 2, a: null },
      { _id: 3, a: [] },
      { _id: 4, a: [5, 0] },
      { _id: 5, a: 3 },
    ];
    expect(
      sortDocs(rows, [
        ['a', 1],
        ['_id', 1],
      ]).map((d) => d._id),
    ).toEqual([3, 1, 2, 4, 5]);
    expect(
      sortDocs(rows, [
        ['a', -1],
        ['_id', 1],
      ]).map((d) => d._id),
    ).toEqual([1, 4, 5, 2, 3]);
  });

  it('BSON order across types: numbers < strings < objects < arrays < booleans; NaN below numbers', () => {
    const ordered = [null, Number.NaN, -1, 2.5, 'a', 'b', {}, { a: 1 }, [1], false, true];
    for (let i = 1; i < ordered.length; i++) expect(compareValues(ordered[i - 1], ordered[i])).toBe(-1);
    expect(compareValues(1, 1.0)).toBe(0);
    // Code points, not UTF-16 units: U+FF5E sorts below U+1F600.
    expect(compareValues('\uff5e', '\u{1f600}')).toBe(-1);
  });

  it('bad sort directions are errors', () => {
    expect(() => parseSort({ a: 2 })).toThrow(DocDbError);
  });
});
