// The PromQL evaluator. An instant query evaluates the tree at one time; a range query at
// every step from start to end (Prometheus does the same, step by step). Each selector's
// samples are read from storage once per query, for the whole window the query needs, and
// each step then binary-searches them.
//
// Rules from Prometheus that shape the results:
// - An instant selector takes, per series, the newest sample no older than the lookback
//   delta (5 minutes); if that sample is a staleness marker, the series is absent.
// - A range selector [r] takes the samples in [t - r, t], staleness markers left out.
// - Functions and arithmetic drop the metric name; comparisons without `bool` keep it.
import { applyArithmetic, isArithmeticOperator, upperBound } from '@ddia/common/core';
import { PromqlEvalError } from '../errors.js';
import {
  getLabel,
  type Labels,
  labelsKey,
  METRIC_NAME,
  normalizeLabels,
  onlyLabels,
  setLabel,
  withoutLabels,
} from '../labels.js';
import type { Queryable, SeriesData } from '../tsdb.js';
import {
  type Aggregate,
  type Binary,
  type BinaryOp,
  type Call,
  COMPARISON_OPS,
  type Expr,
  SET_OPS,
  type VectorSelector,
} from './ast.js';
import {
  type Bucket,
  bucketQuantile,
  extrapolatedRate,
  instantRate,
  overTime,
  quantile,
} from './functions.js';
import type { RangeSeries, Sample, Value } from './values.js';

export const LOOKBACK_DELTA_MS = 5 * 60 * 1000;
/** A range query may produce at most this many points per series (Prometheus refuses > 11,000). */
export const RANGE_POINTS_MAX = 11_000;

export interface EngineOptions {
  lookbackDeltaMs?: number;
}

function lowerBound(ts: readonly number[], t: number): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function dropName(labels: Labels): Labels {
  return labels.filter(([n]) => n !== METRIC_NAME);
}

const ARITHMETIC: ReadonlySet<BinaryOp> = new Set(['+', '-', '*', '/', '%', '^', 'atan2']);

function arithmetic(op: BinaryOp, l: number, r: number): number {
  if (op === '^') return l ** r;
  if (op === 'atan2') return Math.atan2(l, r);
  if (isArithmeticOperator(op)) return applyArithmetic(op, l, r);
  throw new Error(`not arithmetic: ${op}`);
}

function compare(op: BinaryOp, l: number, r: number): boolean {
  switch (op) {
    case '==':
      return l === r;
    case '!=':
      return l !== r;
    case '>':
      return l > r;
    case '<':
      return l < r;
    case '>=':
      return l >= r;
    case '<=':
      return l <= r;
    default:
      throw new Error(`not a comparison: ${op}`);
  }
}

/** (value, keep) of a binary operation on two numbers; comparisons keep the left value. */
function elemBinop(op: BinaryOp, l: number, r: number): [number, boolean] {
  if (COMPARISON_OPS.has(op)) return [l, compare(op, l, r)];
  return [arithmetic(op, l, r), true];
}

/**
 * The first k samples in the order `sign * value` (NaN last either way, as in Prometheus), ties in
 * input order — what a stable sort then a slice gives, in one pass keeping only k: topk over
 * 10,000 series had sorted all of them.
 */
function firstK(samples: readonly Sample[], k: number, sign: number): Sample[] {
  const before = (a: Sample, b: Sample): boolean => {
    if (Number.isNaN(a.value)) return false;
    if (Number.isNaN(b.value)) return true;
    return sign * (a.value - b.value) < 0;
  };
  const best: Sample[] = [];
  for (const s of samples) {
    if (best.length === k && !before(s, best[k - 1]!)) continue;
    // After every kept sample it does not strictly beat, so ties stay in input order.
    let i = best.length;
    while (i > 0 && before(s, best[i - 1]!)) i--;
    best.splice(i, 0, s);
    if (best.length > k) best.pop();
  }
  return best;
}

class Evaluation {
  private readonly cache = new Map<VectorSelector, SeriesData[]>();

  constructor(
    private readonly queryable: Queryable,
    private readonly lookbackMs: number,
    private readonly startMs: number,
    private readonly endMs: number,
  ) {}

  /** The samples a selector needs over the whole query, read once. */
  private series(sel: VectorSelector, rangeMs: number): SeriesData[] {
    let found = this.cache.get(sel);
    if (!found) {
      const back = rangeMs > 0 ? rangeMs : this.lookbackMs;
      const minT = this.startMs - sel.offsetMs - back;
      const maxT = this.endMs - sel.offsetMs;
      // An instant selector in an instant query reads one sample per series: the newest.
      const latest = rangeMs === 0 && this.startMs === this.endMs && this.queryable.selectLatest;
      found = latest
        ? this.queryable.selectLatest!(sel.matchers, minT, maxT)
        : this.queryable.select(sel.matchers, minT, maxT);
      this.cache.set(sel, found);
    }
    return found;
  }

