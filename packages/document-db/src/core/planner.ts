// The query planner: which indexes could answer a filter, with which key ranges (bounds), and
// whether an index also yields the requested sort. Candidate plans are scored (equality on a
// prefix beats a range, a range beats a full index scan kept only for its sort, and any of
// them beats a collection scan when it narrows the keys read). DDIA ch. 2: a declarative query
// lets the database pick the access path; ch. 3: the index is a sorted key range.
import type { IndexSpec, KeyPattern } from './index-keys.js';
import { compareBytes, concatBytes, encodeValue, HIGH, typeRange } from './key-encoding.js';
import { isOperatorExpression } from './matcher.js';
import type { SortSpec } from './sort.js';
import { bsonTag, compareValues, type Doc, isDate, isDoc, isRegExp, TypeOrder, typeOrder } from './values.js';

/** A range of one field's encoded values. */
export interface Interval {
  lo: Uint8Array;
  loInclusive: boolean;
  hi: Uint8Array;
  hiInclusive: boolean;
  /** Human-readable form for explain, MongoDB style: "[1, 1]", "(5, inf.0]". */
  text: string;
}

/** A range of whole index keys, ready for an iterator: gte/gt lo, lt/lte hi. */
export interface KeyRange {
  lo: Uint8Array;
  loInclusive: boolean;
  hi: Uint8Array;
  hiInclusive: boolean;
}

export interface IndexInfo extends IndexSpec {
  multikey: boolean;
}

export interface IndexPlan {
  kind: 'IXSCAN';
  index: IndexInfo;
  /** Intervals per index field, in index order (full range where the filter says nothing). */
  bounds: Interval[][];
  ranges: KeyRange[];
  /** 1 scans forwards, -1 backwards (to produce a descending sort). */
  direction: 1 | -1;
  providesSort: boolean;
  score: number;
}

export interface CollScanPlan {
  kind: 'COLLSCAN';
  providesSort: false;
  score: number;
}

export type Plan = IndexPlan | CollScanPlan;

/** Beyond this many key ranges (a large $in on several fields), bounds are widened. */
export const KEY_RANGES_MAX = 1_000;

const FULL: Interval = {
  lo: Uint8Array.of(0x00),
  loInclusive: true,
  hi: Uint8Array.of(HIGH),
  hiInclusive: true,
  text: '[MinKey, MaxKey]',
};

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (value === null) return 'null';
  try {
    return String(JSON.stringify(value) ?? value);
  } catch {
    return String(value);
  }
}

/** Intervals for one predicate on a field, or undefined when the index cannot narrow it. */
function intervalsOf(operand: unknown, direction: 1 | -1): Interval[] | undefined {
  const point = (value: unknown): Interval | undefined => {
    if (Array.isArray(value) || isRegExp(value)) return undefined;
    if (isDoc(value) && JSON.stringify(value)?.includes('[')) return undefined;
    const bytes = encodeValue(value, direction);
    return {
      lo: bytes,
      loInclusive: true,
      hi: bytes,
      hiInclusive: true,
      text: `[${show(value)}, ${show(value)}]`,
    };
  };
  if (!isOperatorExpression(operand)) {
    const p = point(operand);
    return p ? [p] : undefined;
  }
  // Several operators on one field: use the first that narrows (a range pair is intersected below).
  let result: Interval[] | undefined;
  for (const [op, value] of Object.entries(operand)) {
    let next: Interval[] | undefined;
    if (op === '$eq') next = point(value) ? [point(value)!] : undefined;
    else if (op === '$in' && Array.isArray(value)) {
      const points = value.map(point);
      next = points.every((p) => p !== undefined) ? (points as Interval[]) : undefined;
      if (next) next = mergePoints(next);
    } else if (['$gt', '$gte', '$lt', '$lte'].includes(op)) next = rangeOf(op, value, direction);
    if (!next) continue;
    result = result ? intersect(result, next) : next;
  }
  return result;
}

function mergePoints(points: Interval[]): Interval[] {
  const sorted = [...points].sort((a, b) => compareBytes(a.lo, b.lo));
  return sorted.filter((p, i) => i === 0 || compareBytes(p.lo, sorted[i - 1]!.lo) !== 0);
}

function rangeOf(op: string, value: unknown, direction: 1 | -1): Interval[] | undefined {
  const order = typeOrder(value);
  if (order === TypeOrder.null || order === TypeOrder.minKey || order === TypeOrder.maxKey) return undefined;
  if (Array.isArray(value) || isRegExp(value)) return undefined;
  const bracket = typeRange(order, direction);
  const bytes = encodeValue(value, direction);
  const lower = op === '$gt' || op === '$gte';
  const inclusive = op === '$gte' || op === '$lte';
  const text = lower
    ? `${inclusive ? '[' : '('}${show(value)}, inf]`
    : `[-inf, ${show(value)}${inclusive ? ']' : ')'}`;
  // A lower bound on an ascending field is a lower bound on the bytes; descending flips it.
  if (lower === (direction === 1)) {
    return [{ lo: bytes, loInclusive: inclusive, hi: bracket.hi, hiInclusive: false, text }];
  }
  return [{ lo: bracket.lo, loInclusive: true, hi: bytes, hiInclusive: inclusive, text }];
}

