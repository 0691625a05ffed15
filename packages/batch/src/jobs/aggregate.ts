// A group-by aggregation over CSV rows, SQL's
//   SELECT key, count(*), sum(value) FROM input GROUP BY key
// as a MapReduce job: the map emits (key, amount), which stands for one row (count 1, sum
// amount); the combiner adds counts and sums on the map side into "count,sum" values (so the
// shuffle carries one pair per key per map task, not one per row; the aggregator folds each
// row into a {count, sum} as it is emitted), the reduce adds them up. A value is therefore
// either "amount" (a row) or "count,sum" (rows already combined); emitting the amount as it
// was read spares building a "1,amount" string per row that the fold would cut apart again. Parameters: `key` and `value`, the column names (default `key` and
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
  // A CSV field is emitted as read (Number() of it is `value` again); a Parquet INT64 arrives as a number.
  emit(key, typeof raw === 'string' ? raw : String(value));
}

/** A key's running count and sum. */
interface CountSum {
  count: number;
  sum: number;
}

/** Folds values as the map emits them: "amount" (one row) or "count,sum". */
export const aggregator = {
  create(value: string): CountSum {
    return aggregator.add({ count: 0, sum: 0 }, value);
  },
  add(acc: CountSum, value: string): CountSum {
    const comma = value.indexOf(',');
    if (comma < 0) {
      acc.count++;
      acc.sum += Number(value);
    } else {
      acc.count += Number(value.slice(0, comma));
      acc.sum += Number(value.slice(comma + 1));
    }
    return acc;
  },
  result(acc: CountSum): string {
    return `${acc.count},${acc.sum}`;
  },
};

/** Adds "count,sum" pairs. */
export function combine(_key: string, values: string[]): string {
  const acc = aggregator.create(values[0]!);
  for (let i = 1; i < values.length; i++) aggregator.add(acc, values[i]!);
  return aggregator.result(acc);
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
