// Update operators ($set, $inc, $push...) and replacement documents, applied to a copy of a
// document. All paths of one update are checked for conflicts first, so an update either
// applies whole or fails without a change (MongoDB's rule for a single document).
import { DocErrors, fail } from './errors.js';
import { compileFilter, isOperatorExpression } from './matcher.js';
import { isArrayIndex, splitPath } from './path.js';
import { parseSort, sortDocs } from './sort.js';
import { cloneValue, compareValues, type Doc, isDoc, numberOf, valuesEqual } from './values.js';

export interface UpdateOptions {
  /** Array position the query matched, for the positional `$` operator. */
  position?: number | undefined;
  /** True when the update builds a new document for an upsert ($setOnInsert applies). */
  inserting?: boolean;
}

export interface UpdateResult {
  doc: Doc;
  modified: boolean;
}

const OPERATORS = new Set([
  '$set',
  '$unset',
  '$inc',
  '$mul',
  '$min',
  '$max',
  '$rename',
  '$push',
  '$addToSet',
  '$pull',
  '$pullAll',
  '$pop',
  '$setOnInsert',
]);

export function isReplacement(update: Doc): boolean {
  const keys = Object.keys(update);
  return keys.length === 0 || !keys[0]!.startsWith('$');
}

export function validateUpdate(update: unknown): asserts update is Doc {
  if (Array.isArray(update)) fail(DocErrors.failedToParse, 'pipeline-style updates are not supported');
  if (!isDoc(update)) fail(DocErrors.failedToParse, 'an update must be a document');
  if (isReplacement(update)) {
    for (const key of Object.keys(update)) {
      if (key.startsWith('$'))
        fail(DocErrors.badValue, `The dollar ($) prefixed field '${key}' is not allowed in a replacement`);
    }
    return;
  }
  for (const [op, fields] of Object.entries(update)) {
    if (!OPERATORS.has(op)) fail(DocErrors.failedToParse, `Unknown modifier: ${op}`);
    if (!isDoc(fields))
      fail(DocErrors.failedToParse, `Modifiers operate on fields but we found a non-object for ${op}`);
  }
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'double';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  return 'object';
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The parent container of a path and the last component, creating documents on the way. */
function parentOf(
  doc: Doc,
  parts: string[],
  create: boolean,
): { parent: Doc | unknown[]; key: string } | undefined {
  let at: unknown = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const part = parts[i]!;
    let next: unknown;
    if (Array.isArray(at)) {
      if (!isArrayIndex(part)) {
        if (!create) return undefined;
        fail(
          DocErrors.pathNotViable,
          `Cannot create field '${part}' in element {${parts[i - 1] ?? ''}: ${describe(at)}}`,
        );
      }
      next = at[Number(part)];
    } else if (isDoc(at)) {
      next = Object.hasOwn(at, part) ? at[part] : undefined;
    } else return undefined;
    if (next === undefined || next === null) {
      if (!create) return undefined;
      if (next === null)
        fail(DocErrors.pathNotViable, `Cannot create field '${parts[i + 1]}' in element {${part}: null}`);
      next = {};
      setChild(at as Doc | unknown[], part, next);
    } else if (!isDoc(next) && !Array.isArray(next)) {
      if (!create) return undefined;
      fail(
        DocErrors.pathNotViable,
        `Cannot create field '${parts[i + 1]}' in element {${part}: ${describe(next)}}`,
      );
    }
    at = next;
  }
  if (!isDoc(at) && !Array.isArray(at)) return undefined;
  return { parent: at, key: parts[parts.length - 1]! };
}

function getChild(parent: Doc | unknown[], key: string): unknown {
  if (Array.isArray(parent)) return isArrayIndex(key) ? parent[Number(key)] : undefined;
  return Object.hasOwn(parent, key) ? parent[key] : undefined;
}

