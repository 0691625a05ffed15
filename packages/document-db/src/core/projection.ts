// Projections: which fields of a matching document come back. Inclusion ({a: 1}) keeps the
// named fields (and _id unless {_id: 0}), exclusion ({a: 0}) drops them; the two cannot mix
// except for _id. $slice and $elemMatch trim arrays.
import { DocErrors, fail } from './errors.js';
import { compileFilter, type Matcher } from './matcher.js';
import { type Doc, isDoc, numberOf } from './values.js';

type Slice = { kind: 'slice'; skip: number | undefined; limit: number };
type ElemMatch = { kind: 'elemMatch'; matcher: Matcher };
type Node = boolean | Slice | ElemMatch | { [field: string]: Node };

export type Projector = (doc: Doc) => Doc;

function isLeafOp(node: Node): node is Slice | ElemMatch {
  return typeof node === 'object' && 'kind' in node && (node.kind === 'slice' || node.kind === 'elemMatch');
}

function sliceOf(operand: unknown, field: string): Slice {
  if (Array.isArray(operand)) {
    const skip = numberOf(operand[0]);
    const limit = numberOf(operand[1]);
    if (operand.length !== 2 || skip === undefined || limit === undefined)
      fail(DocErrors.badProjection, `$slice of ${field} takes a number or [skip, limit]`);
    if (limit <= 0) fail(DocErrors.badProjection, `$slice limit of ${field} must be positive`);
    return { kind: 'slice', skip: Math.trunc(skip), limit: Math.trunc(limit) };
  }
  const limit = numberOf(operand);
  if (limit === undefined)
    fail(DocErrors.badProjection, `$slice of ${field} takes a number or [skip, limit]`);
  return { kind: 'slice', skip: undefined, limit: Math.trunc(limit) };
}

export function compileProjection(spec: unknown): Projector | undefined {
  if (spec === undefined || spec === null) return undefined;
  if (!isDoc(spec)) fail(DocErrors.badProjection, 'a projection must be a document');
  if (Object.keys(spec).length === 0) return undefined;
  let mode: 'include' | 'exclude' | undefined;
  let idWanted = true;
  const tree: { [field: string]: Node } = {};
  for (const [path, operand] of Object.entries(spec)) {
    let node: Node;
    if (isDoc(operand)) {
      const keys = Object.keys(operand);
      if (keys.length !== 1) fail(DocErrors.badProjection, `projection of ${path} must have one operator`);
      if (keys[0] === '$slice') node = sliceOf(operand['$slice'], path);
      else if (keys[0] === '$elemMatch') {
        if (path.includes('.'))
          fail(DocErrors.badProjection, `cannot use $elemMatch on the dotted field ${path}`);
        node = { kind: 'elemMatch', matcher: compileFilter(operand['$elemMatch']) };
        // $elemMatch returns only the fields named (an inclusion); $slice alone keeps every field.
        if (mode === 'exclude')
          fail(DocErrors.badProjection, `Cannot do inclusion on field ${path} in exclusion projection`);
        mode = 'include';
      } else return fail(DocErrors.badProjection, `unsupported projection operator ${keys[0]}`);
    } else {
      if (path.endsWith('.$')) fail(DocErrors.badProjection, 'the positional projection is not supported');
      const literal = typeof operand === 'boolean' ? operand : numberOf(operand);
      if (literal === undefined)
        fail(DocErrors.badProjection, `projection values must be 0, 1, true, false or an operator (${path})`);
      const include = Boolean(literal);
      node = include;
      if (path === '_id') {
        idWanted = include;
      } else {
        const wanted = include ? 'include' : 'exclude';
        if (mode !== undefined && mode !== wanted) {
          fail(
            DocErrors.badProjection,
            `Cannot do ${wanted === 'include' ? 'inclusion' : 'exclusion'} on field ${path} in ${mode === 'include' ? 'inclusion' : 'exclusion'} projection`,
          );
        }
        mode = wanted;
      }
    }
    insert(tree, path.split('.'), node, path);
  }
  // {_id: 1} alone is an inclusion of _id only.
  if (mode === undefined && tree['_id'] === true && Object.keys(tree).length === 1) mode = 'include';
  if (mode === 'include') {
    if (idWanted && !Object.hasOwn(tree, '_id')) tree['_id'] = true;
    if (!idWanted) delete tree['_id'];
    return (doc) => include(doc, tree);
  }
  return (doc) => exclude(doc, tree) as Doc;
}

function insert(tree: { [field: string]: Node }, parts: string[], node: Node, path: string): void {
  let at = tree;
  for (let i = 0; i < parts.length - 1; i++) {
    const part = parts[i]!;
    const existing = at[part];
    if (existing === undefined) at[part] = {};
    else if (typeof existing !== 'object' || isLeafOp(existing))
      fail(DocErrors.badProjection, `Path collision at ${path}`);
    at = at[part] as { [field: string]: Node };
  }
  const last = parts[parts.length - 1]!;
  if (at[last] !== undefined) fail(DocErrors.badProjection, `Path collision at ${path}`);
  at[last] = node;
}

function applyLeafOp(value: unknown, node: Slice | ElemMatch): unknown {
  if (!Array.isArray(value)) return node.kind === 'slice' ? value : undefined;
  if (node.kind === 'elemMatch') {
    const found = value.find((element) => isDoc(element) && node.matcher(element));
    return found === undefined ? undefined : [found];
  }
  if (node.skip === undefined) {
    return node.limit >= 0 ? value.slice(0, node.limit) : value.slice(Math.max(0, value.length + node.limit));
  }
  const start = node.skip >= 0 ? node.skip : Math.max(0, value.length + node.skip);
  return value.slice(start, start + node.limit);
}

function include(doc: Doc, tree: { [field: string]: Node }): Doc {
  const out: Doc = {};
  for (const key of Object.keys(doc)) {
    const node = tree[key];
    if (node === undefined || node === false) continue;
    const value = doc[key];
    if (node === true) out[key] = value;
    else if (isLeafOp(node)) {
      const projected = applyLeafOp(value, node);
      if (projected !== undefined) out[key] = projected;
    } else if (isDoc(value)) out[key] = include(value, node);
    else if (Array.isArray(value)) out[key] = includeArray(value, node);
  }
  return out;
}

function includeArray(values: unknown[], tree: { [field: string]: Node }): unknown[] {
  const out: unknown[] = [];
  for (const value of values) {
    if (isDoc(value)) out.push(include(value, tree));
    else if (Array.isArray(value)) out.push(includeArray(value, tree));
  }
  return out;
}

function exclude(value: unknown, tree: { [field: string]: Node }): unknown {
  if (Array.isArray(value)) return value.map((element) => exclude(element, tree));
  if (!isDoc(value)) return value;
  const out: Doc = {};
  for (const key of Object.keys(value)) {
    const node = tree[key];
    if (node === false) continue;
    if (node === undefined || node === true) out[key] = value[key];
    else if (isLeafOp(node)) {
      const projected = applyLeafOp(value[key], node);
      if (projected !== undefined) out[key] = projected;
    } else out[key] = exclude(value[key], node);
  }
  return out;
}
