// A recursive-descent PromQL parser with operator precedence as Prometheus's grammar has it
// (lowest first): or; and unless; == != <= < >= >; + -; * / % atan2; ^ (right-associative).
// Unary minus binds like *, so -2^2 is -(2^2). Types are checked while parsing, as Prometheus
// does, so that `rate(up)` is a parse error that points at `up`.
import { PromqlParseError } from '../errors.js';
import { METRIC_NAME } from '../labels.js';
import { type Matcher, type MatchType, newMatcher } from '../matchers.js';
import {
  AGGREGATE_OPS,
  type AggregateOp,
  type BinaryOp,
  COMPARISON_OPS,
  type Expr,
  SET_OPS,
  type ValueType,
  type VectorMatching,
  type VectorSelector,
} from './ast.js';
import { FUNCTIONS } from './functions-table.js';
import { lex, type Token } from './lexer.js';

const PRECEDENCE: Record<string, number> = {
  or: 1,
  and: 2,
  unless: 2,
  '==': 3,
  '!=': 3,
  '<=': 3,
  '<': 3,
  '>=': 3,
  '>': 3,
  '+': 4,
  '-': 4,
  '*': 5,
  '/': 5,
  '%': 5,
  atan2: 5,
  '^': 6,
};
const UNARY_PRECEDENCE = 5;

export function typeOf(expr: Expr): ValueType {
  switch (expr.kind) {
    case 'vector':
      return 'vector';
    case 'matrix':
      return 'matrix';
    case 'number':
      return 'scalar';
    case 'string':
      return 'string';
    case 'call':
      return FUNCTIONS[expr.func]!.returns;
    case 'aggregate':
      return 'vector';
    case 'binary':
      return typeOf(expr.lhs) === 'scalar' && typeOf(expr.rhs) === 'scalar' ? 'scalar' : 'vector';
    case 'unary':
    case 'paren':
      return typeOf(expr.expr);
  }
}

class Parser {
  private at = 0;
  constructor(private readonly tokens: Token[]) {}

  peek(offset = 0): Token {
    return this.tokens[Math.min(this.at + offset, this.tokens.length - 1)]!;
  }
  next(): Token {
    const t = this.peek();
    if (this.at < this.tokens.length - 1) this.at++;
    return t;
  }
  isOp(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'op' && t.text === text;
  }
  isKeyword(word: string): boolean {
    const t = this.peek();
    return t.kind === 'ident' && t.text.toLowerCase() === word;
  }
  fail(token: Token, reason: string): never {
    throw new PromqlParseError(token.pos, reason);
  }
  describe(t: Token): string {
    if (t.kind === 'eof') return 'end of input';
    if (t.kind === 'string') return `string ${JSON.stringify(t.text)}`;
    return `${t.kind === 'op' ? 'character' : t.kind === 'ident' ? 'identifier' : t.kind} "${t.text}"`;
  }
  expectOp(text: string, context: string): Token {
    const t = this.next();
    if (t.kind !== 'op' || t.text !== text)
      this.fail(t, `unexpected ${this.describe(t)} ${context}, expected "${text}"`);
    return t;
  }

  parseExpr(minPrec: number): Expr {
    let left = this.parseUnary();
    for (;;) {
      const t = this.peek();
      const op = binaryOpOf(t);
      if (!op || PRECEDENCE[op]! < minPrec) return left;
      this.next();
      let returnBool = false;
      if (this.isKeyword('bool')) {
        if (!COMPARISON_OPS.has(op))
          this.fail(this.peek(), 'bool modifier can only be used on comparison operators');
        this.next();
        returnBool = true;
      }
      const matching = this.parseMatching(op);
      const rhs = this.parseExpr(op === '^' ? PRECEDENCE[op]! : PRECEDENCE[op]! + 1);
      left = this.checkBinary({ kind: 'binary', op, lhs: left, rhs, returnBool, matching, pos: t.pos }, t);
    }
  }

  parseMatching(op: BinaryOp): VectorMatching | null {
    if (!this.isKeyword('on') && !this.isKeyword('ignoring')) {
      return SET_OPS.has(op) ? { card: 'many-to-many', on: false, labels: [], include: [] } : null;
    }
    const on = this.next().text.toLowerCase() === 'on';
    const labels = this.parseLabelList();
    const matching: VectorMatching = {
      card: SET_OPS.has(op) ? 'many-to-many' : 'one-to-one',
      on,
      labels,
      include: [],
    };
    if (this.isKeyword('group_left') || this.isKeyword('group_right')) {
      const t = this.next();
      if (SET_OPS.has(op)) this.fail(t, 'no grouping allowed for "and", "or" and "unless" operations');
      matching.card = t.text.toLowerCase() === 'group_left' ? 'many-to-one' : 'one-to-many';
      if (this.isOp('(')) matching.include = this.parseLabelList();
    }
    return matching;
  }

  parseLabelList(): string[] {
    this.expectOp('(', 'in grouping');
    const labels: string[] = [];
    while (!this.isOp(')')) {
      const t = this.next();
      if (t.kind !== 'ident') this.fail(t, `unexpected ${this.describe(t)} in grouping opts, expected label`);
      labels.push(t.text);
      if (!this.isOp(')')) this.expectOp(',', 'in grouping opts');
    }
    this.next();
    return labels;
  }

