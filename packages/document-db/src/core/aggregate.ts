// The aggregation pipeline: documents flow through stages ($match, $group, $sort...), each a
// function from documents to documents. DDIA ch. 2, "MapReduce Querying": MongoDB's answer to
// MapReduce's awkwardness was this declarative pipeline. Other collections ($lookup) come in
// through an injected loader, so the pipeline stays free of storage.
import { DocErrors, fail } from './errors.js';
import { accumulateAll, evaluate } from './expression.js';
import { concatBytes, encodeValue, toHex } from './key-encoding.js';
import { compileFilter } from './matcher.js';
import { lookupLeaves, splitPath } from './path.js';
import { compileProjection } from './projection.js';
import { parseSort, sortDocs } from './sort.js';
import { cloneValue, compareValues, type Doc, isDoc, numberOf } from './values.js';

export interface PipelineEnv {
  /** Every document of another collection of the same database (for $graphLookup, $lookup). */
  collection(name: string): Promise<Doc[]>;
  /**
   * Optional, for $lookup: documents of `name` that may hold one of `values` at `field` (a
   * superset of the equality matches, in collection order), e.g. read through an index with
   * one $in query. Without it $lookup reads the whole collection once per stage.
   */
  lookup?(name: string, field: string, values: unknown[]): Promise<Doc[]>;
  /**
   * Optional, for $graphLookup: documents of `name` that satisfy `restrict` (when given) and may
   * hold one of `values` at `field` (a superset of the equality matches), e.g. one $in query
   * through an index on `field`, or a scan keeping only the matches. Without it $graphLookup
   * reads the whole collection once per stage.
   */
  graphLookup?(name: string, field: string, values: unknown[], restrict: Doc | undefined): Promise<Doc[]>;
}

/** A value's key in $lookup's hash table: its order-preserving encoding (equal values, equal keys). */
function hashKey(value: unknown): string {
  return toHex(encodeValue(value));
}

/**
 * $lookup's equality join, array-aware on both sides (a local array matches any element, as
 * does a foreign one; missing is null). One hash of the foreign documents by their field's
 * values per stage, probed by each input document: a hash join, not a nested loop. The foreign
 * side is what env.lookup finds for the local values (an index when there is one) or the whole
 * collection.
 */
async function lookup(spec: Doc, docs: Doc[], env: PipelineEnv): Promise<Doc[]> {
  const { from, localField, foreignField, as } = spec;
  if (
    typeof from !== 'string' ||
    typeof localField !== 'string' ||
    typeof foreignField !== 'string' ||
    typeof as !== 'string'
  )
    fail(DocErrors.failedToParse, '$lookup needs from, localField, foreignField and as (strings)');
  const localParts = splitPath(localField);
  const foreignParts = splitPath(foreignField);
  const valuesOf = (d: Doc, parts: string[]) => lookupLeaves(d, parts).flatMap((l) => members(l.value));
  const locals = docs.map((d) => valuesOf(d, localParts));
  const wanted = new Map<string, unknown>();
  for (const values of locals) for (const v of values) wanted.set(hashKey(v), v);
  const foreign =
    env.lookup && docs.length > 0
      ? await env.lookup(from, foreignField, [...wanted.values()])
      : await env.collection(from);
  const byValue = new Map<string, number[]>();
  const theirs = foreign.map((f, i) => {
    const values = valuesOf(f, foreignParts);
    for (const key of new Set(values.map(hashKey))) {
      const list = byValue.get(key);
      if (list) list.push(i);
      else byValue.set(key, [i]);
    }
    return values;
  });
  return docs.map((d, j) => {
    const mine = locals[j]!;
    const hits = new Set<number>();
    for (const v of mine) for (const i of byValue.get(hashKey(v)) ?? []) hits.add(i);
    const matches = [...hits]
      .sort((a, b) => a - b)
      .filter((i) => theirs[i]!.some((t) => mine.some((l) => compareValues(t, l) === 0)))
      .map((i) => cloneValue(foreign[i]!));
    const out = cloneValue(d);
    setPath(out, as, matches);
    return out;
  });
}

/** Documents one $group or $bucket may hold (a bound on memory, like MongoDB's 100 MB per stage). */
export const GROUPS_MAX = 1_000_000;

