// A group-by aggregation over CSV rows, SQL's
//   SELECT key, count(*), sum(value) FROM input GROUP BY key
// as a MapReduce job: the map emits (key, "1,value"), the combiner adds counts and sums on the
// map side (so the shuffle carries one pair per key per map task, not one per row), the
// reduce adds them up. Parameters: `key` and `value`, the column names (default `key` and
// `amount`). Values must be integers (cents, not euros): integer sums do not depend on the
// order of addition, so the output equals DuckDB's whatever the split sizes.
import type { Emit, TaskContext } from '../job.js';

let keyColumn = 'key';
let valueColumn = 'amount';

export function setup(ctx: TaskContext): void {
  keyColumn = ctx.params.key ?? 'key';
  valueColumn = ctx.params.value ?? 'amount';
}

export function map(row: Record<string, string>, emit: Emit): void {
  const raw = row[valueColumn];
  const key = row[keyColumn];
  if (key === undefined || raw === undefined)
    throw new Error(`aggregate: the row has no column '${key === undefined ? keyColumn : valueColumn}'`);
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`aggregate: '${raw}' is not an integer`);
  emit(key, `1,${value}`);
}

/** Adds "count,sum" pairs. */
export function combine(_key: string, values: string[]): string {
  let count = 0;
  let sum = 0;
  for (const v of values) {
    const comma = v.indexOf(',');
    count += Number(v.slice(0, comma));
    sum += Number(v.slice(comma + 1));
  }
  return `${count},${sum}`;
}

export function reduce(_key: string, values: string[]): string {
  return combine(_key, values);
}

/** Parquet output (outputFormat 'parquet'): the SQL answer's own columns. */
export const outputColumns = [
  { name: 'key', type: 'STRING' },
  { name: 'count', type: 'INT64' },
  { name: 'sum', type: 'INT64' },
] as const;

export function outputRow(key: string, value: string): unknown[] {
  const comma = value.indexOf(',');
  return [key, Number(value.slice(0, comma)), Number(value.slice(comma + 1))];
}