  checkBinary(e: Expr & { kind: 'binary' }, t: Token): Expr {
    const lt = typeOf(e.lhs);
    const rt = typeOf(e.rhs);
    for (const [side, type] of [
      ['left', lt],
      ['right', rt],
    ] as const) {
      if (type !== 'scalar' && type !== 'vector') {
        this.fail(
          t,
          `binary expression must contain only scalar and instant vector types, ${side} side is ${type}`,
        );
      }
    }
    if (SET_OPS.has(e.op) && (lt === 'scalar' || rt === 'scalar')) {
      this.fail(t, `set operator "${e.op}" not allowed in binary scalar expression`);
    }
    if (COMPARISON_OPS.has(e.op) && lt === 'scalar' && rt === 'scalar' && !e.returnBool) {
      this.fail(t, 'comparisons between scalars must use BOOL modifier');
    }
    if (e.matching && (lt === 'scalar' || rt === 'scalar') && !SET_OPS.has(e.op)) {
      this.fail(t, 'vector matching only allowed between instant vectors');
    }
    return e;
  }

  parseUnary(): Expr {
    const t = this.peek();
    if (t.kind === 'op' && (t.text === '-' || t.text === '+')) {
      this.next();
      const expr = this.parseExpr(UNARY_PRECEDENCE + 1);
      const type = typeOf(expr);
      if (type !== 'scalar' && type !== 'vector')
        this.fail(
          t,
          `unary expression only allowed on expressions of type scalar or instant vector, got "${type}"`,
        );
      if (expr.kind === 'number')
        return { ...expr, value: t.text === '-' ? -expr.value : expr.value, pos: t.pos };
      return { kind: 'unary', op: t.text, expr, pos: t.pos };
    }
    return this.parsePostfix(this.parsePrimary());
  }

  parsePostfix(expr: Expr): Expr {
    for (;;) {
      if (this.isOp('[')) {
        const open = this.next();
        if (expr.kind !== 'vector') this.fail(open, 'ranges only allowed for vector selectors');
        const d = this.next();
        if (d.kind !== 'duration') this.fail(d, `unexpected ${this.describe(d)} in range, expected duration`);
        if (this.isOp(':')) this.fail(this.peek(), 'subqueries are not supported by this engine');
        this.expectOp(']', 'in range');
        if (d.value! <= 0) this.fail(d, 'range must be positive');
        expr = { kind: 'matrix', vector: expr, rangeMs: d.value!, pos: expr.pos };
        continue;
      }
      if (this.isKeyword('offset')) {
        const kw = this.next();
        let sign = 1;
        if (this.isOp('-')) {
          this.next();
          sign = -1;
        }
        const d = this.next();
        if (d.kind !== 'duration')
          this.fail(d, `unexpected ${this.describe(d)} in offset, expected duration`);
        const target = expr.kind === 'matrix' ? expr.vector : expr.kind === 'vector' ? expr : null;
        if (!target)
          this.fail(
            kw,
            'offset modifier must be preceded by an instant vector selector or range vector selector',
          );
        if (target.offsetMs !== 0) this.fail(kw, 'offset may not be set multiple times');
        target.offsetMs = sign * d.value!;
        continue;
      }
      if (this.isOp('@')) this.fail(this.peek(), 'the @ modifier is not supported by this engine');
      return expr;
    }
  }

  parsePrimary(): Expr {
    const t = this.next();
    switch (t.kind) {
      case 'number':
        return { kind: 'number', value: t.value!, pos: t.pos };
      case 'string':
        return { kind: 'string', value: t.text, pos: t.pos };
      case 'duration':
        return this.fail(t, `unexpected duration "${t.text}"`);
      case 'eof':
        return this.fail(t, 'unexpected end of input');
      case 'op':
        if (t.text === '(') {
          const expr = this.parseExpr(0);
          this.expectOp(')', 'in paren expression');
          return { kind: 'paren', expr, pos: t.pos };
        }
        if (t.text === '{') return this.parseSelector(null, t);
        return this.fail(t, `unexpected ${this.describe(t)}`);
      case 'ident': {
        const lower = t.text.toLowerCase();
        if (
          (AGGREGATE_OPS as readonly string[]).includes(lower) &&
          (this.isOp('(') || this.isKeyword('by') || this.isKeyword('without'))
        ) {
          return this.parseAggregate(lower as AggregateOp, t);
        }
        if (this.isOp('(')) {
          if (!FUNCTIONS[t.text]) this.fail(t, `unknown function with name "${t.text}"`);
          return this.parseCall(t);
        }
        if (
          [
            'by',
            'without',
            'on',
            'ignoring',
            'group_left',
            'group_right',
            'bool',
            'offset',
            'and',
            'or',
            'unless',
            'atan2',
          ].includes(lower)
        ) {
          this.fail(t, `unexpected keyword "${t.text}"`);
        }
        if (this.isOp('{')) return this.parseSelector(t.text, this.next());
        return this.finishSelector(t.text, [], t);
      }
    }
  }