  eval(expr: Expr, t: number): Value {
    switch (expr.kind) {
      case 'number':
        return { type: 'scalar', value: expr.value };
      case 'string':
        return { type: 'string', value: expr.value };
      case 'paren':
        return this.eval(expr.expr, t);
      case 'unary': {
        const v = this.eval(expr.expr, t);
        if (expr.op === '+') return v;
        if (v.type === 'scalar') return { type: 'scalar', value: -v.value };
        if (v.type === 'vector')
          return {
            type: 'vector',
            samples: v.samples.map((s) => ({ ...s, labels: dropName(s.labels), value: -s.value })),
          };
        throw new PromqlEvalError('unary minus on a non-numeric value');
      }
      case 'vector':
        return { type: 'vector', samples: this.instantSelect(expr, t) };
      case 'matrix':
        return { type: 'matrix', series: this.rangeSelect(expr.vector, expr.rangeMs, t) };
      case 'call':
        return this.call(expr, t);
      case 'aggregate':
        return { type: 'vector', samples: this.aggregate(expr, t) };
      case 'binary':
        return this.binary(expr, t);
    }
  }

  private instantSelect(sel: VectorSelector, t: number): Sample[] {
    const out: Sample[] = [];
    const ref = t - sel.offsetMs;
    for (const s of this.series(sel, 0)) {
      const i = upperBound(s.timestamps, ref) - 1;
      if (i < 0) continue;
      const st = s.timestamps[i]!;
      if (st < ref - this.lookbackMs) continue;
      if (s.stale?.[i] === 1) continue;
      out.push({ labels: s.labels, value: s.values[i]!, t: st });
    }
    return out;
  }

  private rangeSelect(sel: VectorSelector, rangeMs: number, t: number): RangeSeries[] {
    const out: RangeSeries[] = [];
    const end = t - sel.offsetMs;
    const start = end - rangeMs;
    for (const s of this.series(sel, rangeMs)) {
      const from = lowerBound(s.timestamps, start);
      const to = upperBound(s.timestamps, end);
      const timestamps: number[] = [];
      const values: number[] = [];
      for (let i = from; i < to; i++) {
        if (s.stale?.[i] === 1) continue;
        timestamps.push(s.timestamps[i]!);
        values.push(s.values[i]!);
      }
      if (timestamps.length > 0) out.push({ labels: s.labels, timestamps, values });
    }
    return out;
  }

  private vectorArg(expr: Expr, t: number): Sample[] {
    const v = this.eval(expr, t);
    if (v.type !== 'vector') throw new PromqlEvalError(`expected an instant vector, got ${v.type}`);
    return v.samples;
  }

  private scalarArg(expr: Expr, t: number): number {
    const v = this.eval(expr, t);
    if (v.type !== 'scalar') throw new PromqlEvalError(`expected a scalar, got ${v.type}`);
    return v.value;
  }

