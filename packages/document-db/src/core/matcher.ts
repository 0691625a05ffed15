// MongoDB's query language as a predicate over documents: a filter is compiled once into a
// function, then run against every candidate document (by a collection scan, or after an
// index scan as the FETCH stage's filter). DDIA ch. 2, "Query Languages for Data": a
// declarative query says what to find, and leaves the how (scan or index) to the planner.

import { bsonTypeNumber, TYPE_ALIASES } from './bson-types.js';
import { DocErrors, fail } from './errors.js';
import { compileJsonSchema } from './json-schema.js';
import { type Leaf, lookupLeaves, splitPath } from './path.js';
import {
  bsonTag,
  compareValues,
  type Doc,
  isDoc,
  isRegExp,
  numberOf,
  regexParts,
  TypeOrder,
  typeOrder,
} from './values.js';

/** Filled by a match: the array position the query matched, for the positional `$` update. */
export interface MatchDetails {
  position?: number;
}

export type Matcher = (doc: Doc, details?: MatchDetails) => boolean;
type LeafTest = (leaves: Leaf[], details: MatchDetails | undefined) => boolean;

export function compileFilter(filter: unknown): Matcher {
  if (!isDoc(filter)) fail(DocErrors.badValue, 'a filter must be a document');
  const tests: Matcher[] = [];
  for (const [key, operand] of Object.entries(filter)) {
    if (key.startsWith('$')) tests.push(compileTopLevel(key, operand));
    else tests.push(compileField(key, operand));
  }
  if (tests.length === 1) return tests[0]!;
  return (doc, details) => tests.every((test) => test(doc, details));
}

function compileTopLevel(op: string, operand: unknown): Matcher {
  switch (op) {
    case '$and':
    case '$or':
    case '$nor': {
      if (!Array.isArray(operand) || operand.length === 0)
        fail(DocErrors.badValue, `${op} argument must be a non-empty array`);
      const parts = operand.map((clause) => {
        if (!isDoc(clause)) fail(DocErrors.badValue, `${op} argument's entries must be objects`);
        return compileFilter(clause);
      });
      if (op === '$and') return (doc, details) => parts.every((part) => part(doc, details));
      if (op === '$or') return (doc, details) => parts.some((part) => part(doc, details));
      return (doc) => !parts.some((part) => part(doc));
    }
    case '$comment':
      // It only annotates the query (profiler, logs): it matches every document.
      return () => true;
    case '$jsonSchema': {
      const check = compileJsonSchema(operand);
      return (doc) => check(doc);
    }
    default:
      return fail(DocErrors.badValue, `unknown top level operator: ${op}`);
  }
}

/** True when a field's operand is an operator expression ({$gt: 1}) rather than a literal. */
export function isOperatorExpression(operand: unknown): operand is Doc {
  if (!isDoc(operand)) return false;
  const keys = Object.keys(operand);
  return keys.length > 0 && keys[0]!.startsWith('$');
}

function compileField(path: string, operand: unknown): Matcher {
  if (path === '') fail(DocErrors.badValue, 'a field path cannot be empty');
  const parts = splitPath(path);
  const test = compileOperand(operand);
  return (doc, details) => test(lookupLeaves(doc, parts), details);
}

function compileOperand(operand: unknown): LeafTest {
  if (!isOperatorExpression(operand)) return equalityTest(operand);
  const tests: LeafTest[] = [];
  const options = operand['$options'];
  if (options !== undefined && operand['$regex'] === undefined)
    fail(DocErrors.badValue, '$options needs a $regex');
  for (const [op, value] of Object.entries(operand)) {
    if (op === '$options') continue;
    tests.push(compileOperator(op, value, options));
  }
  return (leaves, details) => tests.every((test) => test(leaves, details));
}

/** Each value a comparison looks at: the leaf, and when the leaf is an array its elements too. */
function forEachCandidate(
  leaves: Leaf[],
  visit: (value: unknown, position: number | undefined) => boolean,
  details: MatchDetails | undefined,
): boolean {
  for (const leaf of leaves) {
    if (visit(leaf.value, leaf.position)) {
      if (details && details.position === undefined && leaf.position !== undefined)
        details.position = leaf.position;
      return true;
    }
    if (Array.isArray(leaf.value)) {
      for (let i = 0; i < leaf.value.length; i++) {
        if (visit(leaf.value[i], leaf.position ?? i)) {
          if (details && details.position === undefined) details.position = leaf.position ?? i;
          return true;
        }
      }
    }
  }
  return false;
}

