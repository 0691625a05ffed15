// Checking what a client sends before the engine acts on it: names, rows and expressions.
// Every check throws a DdiaError naming what is wrong, so the HTTP layer can answer 4xx
// problem+json without knowing the rules.
import { CommonErrors, DdiaError } from '@ddia/common/core';
import { TxError, TxErrors } from '../errors.js';
import {
  type Compiled,
  ExpressionSyntaxError,
  ExpressionTypeError,
  parseExpression,
  type Row,
} from './expression.js';

export const ROW_BYTES_MAX = 64 * 1024;
export const NAME_CHARS_MAX = 64;

const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Parses a where clause or a set expression; an absent where clause matches every row. */
export function compile(source: unknown, role: string): Compiled {
  if (source === undefined) return parseExpression('true');
  if (typeof source !== 'string') {
    throw new TxError(TxErrors.badExpression, `${role} must be a string expression, got ${typeof source}`);
  }
  try {
    return parseExpression(source);
  } catch (e) {
    throw toDdiaError(e, role);
  }
}

/** Expression errors as the catalogue's codes (with the position); anything else unchanged. */
export function toDdiaError(e: unknown, role?: string): unknown {
  const prefix = role ? `${role}: ` : '';
  if (e instanceof ExpressionSyntaxError) {
    return new TxError(TxErrors.badExpression, prefix + e.message, { position: e.position });
  }
  if (e instanceof ExpressionTypeError) {
    return new TxError(TxErrors.wrongType, prefix + e.message, { position: e.position });
  }
  return e;
}

export function checkName(name: unknown, role: string): asserts name is string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name) || name.length > NAME_CHARS_MAX) {
    throw new DdiaError(
      CommonErrors.validation,
      `${role} must be 1-${NAME_CHARS_MAX} letters, digits, _ or -, starting with a letter; got ${JSON.stringify(name)}`,
    );
  }
}

/** A row for `table`: a JSON object with a finite number or string primary key, deep-copied. */
export function checkRow(table: { name: string; primaryKey: string }, row: unknown): Row {
  if (typeof row !== 'object' || row === null || Array.isArray(row)) {
    throw new TxError(TxErrors.badRow, `a row must be a JSON object, got ${JSON.stringify(row)}`);
  }
  const pk = (row as Row)[table.primaryKey];
  if (typeof pk !== 'number' && typeof pk !== 'string') {
    throw new TxError(
      TxErrors.badRow,
      `the primary key ${table.primaryKey} of ${table.name} must be a number or a string; got ${JSON.stringify(pk)}`,
    );
  }
  if (typeof pk === 'number' && !Number.isFinite(pk)) {
    throw new TxError(TxErrors.badRow, `the primary key ${table.primaryKey} must be finite`);
  }
  const json = JSON.stringify(row);
  if (json.length > ROW_BYTES_MAX) {
    throw new TxError(TxErrors.badRow, `row of ${json.length} bytes exceeds ${ROW_BYTES_MAX}`);
  }
  return JSON.parse(json) as Row;
}

/** An update's `set`: column -> expression, each column a valid name. */
export function compileSet(set: unknown): [string, Compiled][] {
  if (typeof set !== 'object' || set === null || Array.isArray(set) || Object.keys(set).length === 0) {
    throw new DdiaError(
      CommonErrors.validation,
      'set must be an object of column -> expression, e.g. {"value": "value + 10"}',
    );
  }
  return Object.entries(set as Record<string, unknown>).map(([column, source]) => {
    checkName(column, 'a set column');
    return [column, compile(source, `set ${column}`)];
  });
}