  private call(expr: Call, t: number): Value {
    const f = expr.func;
    const vec = (samples: Sample[]): Value => ({ type: 'vector', samples });
    const map = (fn: (v: number) => number) =>
      vec(
        this.vectorArg(expr.args[0]!, t).map((s) => ({ labels: dropName(s.labels), value: fn(s.value), t })),
      );
    switch (f) {
      case 'rate':
      case 'increase':
      case 'delta':
      case 'irate':
      case 'idelta': {
        const m = expr.args[0]! as Extract<Expr, { kind: 'matrix' }>;
        const end = t - m.vector.offsetMs;
        const out: Sample[] = [];
        for (const s of this.rangeSelect(m.vector, m.rangeMs, t)) {
          const value =
            f === 'irate' || f === 'idelta'
              ? instantRate(s.timestamps, s.values, f === 'irate')
              : extrapolatedRate(s.timestamps, s.values, end - m.rangeMs, end, f !== 'delta', f === 'rate');
          if (value !== null) out.push({ labels: dropName(s.labels), value, t });
        }
        return vec(out);
      }
      case 'quantile_over_time': {
        const q = this.scalarArg(expr.args[0]!, t);
        const m = expr.args[1]! as Extract<Expr, { kind: 'matrix' }>;
        return vec(
          this.rangeSelect(m.vector, m.rangeMs, t).map((s) => ({
            labels: dropName(s.labels),
            value: quantile(q, s.values),
            t,
          })),
        );
      }
      case 'abs':
        return map(Math.abs);
      case 'ceil':
        return map(Math.ceil);
      case 'floor':
        return map(Math.floor);
      case 'sqrt':
        return map(Math.sqrt);
      case 'exp':
        return map(Math.exp);
      case 'ln':
        return map(Math.log);
      case 'log2':
        return map(Math.log2);
      case 'log10':
        return map(Math.log10);
      case 'round': {
        const toNearest = expr.args[1] ? this.scalarArg(expr.args[1], t) : 1;
        const inverse = 1 / toNearest;
        return map((v) => Math.floor(v * inverse + 0.5) / inverse);
      }
      case 'clamp': {
        const min = this.scalarArg(expr.args[1]!, t);
        const max = this.scalarArg(expr.args[2]!, t);
        if (max < min) return vec([]);
        return map((v) => Math.max(min, Math.min(max, v)));
      }
      case 'clamp_min': {
        const min = this.scalarArg(expr.args[1]!, t);
        return map((v) => Math.max(min, v));
      }
      case 'clamp_max': {
        const max = this.scalarArg(expr.args[1]!, t);
        return map((v) => Math.min(max, v));
      }
      case 'histogram_quantile':
        return vec(
          this.histogramQuantile(this.scalarArg(expr.args[0]!, t), this.vectorArg(expr.args[1]!, t), t),
        );
      case 'scalar': {
        const v = this.vectorArg(expr.args[0]!, t);
        return { type: 'scalar', value: v.length === 1 ? v[0]!.value : Number.NaN };
      }
      case 'vector':
        return vec([{ labels: [], value: this.scalarArg(expr.args[0]!, t), t }]);
      case 'time':
        return { type: 'scalar', value: t / 1000 };
      case 'timestamp':
        return vec(
          this.vectorArg(expr.args[0]!, t).map((s) => ({ labels: dropName(s.labels), value: s.t / 1000, t })),
        );
      case 'sort':
      case 'sort_desc': {
        const samples = [...this.vectorArg(expr.args[0]!, t)];
        samples.sort((a, b) => (f === 'sort' ? a.value - b.value : b.value - a.value));
        return vec(samples);
      }
      case 'absent': {
        if (this.vectorArg(expr.args[0]!, t).length > 0) return vec([]);
        const arg = expr.args[0]!;
        const labels =
          arg.kind === 'vector'
            ? normalizeLabels(
                arg.matchers
                  .filter((m) => m.type === '=' && m.name !== METRIC_NAME)
                  .map((m) => [m.name, m.value]),
              )
            : [];
        return vec([{ labels, value: 1, t }]);
      }
      default: {
        if (f.endsWith('_over_time') || f === 'changes' || f === 'resets') {
          const m = expr.args[0]! as Extract<Expr, { kind: 'matrix' }>;
          const keepName = f === 'last_over_time';
          return vec(
            this.rangeSelect(m.vector, m.rangeMs, t).map((s) => ({
              labels: keepName ? s.labels : dropName(s.labels),
              value: overTime(f, s.values),
              t,
            })),
          );
        }
        throw new PromqlEvalError(`function ${f} is not implemented`);
      }
    }
  }

