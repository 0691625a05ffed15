// Dotted paths with MongoDB's array semantics: walking a field name into an array visits every
// element that is a document ("a.b" reaches b inside each element of a), and a numeric
// component both indexes the array and names a field of the elements that are documents.
import { type Doc, isDoc } from './values.js';

/** One value a path reaches; `value === undefined` means the path is missing on this branch. */
export interface Leaf {
  value: unknown;
  /** Index in the first array the walk went through, for the positional `$` operator. */
  position: number | undefined;
}

export function splitPath(path: string): string[] {
  return path.split('.');
}

export function isArrayIndex(part: string): boolean {
  return /^(0|[1-9][0-9]*)$/.test(part);
}

/** Every value `parts` reaches in `value`, without expanding arrays found at the end. */
export function lookupLeaves(value: unknown, parts: readonly string[]): Leaf[] {
  const out: Leaf[] = [];
  walk(value, parts, 0, undefined, out);
  return out;
}

function walk(
  value: unknown,
  parts: readonly string[],
  i: number,
  position: number | undefined,
  out: Leaf[],
): void {
  if (i === parts.length) {
    out.push({ value, position });
    return;
  }
  const part = parts[i]!;
  if (Array.isArray(value)) {
    if (isArrayIndex(part)) {
      // "a.1" is the second element, and also the field "1" of the elements that have one.
      const index = Number(part);
      walk(index < value.length ? value[index] : undefined, parts, i + 1, position ?? index, out);
      value.forEach((element, index) => {
        if (isDoc(element) && Object.hasOwn(element, part)) walk(element, parts, i, position ?? index, out);
      });
      return;
    }
    // Arrays of arrays are not traversed implicitly: only documents in the array continue, and
    // an array without documents contributes no value at all (not even a missing one).
    value.forEach((element, index) => {
      if (isDoc(element)) walk(element, parts, i, position ?? index, out);
    });
    return;
  }
  if (isDoc(value)) {
    const next = Object.hasOwn(value, part) ? value[part] : undefined;
    walk(next, parts, i + 1, position, out);
    return;
  }
  out.push({ value: undefined, position });
}

/** The value at a path without array traversal except numeric indexes (for updates and projections). */
export function getPlain(doc: Doc, parts: readonly string[]): unknown {
  let value: unknown = doc;
  for (const part of parts) {
    if (Array.isArray(value) && isArrayIndex(part)) value = value[Number(part)];
    else if (isDoc(value) && Object.hasOwn(value, part)) value = value[part];
    else return undefined;
  }
  return value;
}
