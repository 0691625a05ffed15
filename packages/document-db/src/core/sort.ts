// Sorting by MongoDB's rules: values compare in BSON order across types, a missing field sorts
// as null, and an array sorts by its smallest element ascending and its largest descending
// (an empty array below null).
import { DocErrors, fail } from './errors.js';
import { lookupLeaves, splitPath } from './path.js';
import { compareValues, type Doc, isDoc, numberOf, TypeOrder, typeOrder } from './values.js';

export type SortSpec = [path: string, direction: 1 | -1][];
const EMPTY_ARRAY = Symbol('empty array');

export function parseSort(spec: unknown): SortSpec {
  if (spec === undefined || spec === null) return [];
  if (!isDoc(spec)) fail(DocErrors.badValue, 'sort must be a document');
  return Object.entries(spec).map(([path, direction]) => {
    const n = numberOf(direction);
    if (n !== 1 && n !== -1)
      fail(DocErrors.badValue, '$sort key ordering must be 1 (for ascending) or -1 (for descending)');
    if (path === '') fail(DocErrors.badValue, 'sort field names cannot be empty');
    return [path, n];
  });
}

function compareKeys(a: unknown, b: unknown): number {
  if (a === EMPTY_ARRAY || b === EMPTY_ARRAY) {
    const ta = a === EMPTY_ARRAY ? TypeOrder.emptyArray : typeOrder(a);
    const tb = b === EMPTY_ARRAY ? TypeOrder.emptyArray : typeOrder(b);
    return ta - tb;
  }
  return compareValues(a, b);
}

/** The value a document sorts by on one path and direction. */
export function sortKey(doc: Doc, parts: readonly string[], direction: 1 | -1): unknown {
  let best: unknown;
  let found = false;
  const consider = (candidate: unknown) => {
    if (!found || compareKeys(candidate, best) * direction < 0) best = candidate;
    found = true;
  };
  for (const leaf of lookupLeaves(doc, parts)) {
    if (Array.isArray(leaf.value)) {
      if (leaf.value.length === 0) consider(EMPTY_ARRAY);
      for (const element of leaf.value) consider(element ?? null);
    } else consider(leaf.value ?? null);
  }
  return found ? best : null;
}

export function compileSort(spec: SortSpec): (a: Doc, b: Doc) => number {
  const keys = spec.map(([path, direction]) => ({ parts: splitPath(path), direction }));
  return (a, b) => {
    for (const { parts, direction } of keys) {
      const c = compareKeys(sortKey(a, parts, direction), sortKey(b, parts, direction));
      if (c !== 0) return c * direction;
    }
    return 0;
  };
}

/** Sorts a copy, stable, computing each document's keys once. */
export function sortDocs<T extends Doc>(docs: readonly T[], spec: SortSpec): T[] {
  if (spec.length === 0) return [...docs];
  const keys = spec.map(([path, direction]) => ({ parts: splitPath(path), direction }));
  const decorated = docs.map((doc, index) => ({
    doc,
    index,
    values: keys.map(({ parts, direction }) => sortKey(doc, parts, direction)),
  }));
  decorated.sort((x, y) => {
    for (let i = 0; i < keys.length; i++) {
      const c = compareKeys(x.values[i], y.values[i]);
      if (c !== 0) return c * keys[i]!.direction;
    }
    return x.index - y.index;
  });
  return decorated.map((d) => d.doc);
}