  private histogramQuantile(q: number, samples: Sample[], t: number): Sample[] {
    const groups = new Map<string, { labels: Labels; buckets: Bucket[] }>();
    for (const s of samples) {
      const le = getLabel(s.labels, 'le');
      const upperBound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
      if (le === '' || Number.isNaN(upperBound)) continue;
      const labels = s.labels.filter(([n]) => n !== 'le' && n !== METRIC_NAME);
      const key = labelsKey(labels);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { labels, buckets: [] }));
      g.buckets.push({ upperBound, count: s.value });
    }
    return [...groups.values()].map((g) => ({ labels: g.labels, value: bucketQuantile(q, g.buckets), t }));
  }

  private aggregate(expr: Aggregate, t: number): Sample[] {
    const samples = this.vectorArg(expr.expr, t);
    const param = expr.param ? this.scalarArg(expr.param, t) : 0;
    const grouping = new Set(expr.grouping);
    const groupLabels = (labels: Labels): Labels =>
      expr.without
        ? withoutLabels(labels, new Set([...grouping, METRIC_NAME]))
        : onlyLabels(labels, grouping);
    const groups = new Map<string, { labels: Labels; samples: Sample[] }>();
    for (const s of samples) {
      const labels = groupLabels(s.labels);
      const key = labelsKey(labels);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { labels, samples: [] }));
      g.samples.push(s);
    }
    const out: Sample[] = [];
    for (const g of groups.values()) {
      const values = g.samples.map((s) => s.value);
      const n = values.length;
      const emit = (value: number) => out.push({ labels: g.labels, value, t });
      switch (expr.op) {
        case 'sum':
          emit(values.reduce((a, b) => a + b, 0));
          break;
        case 'avg':
          emit(values.reduce((a, b) => a + b, 0) / n);
          break;
        case 'count':
          emit(n);
          break;
        case 'group':
          emit(1);
          break;
        case 'min':
          emit(values.reduce((a, b) => (b < a || Number.isNaN(a) ? b : a)));
          break;
        case 'max':
          emit(values.reduce((a, b) => (b > a || Number.isNaN(a) ? b : a)));
          break;
        case 'stddev':
        case 'stdvar': {
          const mean = values.reduce((a, b) => a + b, 0) / n;
          const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
          emit(expr.op === 'stddev' ? Math.sqrt(variance) : variance);
          break;
        }
        case 'quantile':
          emit(quantile(param, values));
          break;
        case 'topk':
        case 'bottomk': {
          const k = Math.floor(param);
          if (k < 1) break;
          for (const s of firstK(g.samples, k, expr.op === 'topk' ? -1 : 1))
            out.push({ labels: s.labels, value: s.value, t });
          break;
        }
      }
    }
    return out;
  }

  private binary(expr: Binary, t: number): Value {
    const l = this.eval(expr.lhs, t);
    const r = this.eval(expr.rhs, t);
    if (l.type === 'scalar' && r.type === 'scalar') {
      const [value, keep] = elemBinop(expr.op, l.value, r.value);
      return { type: 'scalar', value: expr.returnBool ? (keep ? 1 : 0) : value };
    }
    if (l.type === 'vector' && r.type === 'vector')
      return { type: 'vector', samples: this.vectorBinary(expr, l.samples, r.samples, t) };
    if (l.type === 'vector' && r.type === 'scalar')
      return { type: 'vector', samples: this.vectorScalar(expr, l.samples, r.value, false, t) };
    if (l.type === 'scalar' && r.type === 'vector')
      return { type: 'vector', samples: this.vectorScalar(expr, r.samples, l.value, true, t) };
    throw new PromqlEvalError(`binary operation on ${l.type} and ${r.type}`);
  }

  private vectorScalar(expr: Binary, samples: Sample[], scalar: number, swap: boolean, t: number): Sample[] {
    const out: Sample[] = [];
    for (const s of samples) {
      const [l, r] = swap ? [scalar, s.value] : [s.value, scalar];
      let [value, keep] = elemBinop(expr.op, l, r);
      // A comparison keeps the vector's value even when the vector is on the right.
      if (COMPARISON_OPS.has(expr.op) && swap) value = s.value;
      if (expr.returnBool) {
        value = keep ? 1 : 0;
        keep = true;
      }
      if (!keep) continue;
      const dropNameNow = ARITHMETIC.has(expr.op) || expr.returnBool;
      out.push({ labels: dropNameNow ? dropName(s.labels) : s.labels, value, t });
    }
    return out;
  }

  private signature(expr: Binary): (labels: Labels) => string {
    const m = expr.matching;
    if (m?.on) {
      const names = new Set(m.labels);
      return (labels) => labelsKey(onlyLabels(labels, names));
    }
    const names = new Set([...(m?.labels ?? []), METRIC_NAME]);
    return (labels) => labelsKey(withoutLabels(labels, names));
  }

  private vectorBinary(expr: Binary, lhs: Sample[], rhs: Sample[], t: number): Sample[] {
    const sig = this.signature(expr);
    if (SET_OPS.has(expr.op)) {
      const rightSigs = new Set(rhs.map((s) => sig(s.labels)));
      if (expr.op === 'and') return lhs.filter((s) => rightSigs.has(sig(s.labels)));
      if (expr.op === 'unless') return lhs.filter((s) => !rightSigs.has(sig(s.labels)));
      const leftSigs = new Set(lhs.map((s) => sig(s.labels)));
      return [...lhs, ...rhs.filter((s) => !leftSigs.has(sig(s.labels)))];
    }
    const matching = expr.matching ?? { card: 'one-to-one' as const, on: false, labels: [], include: [] };
    const oneToMany = matching.card === 'one-to-many';
    const [many, one] = oneToMany ? [rhs, lhs] : [lhs, rhs];
    const oneBySig = new Map<string, Sample>();
    for (const s of one) {
      const key = sig(s.labels);
      if (oneBySig.has(key)) {
        throw new PromqlEvalError(
          `found duplicate series for the match group on the ${oneToMany ? 'left' : 'right'} hand-side of the operation: many-to-many matching not allowed: matching labels must be unique on one side`,
        );
      }
      oneBySig.set(key, s);
    }
    const out: Sample[] = [];
    const seenSigs = new Set<string>();
    const seenResults = new Set<string>();
    const include = new Set(matching.include);
    for (const s of many) {
      const key = sig(s.labels);
      const match = oneBySig.get(key);
      if (!match) continue;
      if (matching.card === 'one-to-one') {
        if (seenSigs.has(key))
          throw new PromqlEvalError(
            'multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)',
          );
        seenSigs.add(key);
      }
      const [lv, rv] = oneToMany ? [match.value, s.value] : [s.value, match.value];
      let [value, keep] = elemBinop(expr.op, lv, rv);
      if (expr.returnBool) {
        value = keep ? 1 : 0;
        keep = true;
      }
      if (!keep) continue;
      let labels = s.labels;
      if (ARITHMETIC.has(expr.op) || expr.returnBool) labels = dropName(labels);
      if (matching.card === 'one-to-one') {
        labels = matching.on
          ? onlyLabels(labels, new Set(matching.labels))
          : withoutLabels(labels, new Set(matching.labels));
      }
      for (const name of include) {
        const v = getLabel(match.labels, name);
        labels = v === '' ? labels.filter(([n]) => n !== name) : setLabel(labels, name, v);
      }
      if (matching.card !== 'one-to-one') {
        const resultKey = labelsKey(labels);
        if (seenResults.has(resultKey))
          throw new PromqlEvalError(
            'multiple matches for labels: grouping labels must ensure unique matches',
          );
        seenResults.add(resultKey);
      }
      out.push({ labels, value, t });
    }
    return out;
  }
}