export async function runPipeline(input: Doc[], pipeline: unknown, env: PipelineEnv): Promise<Doc[]> {
  if (!Array.isArray(pipeline))
    fail(DocErrors.typeMismatch, "'pipeline' option must be specified as an array");
  let docs = input;
  for (const stage of pipeline) {
    if (!isDoc(stage) || Object.keys(stage).length !== 1)
      fail(DocErrors.badValue, 'A pipeline stage specification object must contain exactly one field.');
    const [name, spec] = Object.entries(stage)[0]!;
    docs = await runStage(name, spec, docs, env);
  }
  return docs;
}

/** A value's members for matching: an array's elements, or the value itself (missing = null). */
function members(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value ?? null];
}

/** Most documents one $graphLookup may collect for one input document (a bound on memory). */
export const GRAPH_LOOKUP_DOCS_MAX = 100_000;

/**
 * $graphLookup: a breadth-first search over another collection, the document model's answer to
 * DDIA ch. 2's graph queries (Figure 2-5's "who was born in the US and lives in Europe" needs
 * a walk of unknown length along `within` edges, like SQL's WITH RECURSIVE). From the values
 * of `startWith`, find documents whose `connectToField` equals one of them; their
 * `connectFromField` values are the next frontier; repeat until nothing new (each document
 * once, so cycles end) or `maxDepth`.
 *
 * Each frontier is one query for the values not asked about yet (`env.graphLookup`: through an
 * index on connectToField when there is one, else a scan that keeps only the matches), so
 * memory holds what was found, never the whole foreign collection. As in MongoDB, a missing
 * startWith or connectFromField leads nowhere, while null looks for null (and missing)
 * connectToField values; restrictSearchWithMatch filters every document the walk reaches.
 */
async function graphLookup(spec: unknown, docs: Doc[], env: PipelineEnv): Promise<Doc[]> {
  if (!isDoc(spec)) fail(DocErrors.failedToParse, '$graphLookup needs a document');
  const { from, startWith, connectFromField, connectToField, as, maxDepth, depthField } = spec;
  for (const [name, value] of Object.entries({ from, connectFromField, connectToField, as }))
    if (typeof value !== 'string' || value === '')
      fail(DocErrors.failedToParse, `$graphLookup needs '${name}' as a string`);
  if (startWith === undefined) fail(DocErrors.failedToParse, "$graphLookup needs 'startWith'");
  const depthMax = maxDepth === undefined ? Number.POSITIVE_INFINITY : numberOf(maxDepth);
  if (depthMax === undefined || depthMax < 0 || (Number.isFinite(depthMax) && !Number.isInteger(depthMax)))
    fail(DocErrors.badValue, "$graphLookup's maxDepth must be a non-negative integer");
  if (depthField !== undefined && typeof depthField !== 'string')
    fail(DocErrors.failedToParse, "$graphLookup's depthField must be a string");
  const restrictSpec = spec['restrictSearchWithMatch'];
  if (restrictSpec !== undefined && !isDoc(restrictSpec))
    fail(DocErrors.typeMismatch, "$graphLookup's restrictSearchWithMatch must be a document");
  const restrict = restrictSpec === undefined ? () => true : compileFilter(restrictSpec);
  const toParts = splitPath(connectToField as string);
  const fromParts = splitPath(connectFromField as string);
  const keysAt = (d: Doc, parts: string[]) =>
    lookupLeaves(d, parts).flatMap((l) => members(l.value).map(hashKey));
  const candidates = graphCandidates(env, from as string, connectToField as string, restrictSpec, (d) =>
    keysAt(d, toParts),
  );
  const out: Doc[] = [];
  for (const d of docs) {
    // _id's key (or the document itself, for one without _id) -> the document and its depth.
    const found = new Map<unknown, { doc: Doc; depth: number }>();
    const asked = new Set<string>();
    const start = evaluate(startWith, d);
    let frontier = start === undefined ? [] : members(start);
    for (let depth = 0; depth <= depthMax && frontier.length > 0; depth++) {
      const fresh = new Map<string, unknown>();
      for (const value of frontier) {
        const key = hashKey(value);
        if (asked.has(key)) continue;
        asked.add(key);
        fresh.set(key, value);
      }
      if (fresh.size === 0) break;
      const next: unknown[] = [];
      for (const c of await candidates([...fresh.values()])) {
        // The env may give a superset (e.g. $in's regex semantics): keep exact matches only.
        if (!keysAt(c, toParts).some((k) => fresh.has(k)) || !restrict(c)) continue;
        const id = c['_id'] === undefined ? c : hashKey(c['_id']);
        if (found.has(id)) continue;
        found.set(id, { doc: c, depth });
        if (found.size > GRAPH_LOOKUP_DOCS_MAX)
          fail(DocErrors.badValue, `$graphLookup found more than ${GRAPH_LOOKUP_DOCS_MAX} documents`);
        for (const leaf of lookupLeaves(c, fromParts))
          if (leaf.value !== undefined) next.push(...members(leaf.value));
      }
      frontier = next;
    }
    const result = cloneValue(d);
    const matches = [...found.values()].map(({ doc, depth }) => {
      const m = cloneValue(doc);
      if (typeof depthField === 'string') setPath(m, depthField, depth);
      return m;
    });
    setPath(result, as as string, matches);
    out.push(result);
  }
  return out;
}

