// Aggregation expressions: field paths ("$a.b"), variables ("$$ROOT"), literals and operator
// documents ({$add: [...]}) evaluated against one document.
import { DocErrors, fail } from './errors.js';

import { compareValues, type Doc, isDoc, numberOf, TypeOrder, typeOrder } from './values.js';

export type Vars = Record<string, unknown>;

/** "$a.b" in aggregation: through arrays it gathers the values into an array, skipping missing ones. */
export function fieldPathValue(value: unknown, parts: readonly string[]): unknown {
  let current: unknown = value;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (Array.isArray(current)) {
      const rest = parts.slice(i);
      const out: unknown[] = [];
      for (const element of current) {
        if (!isDoc(element) && !Array.isArray(element)) continue;
        const v = fieldPathValue(element, rest);
        if (v !== undefined) out.push(v);
      }
      return out;
    }
    if (!isDoc(current)) return undefined;
    current = Object.hasOwn(current, part) ? current[part] : undefined;
  }
  return current;
}

function num(value: unknown, op: string): number | null {
  if (value === null || value === undefined) return null;
  const n = numberOf(value);
  if (n === undefined) fail(DocErrors.typeMismatch, `${op} only supports numeric types, not ${typeof value}`);
  return n;
}

function args(operand: unknown, op: string, count?: number): unknown[] {
  const list = Array.isArray(operand) ? operand : [operand];
  if (count !== undefined && list.length !== count)
    fail(
      DocErrors.badValue,
      `Expression ${op} takes exactly ${count} arguments. ${list.length} were passed in.`,
    );
  return list;
}

function truthy(value: unknown): boolean {
  return !(value === false || value === null || value === undefined || numberOf(value) === 0);
}

