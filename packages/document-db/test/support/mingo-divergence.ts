// Where mingo answers differently from MongoDB's documented behaviour, the differential tests
// skip the case and a named regression test in matcher.test.ts holds MongoDB's answer.
import { lookupLeaves } from '../../src/core/path.js';
import { isDoc } from '../../src/core/values.js';

/** True when some prefix of a dotted path reaches an array in the document (mingo flattens such paths). */
function crossesArray(d: unknown, path: string): boolean {
  const parts = path.split('.');
  let values: unknown[] = [d];
  for (let i = 0; i < parts.length - 1; i++) {
    const next: unknown[] = [];
    for (const v of values) {
      const items = Array.isArray(v) ? v : [v];
      if (Array.isArray(v)) return true;
      for (const item of items) if (isDoc(item) && parts[i]! in item) next.push(item[parts[i]!]);
    }
    values = next;
  }
  return values.some(Array.isArray) && parts.length > 1;
}

/** Operands on which mingo and MongoDB part ways once a path goes through an array. */
function delicate(operand: unknown): boolean {
  const text = JSON.stringify(operand);
  return (
    operand === null ||
    Array.isArray(operand) ||
    text.includes('null') ||
    text.includes('[]') ||
    text.includes('{}') ||
    text.includes('$elemMatch') ||
    text.includes('$size') ||
    text.includes('$type')
  );
}

export function mingoDiverges(filter: Record<string, unknown>, d: unknown): string | undefined {
  for (const [key, operand] of Object.entries(filter)) {
    if (key === '$and' || key === '$or' || key === '$nor') {
      for (const clause of operand as Record<string, unknown>[]) {
        const reason = mingoDiverges(clause, d);
        if (reason) return reason;
      }
      continue;
    }
    if (key.includes('.') && crossesArray(d, key) && delicate(operand))
      return `dotted path ${key} through an array with ${JSON.stringify(operand)}`;
    // Arrays reached through an array ({"b.a"} with b: [{a: [..]}]): mingo does not look inside.
    if (
      key.includes('.') &&
      crossesArray(d, key) &&
      lookupLeaves(d, key.split('.')).some((l) => Array.isArray(l.value))
    )
      return `dotted path ${key} reaching arrays through an array`;
    // mingo's $elemMatch with a document query also tests non-document elements.
    if (
      isDoc(operand) &&
      isDoc(operand['$elemMatch']) &&
      !Object.keys(operand['$elemMatch']).every((k) => k.startsWith('$'))
    )
      return '$elemMatch document query over non-document elements';
    // mingo does not match {} or [] as an element of an array field.
    if (JSON.stringify(operand) === '{}' || JSON.stringify(operand) === '[]') return 'empty literal';
    if (isDoc(operand) && JSON.stringify(operand).includes('$type')) return '$type on array elements';
  }
  return undefined;
}

/**
 * True when mingo's order for this sort can be compared with MongoDB's: no sort path reaches an
 * array (MongoDB sorts by the smallest/largest element) or a document (MongoDB compares field
 * types before names), and no sort path goes through an array.
 */
export function sortComparable(rows: Record<string, unknown>[], sort: Record<string, unknown>): boolean {
  return !rows.some((d) =>
    Object.keys(sort).some((p) => {
      const leaves = lookupLeaves(d, p.split('.'));
      return (
        leaves.length > 1 ||
        leaves.some((l) => isDoc(l.value) || Array.isArray(l.value)) ||
        JSON.stringify(d[p.split('.')[0]!] ?? null).includes('[')
      );
    }),
  );
}