/**
 * The documents of `from` that may hold one of `values` at connectToField: env.graphLookup's
 * query when the env has one; otherwise (an env of plain arrays, as in tests) the collection
 * read once per stage and hashed by connectToField's values.
 */
function graphCandidates(
  env: PipelineEnv,
  from: string,
  connectToField: string,
  restrict: Doc | undefined,
  keysOf: (d: Doc) => string[],
): (values: unknown[]) => Promise<Doc[]> {
  if (env.graphLookup) return (values) => env.graphLookup!(from, connectToField, values, restrict);
  let byKey: Map<string, Doc[]> | undefined;
  return async (values) => {
    if (!byKey) {
      byKey = new Map();
      for (const f of await env.collection(from))
        for (const key of new Set(keysOf(f))) {
          const list = byKey.get(key);
          if (list) list.push(f);
          else byKey.set(key, [f]);
        }
    }
    const out = new Set<Doc>();
    for (const v of values) for (const f of byKey.get(hashKey(v)) ?? []) out.add(f);
    return [...out];
  };
}

function setPath(doc: Doc, path: string, value: unknown): void {
  const parts = splitPath(path);
  let at: Doc = doc;
  for (const part of parts.slice(0, -1)) {
    if (!isDoc(at[part])) at[part] = {};
    at = at[part] as Doc;
  }
  if (value === undefined) delete at[parts[parts.length - 1]!];
  else at[parts[parts.length - 1]!] = value;
}

function nonNegativeInt(spec: unknown, stage: string): number {
  const n = numberOf(spec);
  if (n === undefined || !Number.isInteger(n) || n < 0)
    fail(DocErrors.badValue, `invalid argument to ${stage} stage`);
  return n;
}

async function runStage(name: string, spec: unknown, docs: Doc[], env: PipelineEnv): Promise<Doc[]> {
  switch (name) {
    case '$match': {
      const matcher = compileFilter(spec);
      return docs.filter((d) => matcher(d));
    }
    case '$project':
      return project(spec, docs);
    case '$addFields':
    case '$set': {
      if (!isDoc(spec)) fail(DocErrors.badValue, `${name} specification stage must be an object`);
      return docs.map((d) => {
        const out = cloneValue(d);
        for (const [path, expr] of Object.entries(spec)) setPath(out, path, evaluate(expr, d));
        return out;
      });
    }
    case '$unset': {
      const fields = typeof spec === 'string' ? [spec] : spec;
      if (!Array.isArray(fields) || fields.some((f) => typeof f !== 'string'))
        fail(DocErrors.badValue, '$unset specification must be a string or an array of strings');
      return project(Object.fromEntries((fields as string[]).map((f) => [f, 0])), docs);
    }
    case '$sort':
      return sortDocs(docs, parseSort(spec));
    case '$limit': {
      const n = nonNegativeInt(spec, '$limit');
      if (n === 0) fail(DocErrors.badValue, 'the limit must be positive');
      return docs.slice(0, n);
    }
    case '$skip':
      return docs.slice(nonNegativeInt(spec, '$skip'));
    case '$count': {
      if (typeof spec !== 'string' || spec === '' || spec.startsWith('$') || spec.includes('.'))
        fail(DocErrors.badValue, 'the count field must be a non-empty string without $ or .');
      return docs.length === 0 ? [] : [{ [spec]: docs.length }];
    }
    case '$group':
      return group(spec, docs);
    case '$unwind':
      return unwind(spec, docs);
    case '$lookup':
      if (!isDoc(spec)) fail(DocErrors.failedToParse, '$lookup needs a document');
      return lookup(spec, docs, env);
    case '$graphLookup':
      return graphLookup(spec, docs, env);
    case '$facet': {
      if (!isDoc(spec)) fail(DocErrors.badValue, '$facet needs a document');
      const out: Doc = {};
      for (const [field, sub] of Object.entries(spec)) out[field] = await runPipeline(docs, sub, env);
      return [out];
    }
    case '$bucket':
      return bucket(spec, docs);
    default:
      return fail(DocErrors.badValue, `Unrecognized pipeline stage name: '${name}'`);
  }
}