export function evaluate(expr: unknown, doc: Doc, vars: Vars = {}): unknown {
  if (typeof expr === 'string') {
    if (expr.startsWith('$$')) {
      const [name, ...rest] = expr.slice(2).split('.');
      const base = name === 'ROOT' || name === 'CURRENT' ? doc : vars[name!];
      if (base === undefined && name !== 'ROOT' && name !== 'CURRENT' && !Object.hasOwn(vars, name!))
        fail(DocErrors.failedToParse, `Use of undefined variable: ${name}`);
      return rest.length ? fieldPathValue(base, rest) : base;
    }
    if (expr.startsWith('$')) {
      if (expr.length === 1) fail(DocErrors.failedToParse, "'$' by itself is not a valid FieldPath");
      return fieldPathValue(doc, expr.slice(1).split('.'));
    }
    return expr;
  }
  if (Array.isArray(expr)) return expr.map((e) => evaluate(e, doc, vars) ?? null);
  if (!isDoc(expr)) return expr;
  const keys = Object.keys(expr);
  if (keys.length === 1 && keys[0]!.startsWith('$')) return operator(keys[0]!, expr[keys[0]!], doc, vars);
  const out: Doc = {};
  for (const key of keys) {
    if (key.startsWith('$')) fail(DocErrors.failedToParse, `Unrecognized expression '${key}'`);
    const value = evaluate(expr[key], doc, vars);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** $add and $multiply: the operands folded from `start`; null as soon as one is null or missing. */
function foldNumbers(
  values: unknown[],
  op: string,
  start: number,
  combine: (total: number, n: number) => number,
): number | null {
  let total = start;
  for (const value of values) {
    const n = num(value, op);
    if (n === null) return null;
    total = combine(total, n);
  }
  return total;
}

function operator(op: string, operand: unknown, doc: Doc, vars: Vars): unknown {
  const ev = (e: unknown) => evaluate(e, doc, vars);
  switch (op) {
    case '$literal':
      return operand;
    case '$add':
      return foldNumbers(args(operand, op).map(ev), op, 0, (total, n) => total + n);
    case '$multiply':
      return foldNumbers(args(operand, op).map(ev), op, 1, (total, n) => total * n);
    case '$subtract':
    case '$divide':
    case '$mod': {
      const [a, b] = args(operand, op, 2)
        .map(ev)
        .map((v) => num(v, op));
      if (a === null || b === null) return null;
      if ((op === '$divide' || op === '$mod') && b === 0)
        fail(DocErrors.badValue, `can't ${op.slice(1)} by zero`);
      return op === '$subtract' ? a! - b! : op === '$divide' ? a! / b! : a! % b!;
    }
    case '$concat': {
      const parts = args(operand, op).map(ev);
      if (parts.some((p) => p === null || p === undefined)) return null;
      if (parts.some((p) => typeof p !== 'string'))
        fail(DocErrors.typeMismatch, '$concat only supports strings');
      return parts.join('');
    }
    case '$toUpper':
    case '$toLower': {
      const v = ev(args(operand, op, 1)[0]);
      const text = v === null || v === undefined ? '' : String(v);
      return op === '$toUpper' ? text.toUpperCase() : text.toLowerCase();
    }
    case '$eq':
    case '$ne':
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
    case '$cmp': {
      const [a, b] = args(operand, op, 2).map(ev);
      const c = compareValues(a ?? null, b ?? null);
      if (op === '$cmp') return c;
      return op === '$eq'
        ? c === 0
        : op === '$ne'
          ? c !== 0
          : op === '$gt'
            ? c > 0
            : op === '$gte'
              ? c >= 0
              : op === '$lt'
                ? c < 0
                : c <= 0;
    }
    case '$and':
      return args(operand, op).every((a) => truthy(ev(a)));
    case '$or':
      return args(operand, op).some((a) => truthy(ev(a)));
    case '$not':
      return !truthy(ev(args(operand, op, 1)[0]));
    case '$cond': {
      const [c, t, f] = isDoc(operand)
        ? [operand['if'], operand['then'], operand['else']]
        : args(operand, op, 3);
      return truthy(ev(c)) ? ev(t) : ev(f);
    }
    case '$ifNull': {
      const list = args(operand, op);
      for (const a of list.slice(0, -1)) {
        const v = ev(a);
        if (v !== null && v !== undefined) return v;
      }
      return ev(list[list.length - 1]);
    }
    case '$size': {
      const v = ev(args(operand, op, 1)[0]);
      if (!Array.isArray(v)) fail(DocErrors.typeMismatch, 'The argument to $size must be an array');
      return v.length;
    }
    case '$in': {
      const [v, list] = args(operand, op, 2).map(ev);
      if (!Array.isArray(list)) fail(DocErrors.typeMismatch, '$in requires an array as a second argument');
      return list.some((e) => compareValues(e, v ?? null) === 0);
    }
    case '$arrayElemAt': {
      const [list, index] = args(operand, op, 2).map(ev);
      if (list === null || list === undefined) return null;
      if (!Array.isArray(list))
        fail(DocErrors.typeMismatch, "$arrayElemAt's first argument must be an array");
      const i = numberOf(index) ?? 0;
      return i >= 0 ? list[i] : list[list.length + i];
    }
    case '$concatArrays': {
      const lists = args(operand, op).map(ev);
      if (lists.some((l) => l === null || l === undefined)) return null;
      if (lists.some((l) => !Array.isArray(l)))
        fail(DocErrors.typeMismatch, '$concatArrays only supports arrays');
      return (lists as unknown[][]).flat();
    }
    case '$sum':
    case '$avg':
    case '$min':
    case '$max': {
      const list = args(operand, op);
      const values = (list.length === 1 ? [ev(list[0])].flat() : list.map(ev)) as unknown[];
      return accumulateAll(op, values);
    }
    case '$type': {
      const v = ev(args(operand, op, 1)[0]);
      if (v === undefined) return 'missing';
      const order = typeOrder(v);
      if (order === TypeOrder.number) return Number.isInteger(v) ? 'int' : 'double';
      return (
        (
          {
            [TypeOrder.null]: 'null',
            [TypeOrder.string]: 'string',
            [TypeOrder.object]: 'object',
            [TypeOrder.array]: 'array',
            [TypeOrder.boolean]: 'bool',
            [TypeOrder.date]: 'date',
          } as Record<number, string>
        )[order] ?? 'object'
      );
    }
    default:
      return fail(DocErrors.failedToParse, `Unrecognized expression '${op}'`);
  }
}

/** $sum/$avg/$min/$max over a list of values (the expression form and $group's). */
export function accumulateAll(op: string, values: unknown[]): unknown {
  if (op === '$sum' || op === '$avg') {
    let total = 0;
    let count = 0;
    for (const v of values) {
      const n = typeof v === 'boolean' ? undefined : numberOf(v);
      if (n === undefined) continue;
      total += n;
      count++;
    }
    if (op === '$sum') return total;
    return count === 0 ? null : total / count;
  }
  let best: unknown;
  for (const v of values) {
    if (v === null || v === undefined) continue;
    if (best === undefined || compareValues(v, best) * (op === '$min' ? -1 : 1) > 0) best = v;
  }
  return best ?? null;
}
