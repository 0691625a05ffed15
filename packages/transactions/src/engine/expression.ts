// The small expression language of `where` and `set`: column names, numbers, strings,
// `+ - * / %`, `= != <> < <= > >=`, `and or not`, parentheses, `true`/`false`/`null`.
// A tokenizer, a precedence-climbing parser and an evaluator; every error names the
// character position in the source so that a learner can see what was wrong.
// Predicates matter for chapter 7 because phantoms and write-predicate anomalies only
// exist when a statement chooses its rows by a condition ("Phantoms causing write skew").
import { applyArithmetic, isArithmeticOperator } from '@ddia/common/core';

export type Value = number | string | boolean | null;
export type Row = Record<string, unknown>;

/** What both expression errors share: the source and the character position it names. */
export class ExpressionError extends Error {
  constructor(
    readonly source: string,
    readonly position: number,
    reason: string,
  ) {
    super(`${reason} at position ${position} in ${JSON.stringify(source)}`);
  }
}

/** A malformed expression: unexpected character, unbalanced parenthesis, missing operand. */
export class ExpressionSyntaxError extends ExpressionError {
  override name = 'ExpressionSyntaxError';
}

/** A well-formed expression applied to values of the wrong type (`'a' * 2`, `value and 1`). */
export class ExpressionTypeError extends ExpressionError {
  override name = 'ExpressionTypeError';
}

/** Longest expression text accepted; predicates are meant to be read by a person. */
export const EXPRESSION_CHARS_MAX = 4096;
/** Deepest nesting accepted, so that `((((...))))` cannot exhaust the stack. */
export const EXPRESSION_DEPTH_MAX = 64;

type TokenKind = 'number' | 'string' | 'ident' | 'op' | 'lparen' | 'rparen' | 'end';
interface Token {
  kind: TokenKind;
  text: string;
  value?: Value;
  position: number;
}

const OPERATORS = ['<=', '>=', '!=', '<>', '=', '<', '>', '+', '-', '*', '/', '%'];
const KEYWORDS = new Set(['and', 'or', 'not', 'true', 'false', 'null']);

export function tokenize(source: string): Token[] {
  if (source.length > EXPRESSION_CHARS_MAX) {
    throw new ExpressionSyntaxError(source.slice(0, 40), 0, `expression longer than ${EXPRESSION_CHARS_MAX}`);
  }
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(source[i + 1] ?? ''))) {
      const m = /^[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?|^[0-9]+\.?/.exec(source.slice(i))!;
      i += m[0].length;
      tokens.push({ kind: 'number', text: m[0], value: Number(m[0]), position: start });
      continue;
    }
    if (c === "'" || c === '"') {
      // SQL style: the quote character doubled inside the string stands for itself.
      let text = '';
      i++;
      for (;;) {
        if (i >= source.length) throw new ExpressionSyntaxError(source, start, 'unterminated string');
        if (source[i] === c) {
          if (source[i + 1] === c) {
            text += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += source[i];
        i++;
      }
      tokens.push({ kind: 'string', text, value: text, position: start });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))!;
      i += m[0].length;
      const lower = m[0].toLowerCase();
      if (KEYWORDS.has(lower)) tokens.push({ kind: 'op', text: lower, position: start });
      else tokens.push({ kind: 'ident', text: m[0], position: start });
      continue;
    }
    if (c === '(' || c === ')') {
      tokens.push({ kind: c === '(' ? 'lparen' : 'rparen', text: c, position: start });
      i++;
      continue;
    }
    const op = OPERATORS.find((o) => source.startsWith(o, i));
    if (op) {
      tokens.push({ kind: 'op', text: op === '<>' ? '!=' : op, position: start });
      i += op.length;
      continue;
    }
    throw new ExpressionSyntaxError(source, start, `unexpected character ${JSON.stringify(c)}`);
  }
  tokens.push({ kind: 'end', text: '', position: source.length });
  return tokens;
}

export type Expr =
  | { kind: 'literal'; value: Value; position: number }
  | { kind: 'column'; name: string; position: number }
  | { kind: 'unary'; op: 'not' | '-'; operand: Expr; position: number }
  | { kind: 'binary'; op: string; left: Expr; right: Expr; position: number };