function setChild(parent: Doc | unknown[], key: string, value: unknown): void {
  if (Array.isArray(parent)) {
    if (!isArrayIndex(key)) fail(DocErrors.pathNotViable, `Cannot create field '${key}' in an array`);
    const index = Number(key);
    // Setting past the end pads the array with nulls, as MongoDB does.
    while (parent.length < index) parent.push(null);
    parent[index] = value;
  } else parent[key] = value;
}

function resolvePositional(path: string, position: number | undefined): string {
  const parts = splitPath(path);
  const at = parts.indexOf('$');
  if (at < 0) return path;
  if (parts.indexOf('$', at + 1) >= 0)
    fail(DocErrors.badValue, `Too many positional (i.e. '$') elements found in path '${path}'`);
  if (position === undefined)
    fail(DocErrors.badValue, 'The positional operator did not find the match needed from the query.');
  parts[at] = String(position);
  return parts.join('.');
}

function checkConflicts(paths: string[]): void {
  const sorted = [...paths].sort();
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (a === b || b.startsWith(`${a}.`))
      fail(DocErrors.conflictingUpdate, `Updating the path '${b}' would create a conflict at '${a}'`);
  }
}

function requireNumber(op: string, value: unknown): number {
  const n = numberOf(value);
  if (n === undefined)
    fail(
      DocErrors.typeMismatch,
      `Cannot ${op === '$inc' ? 'increment' : 'multiply'} with non-numeric argument: ${describe(value)}`,
    );
  return n;
}

function arrayAt(doc: Doc, path: string, value: unknown): unknown[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value))
    fail(
      DocErrors.typeMismatch,
      `The field '${path}' must be an array but is of type ${typeName(value)} in document {_id: ${describe(doc['_id'])}}`,
    );
  return value;
}

function eachOf(operand: unknown): { values: unknown[]; modifiers: Doc } {
  if (isDoc(operand) && Object.hasOwn(operand, '$each')) {
    const each = operand['$each'];
    if (!Array.isArray(each))
      fail(DocErrors.badValue, `The argument to $each must be an array but it was ${typeName(each)}`);
    const { $each: _, ...modifiers } = operand;
    for (const key of Object.keys(modifiers)) {
      if (!['$slice', '$sort', '$position'].includes(key))
        fail(DocErrors.badValue, `Unrecognized clause in $push: ${key}`);
    }
    return { values: each, modifiers };
  }
  return { values: [operand], modifiers: {} };
}

function pullTest(condition: unknown): (element: unknown) => boolean {
  if (isOperatorExpression(condition)) {
    const matcher = compileFilter({ v: condition });
    return (element) => matcher({ v: element });
  }
  if (isDoc(condition)) {
    // A document condition is a query on each element that is a document.
    const matcher = compileFilter(condition);
    return (element) => isDoc(element) && matcher(element);
  }
  return (element) => valuesEqual(element, condition);
}

/** Applies an update (operators or a replacement) to a copy of `doc`. */
export function applyUpdate(doc: Doc, update: Doc, options: UpdateOptions = {}): UpdateResult {
  validateUpdate(update);
  if (isReplacement(update)) return replace(doc, update);
  const steps: { op: string; path: string; operand: unknown }[] = [];
  for (const [op, fields] of Object.entries(update)) {
    if (op === '$setOnInsert' && !options.inserting) continue;
    for (const [rawPath, operand] of Object.entries(fields as Doc)) {
      if (rawPath === '' || rawPath.split('.').some((p) => p === ''))
        fail(DocErrors.badValue, `An empty update path is not valid: '${rawPath}'`);
      const path = resolvePositional(rawPath, options.position);
      steps.push({ op, path, operand });
      if (op === '$rename') {
        if (typeof operand !== 'string' || operand === '')
          fail(DocErrors.badValue, `The 'to' field for $rename must be a string: ${rawPath}`);
        if (operand === path)
          fail(DocErrors.badValue, `The source and target field for $rename must differ: ${rawPath}`);
      }
    }
  }
  checkConflicts(steps.flatMap((s) => (s.op === '$rename' ? [s.path, s.operand as string] : [s.path])));
  const out = cloneValue(doc);
  for (const step of steps) applyStep(out, step.op, step.path, step.operand);
  if (!valuesEqual(out['_id'], doc['_id']) || (doc['_id'] !== undefined && out['_id'] === undefined))
    fail(
      DocErrors.immutableField,
      "Performing an update on the path '_id' would modify the immutable field '_id'",
    );
  return { doc: out, modified: !sameDocument(doc, out) };
}