export type QueryResult =
  | { resultType: 'scalar'; value: number; t: number }
  | { resultType: 'string'; value: string; t: number }
  | { resultType: 'vector'; samples: Sample[]; t: number }
  | { resultType: 'matrix'; series: RangeSeries[] };

export class PromqlEngine {
  private readonly lookbackMs: number;
  constructor(
    private readonly queryable: Queryable,
    options: EngineOptions = {},
  ) {
    this.lookbackMs = options.lookbackDeltaMs ?? LOOKBACK_DELTA_MS;
  }

  instant(expr: Expr, tMs: number): QueryResult {
    const v = new Evaluation(this.queryable, this.lookbackMs, tMs, tMs).eval(expr, tMs);
    switch (v.type) {
      case 'scalar':
        return { resultType: 'scalar', value: v.value, t: tMs };
      case 'string':
        return { resultType: 'string', value: v.value, t: tMs };
      case 'vector':
        return { resultType: 'vector', samples: v.samples, t: tMs };
      case 'matrix':
        return { resultType: 'matrix', series: v.series };
    }
  }

  range(expr: Expr, startMs: number, endMs: number, stepMs: number): RangeSeries[] {
    if (stepMs <= 0)
      throw new PromqlEvalError('zero or negative query resolution step widths are not accepted');
    if (endMs < startMs) throw new PromqlEvalError('end timestamp must not be before start time');
    if ((endMs - startMs) / stepMs > RANGE_POINTS_MAX) {
      throw new PromqlEvalError(`exceeded maximum resolution of ${RANGE_POINTS_MAX} points per timeseries`);
    }
    const evaluation = new Evaluation(this.queryable, this.lookbackMs, startMs, endMs);
    const byKey = new Map<string, RangeSeries>();
    for (let t = startMs; t <= endMs; t += stepMs) {
      const v = evaluation.eval(expr, t);
      const samples: Sample[] =
        v.type === 'scalar' ? [{ labels: [], value: v.value, t }] : v.type === 'vector' ? v.samples : [];
      if (v.type === 'matrix' || v.type === 'string')
        throw new PromqlEvalError(
          `invalid expression type "${v.type === 'matrix' ? 'range vector' : 'string'}" for range query, must be Scalar or instant Vector`,
        );
      for (const s of samples) {
        const key = labelsKey(s.labels);
        let series = byKey.get(key);
        if (!series) byKey.set(key, (series = { labels: s.labels, timestamps: [], values: [] }));
        if (series.timestamps[series.timestamps.length - 1] === t) {
          throw new PromqlEvalError('vector cannot contain metrics with the same labelset');
        }
        series.timestamps.push(t);
        series.values.push(s.value);
      }
    }
    return [...byKey.values()].sort((a, b) => (labelsKey(a.labels) < labelsKey(b.labels) ? -1 : 1));
  }
}