/** Intersection of two unions of intervals (each sorted, disjoint). */
function intersect(a: Interval[], b: Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const x of a) {
    for (const y of b) {
      const loCmp = compareBytes(x.lo, y.lo);
      const lo = loCmp > 0 ? x : loCmp < 0 ? y : x.loInclusive ? y : x;
      const hiCmp = compareBytes(x.hi, y.hi);
      const hi = hiCmp < 0 ? x : hiCmp > 0 ? y : x.hiInclusive ? y : x;
      const c = compareBytes(lo.lo, hi.hi);
      if (c > 0 || (c === 0 && !(lo.loInclusive && hi.hiInclusive))) continue;
      out.push({
        lo: lo.lo,
        loInclusive: lo.loInclusive,
        hi: hi.hi,
        hiInclusive: hi.hiInclusive,
        text: x.text === y.text ? x.text : `${x.text} ∩ ${y.text}`,
      });
    }
  }
  return out;
}

/** The predicates on each top-level path of a filter (its fields and its $and clauses). */
function predicatesByPath(filter: Doc): Map<string, unknown[]> {
  const out = new Map<string, unknown[]>();
  const visit = (clauses: Doc) => {
    for (const [key, operand] of Object.entries(clauses)) {
      if (key === '$and' && Array.isArray(operand)) {
        for (const clause of operand) if (isDoc(clause)) visit(clause);
      } else if (!key.startsWith('$')) {
        out.set(key, [...(out.get(key) ?? []), operand]);
      }
    }
  };
  visit(filter);
  return out;
}

function boundsFor(index: IndexInfo, predicates: Map<string, unknown[]>): Interval[][] {
  return index.key.map(([path, direction]) => {
    let intervals: Interval[] | undefined;
    for (const operand of predicates.get(path) ?? []) {
      const next = intervalsOf(operand, direction);
      if (!next) continue;
      // A multikey index cannot intersect bounds: different elements may satisfy each predicate.
      if (intervals && index.multikey) continue;
      intervals = intervals ? intersect(intervals, next) : next;
    }
    return intervals ?? [FULL];
  });
}

function containsNull(interval: Interval, direction: 1 | -1): boolean {
  const encoded = encodeValue(null, direction);
  const lo = compareBytes(interval.lo, encoded);
  const hi = compareBytes(encoded, interval.hi);
  return (lo < 0 || (lo === 0 && interval.loInclusive)) && (hi < 0 || (hi === 0 && interval.hiInclusive));
}

function isPoint(interval: Interval): boolean {
  return interval.loInclusive && interval.hiInclusive && compareBytes(interval.lo, interval.hi) === 0;
}

/** Whole-key ranges: equality prefixes multiplied out, then one ranged field, the rest open. */
export function keyRanges(bounds: Interval[][]): KeyRange[] {
  let prefixes: Uint8Array[] = [new Uint8Array(0)];
  for (const intervals of bounds) {
    if (intervals.every(isPoint) && prefixes.length * intervals.length <= KEY_RANGES_MAX) {
      prefixes = prefixes.flatMap((p) => intervals.map((i) => concatBytes(p, i.lo)));
      continue;
    }
    const ranges: KeyRange[] = [];
    for (const p of prefixes) {
      for (const i of intervals) {
        ranges.push({
          lo: i.loInclusive ? concatBytes(p, i.lo) : concatBytes(p, i.lo, Uint8Array.of(HIGH)),
          loInclusive: true,
          hi: i.hiInclusive ? concatBytes(p, i.hi, Uint8Array.of(HIGH)) : concatBytes(p, i.hi),
          hiInclusive: false,
        });
      }
    }
    return ranges;
  }
  return prefixes.map((p) => ({
    lo: p,
    loInclusive: true,
    hi: concatBytes(p, Uint8Array.of(HIGH)),
    hiInclusive: false,
  }));
}

/** Whether scanning the index (forwards or backwards) yields documents in the sort's order. */
function sortDirection(
  key: KeyPattern,
  bounds: Interval[][],
  sort: SortSpec,
  multikey: boolean,
): 1 | -1 | undefined {
  if (sort.length === 0 || multikey) return undefined;
  // Fields pinned to a single value by equality may be skipped before the sort fields start.
  for (let start = 0; start <= key.length - sort.length; start++) {
    let direction: 1 | -1 | undefined;
    let ok = true;
    for (let i = 0; i < sort.length; i++) {
      const [path, indexDir] = key[start + i]!;
      const [sortPath, sortDir] = sort[i]!;
      if (path !== sortPath) {
        ok = false;
        break;
      }
      const d = indexDir === sortDir ? 1 : -1;
      if (direction === undefined) direction = d;
      else if (direction !== d) ok = false;
    }
    if (ok && direction !== undefined) return direction;
    const pinned = bounds[start]!.length === 1 && isPoint(bounds[start]![0]!);
    if (!pinned) return undefined;
  }
  return undefined;
}