function project(spec: unknown, docs: Doc[]): Doc[] {
  if (!isDoc(spec) || Object.keys(spec).length === 0)
    fail(DocErrors.badValue, '$project requires at least one output field');
  const plain: Doc = {};
  const computed: [string, unknown][] = [];
  for (const [path, value] of Object.entries(spec)) {
    const literal = typeof value === 'boolean' || typeof value === 'number';
    if (literal || (isDoc(value) && ['$slice', '$elemMatch'].includes(Object.keys(value)[0] ?? '')))
      plain[path] = value;
    else computed.push([path, value]);
  }
  if (computed.length === 0) {
    const projector = compileProjection(plain)!;
    return docs.map(projector);
  }
  const excluded = Object.entries(plain).some(([p, v]) => p !== '_id' && !v);
  if (excluded) fail(DocErrors.badProjection, 'Cannot use expressions in an exclusion projection');
  const included = Object.keys(plain).filter((p) => p !== '_id');
  const projector = included.length > 0 ? compileProjection({ _id: 1, ...plain }) : undefined;
  return docs.map((d) => {
    const out: Doc = projector ? projector(d) : d['_id'] === undefined ? {} : { _id: d['_id'] };
    if (plain['_id'] === 0 || plain['_id'] === false) delete out['_id'];
    for (const [path, expr] of computed) setPath(out, path, evaluate(expr, d));
    return out;
  });
}

const ACCUMULATORS = new Set([
  '$sum',
  '$avg',
  '$min',
  '$max',
  '$push',
  '$addToSet',
  '$first',
  '$last',
  '$count',
]);

function accumulate(op: string, operand: unknown, members: Doc[]): unknown {
  if (op === '$count') return members.length;
  const values = members.map((m) => evaluate(operand, m));
  switch (op) {
    case '$first':
      return values[0] ?? null;
    case '$last':
      return values[values.length - 1] ?? null;
    case '$push':
      return values.filter((v) => v !== undefined);
    case '$addToSet': {
      const out: unknown[] = [];
      for (const v of values) if (v !== undefined && !out.some((o) => compareValues(o, v) === 0)) out.push(v);
      return out;
    }
    default:
      return accumulateAll(op, values);
  }
}

function groupKey(value: unknown): string {
  return toHex(concatBytes(encodeValue(value ?? null)));
}

/**
 * A $group that only counts per value of one field: `_id: '$path'` and every accumulator a
 * `$sum` of an integer constant or `$count`. Such a group can be answered from an index on the
 * field alone (MongoDB's COUNT_SCAN idea): the index holds every document's value in order, so
 * the groups are runs of equal keys and their sizes. Integer constants only, so that the
 * answer (count × constant) is exactly what adding the constant once per document gives.
 */
export interface CountGroup {
  path: string;
  /** Each output field with what one document adds to it. */
  fields: [name: string, perDocument: number][];
}

export function countGroupOf(spec: unknown): CountGroup | undefined {
  if (!isDoc(spec)) return undefined;
  const id = spec['_id'];
  if (typeof id !== 'string' || !id.startsWith('$') || id.startsWith('$$') || id.length < 2) return undefined;
  const fields: [string, number][] = [];
  for (const [name, acc] of Object.entries(spec)) {
    if (name === '_id') continue;
    if (!isDoc(acc) || Object.keys(acc).length !== 1) return undefined;
    const sum = acc['$sum'];
    const count = acc['$count'];
    if (typeof sum === 'number' && Number.isSafeInteger(sum)) fields.push([name, sum]);
    else if (isDoc(count) && Object.keys(count).length === 0) fields.push([name, 1]);
    else return undefined;
  }
  return { path: id.slice(1), fields };
}