function sameDocument(a: Doc, b: Doc): boolean {
  return compareValues(a, b) === 0 && JSON.stringify(Object.keys(a)) === JSON.stringify(Object.keys(b));
}

function replace(doc: Doc, replacement: Doc): UpdateResult {
  const out: Doc = {};
  if (doc['_id'] !== undefined) {
    if (replacement['_id'] !== undefined && !valuesEqual(replacement['_id'], doc['_id']))
      fail(DocErrors.immutableField, 'The _id field cannot be changed by a replacement');
    out['_id'] = doc['_id'];
  }
  for (const [key, value] of Object.entries(replacement)) {
    if (key === '_id') continue;
    out[key] = cloneValue(value);
  }
  return { doc: out, modified: !sameDocument(doc, out) };
}

function applyStep(doc: Doc, op: string, path: string, operand: unknown): void {
  const parts = splitPath(path);
  switch (op) {
    case '$set':
    case '$setOnInsert': {
      const { parent, key } = parentOf(doc, parts, true)!;
      setChild(parent, key, cloneValue(operand));
      return;
    }
    case '$unset': {
      const found = parentOf(doc, parts, false);
      if (!found) return;
      if (Array.isArray(found.parent)) {
        // Unsetting an array element leaves a null in its place (the array keeps its length).
        if (isArrayIndex(found.key) && Number(found.key) < found.parent.length)
          found.parent[Number(found.key)] = null;
      } else delete found.parent[found.key];
      return;
    }
    case '$inc':
    case '$mul': {
      const by = requireNumber(op, operand);
      const { parent, key } = parentOf(doc, parts, true)!;
      const current = getChild(parent, key);
      if (current === undefined) {
        setChild(parent, key, op === '$inc' ? by : 0);
        return;
      }
      const n = numberOf(current);
      if (n === undefined)
        fail(
          DocErrors.typeMismatch,
          `Cannot apply ${op} to a value of non-numeric type. {_id: ${describe(doc['_id'])}} has the field '${key}' of non-numeric type ${typeName(current)}`,
        );
      setChild(parent, key, op === '$inc' ? n + by : n * by);
      return;
    }
    case '$min':
    case '$max': {
      const { parent, key } = parentOf(doc, parts, true)!;
      const current = getChild(parent, key);
      const c = current === undefined ? 0 : compareValues(operand, current);
      if (current === undefined || (op === '$min' ? c < 0 : c > 0))
        setChild(parent, key, cloneValue(operand));
      return;
    }
    case '$rename': {
      const target = operand as string;
      if (parts.some(isArrayIndex) || splitPath(target).some(isArrayIndex))
        fail(DocErrors.badValue, `$rename does not reach into arrays: ${path}`);
      const from = parentOf(doc, parts, false);
      if (!from || Array.isArray(from.parent)) {
        if (from && Array.isArray(from.parent))
          fail(DocErrors.badValue, `The source field cannot be an array element: ${path}`);
        return;
      }
      if (!Object.hasOwn(from.parent, from.key)) return;
      const value = from.parent[from.key];
      delete from.parent[from.key];
      const to = parentOf(doc, splitPath(target), true)!;
      if (Array.isArray(to.parent))
        fail(DocErrors.badValue, `The destination field cannot be an array element: ${target}`);
      setChild(to.parent, to.key, value);
      return;
    }
    case '$push':
    case '$addToSet': {
      const { parent, key } = parentOf(doc, parts, true)!;
      const current = arrayAt(doc, path, getChild(parent, key));
      const { values, modifiers } = eachOf(operand);
      let array = current ? [...current] : [];
      if (op === '$addToSet') {
        if (Object.keys(modifiers).length > 0) fail(DocErrors.badValue, '$addToSet takes only $each');
        for (const value of values)
          if (!array.some((e) => valuesEqual(e, value) && sameShape(e, value))) array.push(cloneValue(value));
      } else {
        const position = modifiers['$position'];
        let at = array.length;
        if (position !== undefined) {
          const p = numberOf(position);
          if (p === undefined || !Number.isInteger(p))
            fail(DocErrors.badValue, '$position must be an integer');
          at = p >= 0 ? Math.min(p, array.length) : Math.max(0, array.length + p);
        }
        array.splice(at, 0, ...values.map(cloneValue));
        if (modifiers['$sort'] !== undefined) array = sortArray(array, modifiers['$sort']);
        if (modifiers['$slice'] !== undefined) {
          const n = numberOf(modifiers['$slice']);
          if (n === undefined || !Number.isInteger(n)) fail(DocErrors.badValue, '$slice must be an integer');
          array = n >= 0 ? array.slice(0, n) : array.slice(Math.max(0, array.length + n));
        }
      }
      setChild(parent, key, array);
      return;
    }
    case '$pull':
    case '$pullAll': {
      const found = parentOf(doc, parts, false);
      if (!found) return;
      const current = arrayAt(doc, path, getChild(found.parent, found.key));
      if (!current) return;
      let test: (element: unknown) => boolean;
      if (op === '$pullAll') {
        if (!Array.isArray(operand)) fail(DocErrors.badValue, '$pullAll requires an array argument');
        test = (element) => operand.some((v) => valuesEqual(v, element));
      } else test = pullTest(operand);
      setChild(
        found.parent,
        found.key,
        current.filter((element) => !test(element)),
      );
      return;
    }
    case '$pop': {
      const n = numberOf(operand);
      if (n !== 1 && n !== -1) fail(DocErrors.failedToParse, '$pop expects 1 or -1');
      const found = parentOf(doc, parts, false);
      if (!found) return;
      const current = arrayAt(doc, path, getChild(found.parent, found.key));
      if (!current || current.length === 0) return;
      setChild(found.parent, found.key, n === 1 ? current.slice(0, -1) : current.slice(1));
      return;
    }
    default:
      fail(DocErrors.failedToParse, `Unknown modifier: ${op}`);
  }
}