function regexOf(value: unknown, options?: unknown): RegExp {
  if (value instanceof RegExp && options === undefined) return value;
  let pattern: string;
  let flags: string;
  if (typeof value === 'string') {
    pattern = value;
    flags = '';
  } else if (isRegExp(value)) {
    ({ pattern, flags } = regexParts(value));
  } else {
    return fail(DocErrors.badValue, '$regex has to be a string');
  }
  if (options !== undefined) {
    if (typeof options !== 'string') fail(DocErrors.badValue, '$options has to be a string');
    flags = options;
  }
  // MongoDB's options i, m, s, x map onto JavaScript's flags; x (extended) has no equivalent.
  const jsFlags = [...new Set(flags.split(''))].filter((f) => 'ims'.includes(f)).join('');
  for (const flag of flags) {
    if (!'imsxu'.includes(flag)) fail(DocErrors.badValue, `invalid flag in regex options: ${flag}`);
  }
  try {
    return new RegExp(pattern, jsFlags);
  } catch (error) {
    return fail(DocErrors.badValue, `invalid regular expression: ${(error as Error).message}`);
  }
}

function regexTest(regex: RegExp): (value: unknown) => boolean {
  return (value) => {
    if (typeof value === 'string' || bsonTag(value) === 'BSONSymbol') {
      regex.lastIndex = 0;
      return regex.test(String(value));
    }
    if (isRegExp(value)) {
      const a = regexParts(value);
      return a.pattern === regex.source && a.flags === regex.flags;
    }
    return false;
  };
}

/** `{field: value}` and `$eq`: the value equals the leaf, or an element of an array leaf. */
function valueEquals(target: unknown): (value: unknown) => boolean {
  if (isRegExp(target)) return regexTest(regexOf(target));
  if (target === null) return (value) => value === null || value === undefined;
  return (value) => value !== undefined && compareValues(value, target) === 0;
}

function equalityTest(target: unknown): LeafTest {
  const equals = valueEquals(target);
  if (target === null) {
    // {a: null} matches a missing field, a null, or an array holding null.
    return (leaves, details) => forEachCandidate(leaves, (value) => equals(value), details);
  }
  return (leaves, details) => forEachCandidate(leaves, equals, details);
}

function comparison(op: string, target: unknown): LeafTest {
  const bracket = typeOrder(target);
  const accepts = (c: number): boolean =>
    op === '$gt' ? c > 0 : op === '$gte' ? c >= 0 : op === '$lt' ? c < 0 : c <= 0;
  const test = (value: unknown): boolean => {
    // Comparisons only look inside the operand's type bracket ("type bracketing"); a missing
    // field counts as null, so {$gte: null} matches it.
    if (typeOrder(value) !== bracket) return false;
    return accepts(compareValues(value ?? null, target));
  };
  if (bracket === TypeOrder.minKey || bracket === TypeOrder.maxKey) {
    return (leaves, details) =>
      forEachCandidate(leaves, (value) => accepts(compareValues(value ?? null, target)), details);
  }
  return (leaves, details) => forEachCandidate(leaves, test, details);
}

function typeTest(operand: unknown): LeafTest {
  const wanted = (Array.isArray(operand) ? operand : [operand]).map((t) => {
    if (t === 'number') return 'number';
    if (typeof t === 'string') {
      const code = TYPE_ALIASES[t];
      if (code === undefined) fail(DocErrors.badValue, `unknown type name alias: ${t}`);
      return code;
    }
    const code = numberOf(t);
    if (code === undefined || !Object.values(TYPE_ALIASES).includes(code))
      fail(DocErrors.badValue, `invalid numerical type code: ${String(t)}`);
    return code;
  });
  const isType = (value: unknown): boolean =>
    wanted.some((w) =>
      w === 'number' ? [1, 16, 18, 19].includes(bsonTypeNumber(value)) : bsonTypeNumber(value) === w,
    );
  return (leaves, details) =>
    forEachCandidate(leaves, (value) => value !== undefined && isType(value), details);
}