function group(spec: unknown, docs: Doc[]): Doc[] {
  if (!isDoc(spec) || !Object.hasOwn(spec, '_id'))
    fail(DocErrors.failedToParse, 'a group specification must include an _id');
  const fields = Object.entries(spec).filter(([k]) => k !== '_id');
  for (const [field, acc] of fields) {
    if (!isDoc(acc) || Object.keys(acc).length !== 1 || !ACCUMULATORS.has(Object.keys(acc)[0]!))
      fail(DocErrors.failedToParse, `The field '${field}' must be an accumulator object`);
  }
  const groups = new Map<string, { id: unknown; members: Doc[] }>();
  for (const d of docs) {
    const id = evaluate(spec['_id'], d) ?? null;
    const key = groupKey(id);
    let entry = groups.get(key);
    if (!entry) {
      if (groups.size >= GROUPS_MAX)
        fail(DocErrors.badValue, `$group would hold more than ${GROUPS_MAX} groups`);
      entry = { id, members: [] };
      groups.set(key, entry);
    }
    entry.members.push(d);
  }
  return [...groups.values()].map(({ id, members }) => {
    const out: Doc = { _id: id };
    for (const [field, acc] of fields) {
      const [op, operand] = Object.entries(acc as Doc)[0]!;
      out[field] = accumulate(op, operand, members);
    }
    return out;
  });
}

function unwind(spec: unknown, docs: Doc[]): Doc[] {
  const options = typeof spec === 'string' ? { path: spec } : spec;
  if (!isDoc(options) || typeof options['path'] !== 'string' || !options['path'].startsWith('$'))
    fail(DocErrors.failedToParse, '$unwind needs a path starting with $');
  const path = options['path'].slice(1);
  const keepEmpty = options['preserveNullAndEmptyArrays'] === true;
  const indexField = options['includeArrayIndex'];
  const out: Doc[] = [];
  for (const d of docs) {
    const value = evaluate(options['path'], d);
    if (Array.isArray(value) && value.length > 0) {
      value.forEach((element, i) => {
        const copy = cloneValue(d);
        setPath(copy, path, element);
        if (typeof indexField === 'string') setPath(copy, indexField, i);
        out.push(copy);
      });
    } else if (value !== undefined && value !== null && !Array.isArray(value)) {
      const copy = cloneValue(d);
      if (typeof indexField === 'string') setPath(copy, indexField, null);
      out.push(copy);
    } else if (keepEmpty) {
      const copy = cloneValue(d);
      if (Array.isArray(value)) setPath(copy, path, undefined);
      if (typeof indexField === 'string') setPath(copy, indexField, null);
      out.push(copy);
    }
  }
  return out;
}

function bucket(spec: unknown, docs: Doc[]): Doc[] {
  if (!isDoc(spec) || !Array.isArray(spec['boundaries']) || spec['boundaries'].length < 2)
    fail(DocErrors.badValue, '$bucket needs groupBy and at least two boundaries');
  const boundaries = spec['boundaries'] as unknown[];
  for (let i = 1; i < boundaries.length; i++) {
    if (compareValues(boundaries[i - 1], boundaries[i]) >= 0)
      fail(DocErrors.badValue, "The 'boundaries' option to $bucket must be sorted in ascending order");
  }
  const output = isDoc(spec['output']) ? spec['output'] : { count: { $sum: 1 } };
  const buckets = new Map<number, Doc[]>();
  const others: Doc[] = [];
  for (const d of docs) {
    const v = evaluate(spec['groupBy'], d) ?? null;
    let placed = false;
    for (let i = 0; i + 1 < boundaries.length; i++) {
      if (compareValues(v, boundaries[i]) >= 0 && compareValues(v, boundaries[i + 1]) < 0) {
        buckets.set(i, [...(buckets.get(i) ?? []), d]);
        placed = true;
        break;
      }
    }
    if (!placed) {
      if (!Object.hasOwn(spec, 'default'))
        fail(
          DocErrors.badValue,
          '$bucket could not find a matching branch for an input, and no default was specified.',
        );
      others.push(d);
    }
  }
  const result: [unknown, Doc[]][] = [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([i, m]) => [boundaries[i], m]);
  if (others.length > 0) result.push([spec['default'], others]);
  return result.map(([id, members]) => {
    const out: Doc = { _id: id };
    for (const [field, acc] of Object.entries(output)) {
      const [op, operand] = Object.entries(acc as Doc)[0]!;
      if (!ACCUMULATORS.has(op)) fail(DocErrors.failedToParse, `unknown accumulator ${op}`);
      out[field] = accumulate(op, operand, members);
    }
    return out;
  });
}