  parseCall(name: Token): Expr {
    const sig = FUNCTIONS[name.text]!;
    this.expectOp('(', 'in function call');
    const args: Expr[] = [];
    while (!this.isOp(')')) {
      args.push(this.parseExpr(0));
      if (!this.isOp(')')) this.expectOp(',', 'in function call arguments');
    }
    this.next();
    const min = sig.args.length - (sig.optional ?? 0);
    if (args.length < min || args.length > sig.args.length) {
      this.fail(
        name,
        `expected ${min === sig.args.length ? min : `${min} to ${sig.args.length}`} argument(s) in call to "${name.text}", got ${args.length}`,
      );
    }
    args.forEach((arg, i) => {
      const want = sig.args[i]!;
      const got = typeOf(arg);
      if (got !== want)
        this.fail(
          this.tokenAt(arg.pos),
          `expected type ${typeName(want)} in call to function "${name.text}", got ${typeName(got)}`,
        );
    });
    return { kind: 'call', func: name.text, args, pos: name.pos };
  }

  tokenAt(pos: number): Token {
    return { kind: 'op', text: '', pos };
  }

  parseAggregate(op: AggregateOp, t: Token): Expr {
    let grouping: string[] = [];
    let without = false;
    let groupingSeen = false;
    const readGrouping = () => {
      without = this.next().text.toLowerCase() === 'without';
      grouping = this.parseLabelList();
      groupingSeen = true;
    };
    if (this.isKeyword('by') || this.isKeyword('without')) readGrouping();
    this.expectOp('(', 'in aggregation');
    let param: Expr | null = null;
    if (op === 'topk' || op === 'bottomk' || op === 'quantile') {
      param = this.parseExpr(0);
      if (typeOf(param) !== 'scalar')
        this.fail(
          this.tokenAt(param.pos),
          `expected type scalar in aggregation parameter, got ${typeName(typeOf(param))}`,
        );
      this.expectOp(',', 'in aggregation');
    }
    const expr = this.parseExpr(0);
    if (this.isOp(',')) this.fail(this.peek(), `aggregation ${op} takes ${param ? 2 : 1} argument(s)`);
    this.expectOp(')', 'in aggregation');
    if (typeOf(expr) !== 'vector')
      this.fail(
        this.tokenAt(expr.pos),
        `expected type instant vector in aggregation expression, got ${typeName(typeOf(expr))}`,
      );
    if (!groupingSeen && (this.isKeyword('by') || this.isKeyword('without'))) readGrouping();
    return { kind: 'aggregate', op, expr, param, grouping, without, pos: t.pos };
  }

  parseSelector(name: string | null, open: Token): Expr {
    const matchers: Matcher[] = [];
    while (!this.isOp('}')) {
      const label = this.next();
      if (label.kind !== 'ident')
        this.fail(label, `unexpected ${this.describe(label)} in label matching, expected label`);
      const op = this.next();
      if (op.kind !== 'op' || !['=', '!=', '=~', '!~'].includes(op.text)) {
        this.fail(op, `unexpected ${this.describe(op)} in label matching, expected label matching operator`);
      }
      const value = this.next();
      if (value.kind !== 'string')
        this.fail(value, `unexpected ${this.describe(value)} in label matching, expected string`);
      matchers.push(newMatcher(label.text, op.text as MatchType, value.text, value.pos));
      if (!this.isOp('}')) this.expectOp(',', 'in label matching');
    }
    this.next();
    return this.finishSelector(name, matchers, open);
  }

  finishSelector(name: string | null, matchers: Matcher[], t: Token): VectorSelector {
    if (name !== null) {
      if (matchers.some((m) => m.name === METRIC_NAME))
        this.fail(t, `metric name must not be set twice: "${name}"`);
      matchers.unshift(newMatcher(METRIC_NAME, '=', name));
    }
    if (!matchers.some((m) => !m.matches(''))) {
      this.fail(t, 'vector selector must contain at least one non-empty matcher');
    }
    return { kind: 'vector', name, matchers, offsetMs: 0, pos: t.pos };
  }
}

function binaryOpOf(t: Token): BinaryOp | null {
  if (t.kind === 'op' && PRECEDENCE[t.text] !== undefined) return t.text as BinaryOp;
  if (t.kind === 'ident') {
    const lower = t.text.toLowerCase();
    if (lower === 'and' || lower === 'or' || lower === 'unless' || lower === 'atan2') return lower;
  }
  return null;
}

function typeName(type: ValueType): string {
  return type === 'vector' ? 'instant vector' : type === 'matrix' ? 'range vector' : type;
}

/** Parses a PromQL expression. Throws PromqlParseError with the 0-based offset of the problem. */
export function parsePromql(input: string): Expr {
  const parser = new Parser(lex(input));
  if (parser.peek().kind === 'eof') throw new PromqlParseError(0, 'no expression found in input');
  const expr = parser.parseExpr(0);
  const rest = parser.peek();
  if (rest.kind !== 'eof') parser.fail(rest, `unexpected ${parser.describe(rest)}`);
  return expr;
}