/** $addToSet treats {a: 1, b: 2} and {b: 2, a: 1} as different, as BSON equality does. */
function sameShape(a: unknown, b: unknown): boolean {
  if (isDoc(a) && isDoc(b)) return JSON.stringify(Object.keys(a)) === JSON.stringify(Object.keys(b));
  return true;
}

function sortArray(array: unknown[], spec: unknown): unknown[] {
  const n = numberOf(spec);
  if (n === 1 || n === -1) {
    return [...array].sort((a, b) => compareValues(a, b) * n);
  }
  const sortSpec = parseSort(spec);
  const docs = array.map((value) => (isDoc(value) ? value : {}));
  const order = sortDocs(
    docs.map((d, i) => ({ ...d, __i: i })),
    sortSpec,
  ).map((d) => (d as { __i: number }).__i);
  return order.map((i) => array[i]);
}

/** The document an upsert inserts: the filter's equality fields, then the update on top. */
export function upsertSeed(filter: Doc): Doc {
  const seed: Doc = {};
  const visit = (clauses: Doc) => {
    for (const [key, operand] of Object.entries(clauses)) {
      if (key === '$and' && Array.isArray(operand)) {
        for (const clause of operand) if (isDoc(clause)) visit(clause);
        continue;
      }
      if (key.startsWith('$')) continue;
      let value: unknown;
      if (isOperatorExpression(operand)) {
        if (!Object.hasOwn(operand, '$eq')) continue;
        value = operand['$eq'];
      } else value = operand;
      const found = parentOf(seed, splitPath(key), true);
      if (found) setChild(found.parent, found.key, cloneValue(value));
    }
  };
  visit(filter);
  return seed;
}
