import { describe, expect, it } from 'vitest';
import {
  EXPRESSION_DEPTH_MAX,
  ExpressionSyntaxError,
  ExpressionTypeError,
  evaluate,
  matches,
  parseExpression,
} from '../src/engine/expression.js';

const ev = (src: string, row: Record<string, unknown> = {}) => evaluate(parseExpression(src), row);

describe('expression language', () => {
  it('follows SQL precedence: or < and < not < comparison < + - < * / %', () => {
    expect(ev('1 + 2 * 3')).toBe(7);
    expect(ev('(1 + 2) * 3')).toBe(9);
    expect(ev('10 - 2 - 3')).toBe(5);
    expect(ev('true or false and false')).toBe(true);
    expect(ev('not 1 = 2')).toBe(true);
    expect(ev('not true and false')).toBe(false);
    expect(ev('-value + 1', { value: 5 })).toBe(-4);
    expect(ev('value % 3 = 0', { value: 30 })).toBe(true);
    expect(ev('7 / 2')).toBe(3.5);
  });

  it('reads columns, strings with doubled quotes, null for missing columns and <> as !=', () => {
    expect(ev("name = 'O''Brien'", { name: "O'Brien" })).toBe(true);
    expect(ev('"a" + "b"')).toBe('ab');
    expect(ev('missing = null')).toBe(true);
    expect(ev('missing < 3')).toBe(false);
    expect(ev('id <> 2', { id: 1 })).toBe(true);
    expect(ev("'abc' < 'abd'")).toBe(true);
    expect(ev('1.5e1')).toBe(15);
  });

  it.each([
    ['value >', 7, 'expected a value but found end of expression'],
    ['(value = 1', 10, 'expected ")"'],
    ['value = 1)', 9, 'unexpected ")"'],
    ['value @ 1', 6, 'unexpected character "@"'],
    ["'open", 0, 'unterminated string'],
    ['1 < 2 < 3', 6, 'cannot be chained'],
    ['value value', 6, 'unexpected "value"'],
  ])('syntax error in %j names position %i', (src, position, reason) => {
    try {
      parseExpression(src);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ExpressionSyntaxError);
      expect((e as ExpressionSyntaxError).position).toBe(position);
      expect((e as Error).message).toContain(reason);
    }
  });

  it.each([
    ["value * 'x'", { value: 1 }, '* needs numbers'],
    ['value and true', { value: 1 }, 'and needs booleans'],
    ['not value', { value: 1 }, 'not needs a boolean'],
    ["1 < 'a'", {}, 'cannot compare number < string'],
    ['1 / 0', {}, 'division by zero'],
    ['doc = 1', { doc: { a: 1 } }, 'holds a object'],
  ])('type error in %j', (src, row, reason) => {
    expect(() => ev(src, row)).toThrow(ExpressionTypeError);
    expect(() => ev(src, row)).toThrow(reason);
  });

  it("a column name resolves only among the row's own columns, never through the prototype chain", () => {
    const row = { id: 1, x: 5 };
    for (const name of ['toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf']) {
      expect(ev(name, row), name).toBeNull();
    }
    // They read as any absent column does: null, equal only to null.
    expect(matches(parseExpression('toString = x'), row)).toBe(false);
    expect(matches(parseExpression('constructor = null'), row)).toBe(true);
    expect(ev('x', row)).toBe(5);
  });

  it('a where clause must be boolean', () => {
    expect(() => matches(parseExpression('value + 1'), { value: 1 })).toThrow(
      'must be a boolean, got number',
    );
  });

  it('refuses nesting deeper than the limit instead of overflowing the stack', () => {
    const deep = `${'('.repeat(EXPRESSION_DEPTH_MAX + 1)}1${')'.repeat(EXPRESSION_DEPTH_MAX + 1)}`;
    expect(() => parseExpression(deep)).toThrow('nested deeper');
    expect(() => parseExpression('not '.repeat(EXPRESSION_DEPTH_MAX + 1) + 'true')).toThrow('nested deeper');
  });
});