/** A parsed expression together with its source, so that evaluation errors can point into it. */
export interface Compiled {
  source: string;
  ast: Expr;
}

// Lowest precedence first, as in SQL: or < and < not < comparison < + - < * / %.
const BINARY_LEVELS: string[][] = [
  ['or'],
  ['and'],
  ['=', '!=', '<', '<=', '>', '>='],
  ['+', '-'],
  ['*', '/', '%'],
];

export function parseExpression(source: string): Compiled {
  if (typeof source !== 'string')
    throw new ExpressionSyntaxError(String(source), 0, 'expression must be a string');
  const tokens = tokenize(source);
  let at = 0;
  let depth = 0;
  const peek = () => tokens[at]!;
  const fail = (token: Token, reason: string): never => {
    throw new ExpressionSyntaxError(source, token.position, reason);
  };
  const describe = (t: Token) => (t.kind === 'end' ? 'end of expression' : JSON.stringify(t.text));

  function binary(level: number): Expr {
    if (level === BINARY_LEVELS.length) return unaryMinus();
    // `not` binds looser than comparison but tighter than `and`.
    if (level === 2) return notLevel();
    return chain(level, () => binary(level + 1));
  }
  function chain(level: number, next: () => Expr): Expr {
    const ops = BINARY_LEVELS[level]!;
    let left = next();
    for (;;) {
      const t = peek();
      if (t.kind !== 'op' || !ops.includes(t.text)) return left;
      at++;
      const right = next();
      left = { kind: 'binary', op: t.text, left, right, position: t.position };
      // Comparisons do not chain: `a < b < c` is almost always a mistake.
      if (level === 2 && peek().kind === 'op' && ops.includes(peek().text)) {
        fail(peek(), `comparison operators cannot be chained (${describe(peek())})`);
      }
    }
  }
  function notLevel(): Expr {
    const t = peek();
    if (t.kind === 'op' && t.text === 'not') {
      at++;
      return { kind: 'unary', op: 'not', operand: enter(notLevel), position: t.position };
    }
    return chain(2, () => binary(3));
  }
  function unaryMinus(): Expr {
    const t = peek();
    if (t.kind === 'op' && t.text === '-') {
      at++;
      return { kind: 'unary', op: '-', operand: enter(unaryMinus), position: t.position };
    }
    return primary();
  }
  function enter(f: () => Expr): Expr {
    depth++;
    if (depth > EXPRESSION_DEPTH_MAX) fail(peek(), `expression nested deeper than ${EXPRESSION_DEPTH_MAX}`);
    const e = f();
    depth--;
    return e;
  }
  function primary(): Expr {
    const t = peek();
    at++;
    switch (t.kind) {
      case 'number':
      case 'string':
        return { kind: 'literal', value: t.value!, position: t.position };
      case 'ident':
        return { kind: 'column', name: t.text, position: t.position };
      case 'lparen': {
        const inner = enter(() => binary(0));
        if (peek().kind !== 'rparen') fail(peek(), `expected ")" to close "(" at position ${t.position}`);
        at++;
        return inner;
      }
      case 'op':
        if (t.text === 'true' || t.text === 'false') {
          return { kind: 'literal', value: t.text === 'true', position: t.position };
        }
        if (t.text === 'null') return { kind: 'literal', value: null, position: t.position };
        return fail(t, `expected a value but found ${describe(t)}`);
      default:
        return fail(t, `expected a value but found ${describe(t)}`);
    }
  }

  const ast = binary(0);
  if (peek().kind !== 'end') fail(peek(), `unexpected ${describe(peek())} after a complete expression`);
  return { source, ast };
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Evaluates `compiled` against `row`. A column the row lacks (as an own property) reads as null. */
export function evaluate(compiled: Compiled, row: Row): Value {
  const { source } = compiled;
  const typeError = (e: Expr, reason: string): never => {
    throw new ExpressionTypeError(source, e.position, reason);
  };
  function ev(e: Expr): Value {
    switch (e.kind) {
      case 'literal':
        return e.value;
      case 'column': {
        // Own columns only: `row[name]` alone would find `toString` or `constructor` on
        // Object.prototype, so a where clause could compare functions and a set could write one.
        if (!Object.hasOwn(row, e.name)) return null;
        const v = row[e.name];
        if (v === undefined) return null;
        if (typeof v === 'object' && v !== null) {
          return typeError(e, `column ${e.name} holds a ${typeOf(v)}, which expressions cannot use`);
        }
        return v as Value;
      }
      case 'unary': {
        const v = ev(e.operand);
        if (e.op === 'not') {
          if (typeof v !== 'boolean') return typeError(e, `not needs a boolean, got ${typeOf(v)}`);
          return !v;
        }
        if (typeof v !== 'number') return typeError(e, `unary - needs a number, got ${typeOf(v)}`);
        return -v;
      }
      case 'binary':
        return binaryOp(e);
    }
  }
  function binaryOp(e: Extract<Expr, { kind: 'binary' }>): Value {
    if (e.op === 'and' || e.op === 'or') {
      const l = ev(e.left);
      if (typeof l !== 'boolean') return typeError(e.left, `${e.op} needs booleans, got ${typeOf(l)}`);
      // Short-circuit, as SQL engines are allowed to.
      if (e.op === 'and' && !l) return false;
      if (e.op === 'or' && l) return true;
      const r = ev(e.right);
      if (typeof r !== 'boolean') return typeError(e.right, `${e.op} needs booleans, got ${typeOf(r)}`);
      return r;
    }
    const l = ev(e.left);
    const r = ev(e.right);
    switch (e.op) {
      case '=':
        return l === r;
      case '!=':
        return l !== r;
      case '<':
      case '<=':
      case '>':
      case '>=': {
        // Null compares as false, like SQL's unknown filtered out by WHERE.
        if (l === null || r === null) return false;
        if (typeof l !== typeof r || (typeof l !== 'number' && typeof l !== 'string')) {
          return typeError(e, `cannot compare ${typeOf(l)} ${e.op} ${typeOf(r)}`);
        }
        const a = l as number | string;
        const b = r as number | string;
        return e.op === '<' ? a < b : e.op === '<=' ? a <= b : e.op === '>' ? a > b : a >= b;
      }
      case '+':
        if (typeof l === 'string' && typeof r === 'string') return l + r;
        return arithmetic(e, l, r);
      case '-':
      case '*':
      case '/':
      case '%':
        return arithmetic(e, l, r);
      default:
        return typeError(e, `unknown operator ${e.op}`);
    }
  }
  function arithmetic(e: Extract<Expr, { kind: 'binary' }>, l: Value, r: Value): Value {
    if (typeof l !== 'number' || typeof r !== 'number') {
      return typeError(e, `${e.op} needs numbers, got ${typeOf(l)} and ${typeOf(r)}`);
    }
    if ((e.op === '/' || e.op === '%') && r === 0) return typeError(e, 'division by zero');
    if (!isArithmeticOperator(e.op)) return typeError(e, `unknown operator ${e.op}`);
    return applyArithmetic(e.op, l, r);
  }
  return ev(compiled.ast);
}

/** Evaluates a `where` predicate, which must produce a boolean. */
export function matches(compiled: Compiled, row: Row): boolean {
  const v = evaluate(compiled, row);
  if (typeof v !== 'boolean') {
    throw new ExpressionTypeError(compiled.source, 0, `a where clause must be a boolean, got ${typeOf(v)}`);
  }
  return v;
}

export const TRUE_PREDICATE: Compiled = parseExpression('true');

/**
 * Whether a lock's or a read's predicate covers a row (none covers a missing row). One that
 * cannot be evaluated on the row is taken to cover it: a false positive costs a wait or an
 * abort, a false negative would cost correctness.
 */
export function coveredBy(predicate: Compiled, row: Row | null): boolean {
  if (row === null) return false;
  try {
    return matches(predicate, row);
  } catch {
    return true;
  }
}