function elemMatchTest(spec: unknown): LeafTest {
  if (!isDoc(spec)) fail(DocErrors.badValue, '$elemMatch needs an Object');
  // {$elemMatch: {$gt: 1, $lt: 5}} tests each element as a value; {$elemMatch: {x: 1}} tests
  // each element as a document (logical operators make it a document query too).
  const keys = Object.keys(spec);
  const valueForm =
    keys.length > 0 && keys.every((k) => k.startsWith('$') && !['$and', '$or', '$nor'].includes(k));
  let elementMatches: (element: unknown) => boolean;
  if (valueForm) {
    const test = compileOperand(spec);
    elementMatches = (element) => test([{ value: element, position: undefined }], undefined);
  } else {
    const matcher = compileFilter(spec);
    elementMatches = (element) => isDoc(element) && matcher(element);
  }
  return (leaves, details) => {
    for (const leaf of leaves) {
      if (!Array.isArray(leaf.value)) continue;
      for (let i = 0; i < leaf.value.length; i++) {
        if (elementMatches(leaf.value[i])) {
          if (details && details.position === undefined) details.position = leaf.position ?? i;
          return true;
        }
      }
    }
    return false;
  };
}

function compileOperator(op: string, operand: unknown, options: unknown): LeafTest {
  switch (op) {
    case '$eq':
      return equalityTest(operand);
    case '$ne': {
      const equal = equalityTest(operand);
      return (leaves) => !equal(leaves, undefined);
    }
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      if (isRegExp(operand)) fail(DocErrors.badValue, `${op} cannot take a regular expression`);
      return comparison(op, operand);
    case '$in':
    case '$nin': {
      if (!Array.isArray(operand)) fail(DocErrors.badValue, `${op} needs an array`);
      for (const element of operand) {
        if (isOperatorExpression(element)) fail(DocErrors.badValue, `cannot nest $ under ${op}`);
      }
      const tests = operand.map(valueEquals);
      const hasNull = operand.some((element) => element === null);
      const inTest: LeafTest = (leaves, details) =>
        forEachCandidate(
          leaves,
          (value) => (value === undefined ? hasNull : tests.some((test) => test(value))),
          details,
        );
      if (op === '$in') return inTest;
      return (leaves) => !inTest(leaves, undefined);
    }
    case '$exists': {
      const wanted = Boolean(operand) && operand !== 0;
      return (leaves) => leaves.some((leaf) => leaf.value !== undefined) === wanted;
    }
    case '$type':
      return typeTest(operand);
    case '$regex': {
      const test = regexTest(regexOf(operand, options));
      return (leaves, details) => forEachCandidate(leaves, test, details);
    }
    case '$size': {
      const size = numberOf(operand);
      if (size === undefined || !Number.isInteger(size) || size < 0)
        fail(DocErrors.badValue, '$size needs a non-negative integer');
      return (leaves) => leaves.some((leaf) => Array.isArray(leaf.value) && leaf.value.length === size);
    }
    case '$all': {
      if (!Array.isArray(operand)) fail(DocErrors.badValue, '$all needs an array');
      if (operand.length === 0) return () => false;
      const tests = operand.map((element) =>
        isDoc(element) && Object.keys(element)[0] === '$elemMatch'
          ? elemMatchTest(element['$elemMatch'])
          : equalityTest(element),
      );
      return (leaves, details) => tests.every((test) => test(leaves, details));
    }
    case '$elemMatch':
      return elemMatchTest(operand);
    case '$not': {
      if (isRegExp(operand)) {
        const test = regexTest(regexOf(operand));
        return (leaves) => !forEachCandidate(leaves, test, undefined);
      }
      if (!isOperatorExpression(operand)) fail(DocErrors.badValue, '$not needs a regex or a document');
      const inner = compileOperand(operand);
      return (leaves) => !inner(leaves, undefined);
    }
    case '$mod': {
      if (!Array.isArray(operand) || operand.length !== 2)
        fail(DocErrors.badValue, 'malformed mod, needs to be an array of [divisor, remainder]');
      const divisor = numberOf(operand[0]);
      const remainder = numberOf(operand[1]);
      if (divisor === undefined || remainder === undefined)
        fail(DocErrors.badValue, 'malformed mod, divisor and remainder must be numbers');
      if (Math.trunc(divisor) === 0) fail(DocErrors.badValue, 'divisor cannot be 0');
      return (leaves, details) =>
        forEachCandidate(
          leaves,
          (value) => {
            const n = numberOf(value);
            return (
              n !== undefined &&
              Number.isFinite(n) &&
              Math.trunc(n) % Math.trunc(divisor) === Math.trunc(remainder)
            );
          },
          details,
        );
    }
    default:
      // $comment and $jsonSchema are top-level only: MongoDB refuses them inside a field's
      // expression, where $jsonSchema would validate the field's leaves instead of a document.
      return fail(DocErrors.badValue, `unknown operator: ${op}`);
  }
}
