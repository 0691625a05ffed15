// Distributed grep (paper §2.3), counting: every match of the `pattern` parameter (a regular
// expression, `flags` optional) with the number of times it occurs.
import type { Emit, TaskContext } from '../job.js';

let pattern: RegExp | null = null;

export function setup(ctx: TaskContext): void {
  const source = ctx.params.pattern;
  if (!source) throw new Error("grep needs the parameter 'pattern'");
  pattern = new RegExp(source, `${(ctx.params.flags ?? '').replace('g', '')}g`);
}

export function map(line: string, emit: Emit): void {
  for (const match of line.matchAll(pattern!)) if (match[0] !== '') emit(match[0], '1');
}

export function combine(_key: string, values: string[]): string {
  return String(values.reduce((sum, v) => sum + Number(v), 0));
}

export function reduce(key: string, values: string[]): string {
  return combine(key, values);
}