export function candidatePlans(filter: Doc, sort: SortSpec, indexes: IndexInfo[]): Plan[] {
  const predicates = predicatesByPath(filter);
  const plans: Plan[] = [];
  for (const index of indexes) {
    const bounds = boundsFor(index, predicates);
    // Equality on a prefix of the index narrows most; the first ranged field ends the prefix.
    let score = 0;
    for (const intervals of bounds) {
      if (intervals.length === 1 && intervals[0] === FULL) break;
      if (!intervals.every(isPoint)) {
        score += 2;
        break;
      }
      score += 3;
    }
    // A sparse index lacks the documents missing every indexed field: usable only when the
    // bounds of some field leave null out (the filter then rejects those documents anyway).
    if (index.sparse) {
      const excludesNull = bounds.some(
        (intervals, k) => intervals[0] !== FULL && !intervals.some((i) => containsNull(i, index.key[k]![1])),
      );
      if (!excludesNull) continue;
    }
    const direction = sortDirection(index.key, bounds, sort, index.multikey);
    if (score === 0 && direction === undefined) continue;
    // Unique indexes with every field pinned return at most one document.
    if (index.unique && bounds.every((b) => b.length === 1 && isPoint(b[0]!))) score += 2;
    if (direction !== undefined) score += 1;
    plans.push(indexPlan(index, bounds, direction, score));
  }
  plans.push({ kind: 'COLLSCAN', providesSort: false, score: 0.5 });
  return plans.sort((a, b) => b.score - a.score);
}

/** The plan a hint names (index name or key pattern), if any. */
export function hintedPlan(
  plans: Plan[],
  indexes: IndexInfo[],
  hint: unknown,
  sort: SortSpec,
): Plan | undefined {
  if (hint === undefined || hint === null) return undefined;
  const index = indexes.find((i) =>
    typeof hint === 'string'
      ? i.name === hint
      : isDoc(hint) && compareValues(Object.fromEntries(i.key), hint) === 0,
  );
  if (isDoc(hint) && hint['$natural'] !== undefined) return plans.find((p) => p.kind === 'COLLSCAN');
  if (!index) return undefined;
  const existing = plans.find((p) => p.kind === 'IXSCAN' && p.index.name === index.name);
  if (existing) return existing;
  const bounds = index.key.map(() => [FULL]);
  const direction = sortDirection(index.key, bounds, sort, index.multikey);
  return indexPlan(index, bounds, direction, 0);
}

/**
 * An index scan over `bounds`; `direction` is the one that yields the query's sort order, or
 * undefined when the index cannot provide that order (the scan then runs forwards).
 */
function indexPlan(
  index: IndexInfo,
  bounds: Interval[][],
  direction: 1 | -1 | undefined,
  score: number,
): IndexPlan {
  return {
    kind: 'IXSCAN',
    index,
    bounds,
    ranges: keyRanges(bounds),
    direction: direction ?? 1,
    providesSort: direction !== undefined,
    score,
  };
}

/** Operators whose index bounds are the whole predicate on a scalar (planner's intervalsOf). */
const EXACT_OPERATORS = new Set(['$eq', '$gt', '$gte', '$lt', '$lte']);

/** A value whose encoded key is equal (or ordered) exactly when the matcher finds it so. */
function isExactScalar(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value === 'string' || typeof value === 'boolean') return true;
  if (isDate(value)) return !Number.isNaN(value.getTime());
  return bsonTag(value) === 'ObjectId';
}

/**
 * Whether every document the plan's index scan reads matches the filter, so the documents need
 * no matcher and need not be decoded (MongoDB's "exact bounds": no filter on the FETCH). Only
 * the simple, common case: one top-level field, equality or a range on numbers, strings,
 * booleans, dates or ObjectIds, through a single-field index that holds no arrays (one key per
 * document, the field's own value; a missing field indexes as null, outside those brackets).
 */
export function boundsAreExact(filter: Doc, plan: Plan): boolean {
  if (plan.kind !== 'IXSCAN' || plan.index.key.length !== 1 || plan.index.multikey) return false;
  const path = plan.index.key[0]![0];
  let fields = 0;
  for (const key in filter) {
    if (key !== path) return false;
    fields++;
  }
  if (fields !== 1 || path.includes('.')) return false;
  const operand = filter[path];
  if (!isOperatorExpression(operand)) return isExactScalar(operand);
  let operators = 0;
  for (const [op, value] of Object.entries(operand)) {
    if (!EXACT_OPERATORS.has(op) || !isExactScalar(value)) return false;
    operators++;
  }
  return operators > 0;
}
