// A group-by aggregation over CSV (or JSON-line or Parquet) rows, SQL's
//   SELECT key, count(*), sum(value) FROM input GROUP BY key
// as a MapReduce job: the job declares the two columns it reads (`columns`: the key a string,
// the value an integer), and the map emits (key, amount) with the amount as a number, which
// stands for one row (count 1, sum amount). The combiner adds counts and sums on the map side
// (so the shuffle carries one pair per key per map task, not one per row; the aggregator folds
// each row's number into a {count, sum} as it is emitted); what is shuffled is "count,sum", and
// the reduce adds those up. Parameters: `key` and `value`, the column names (default `key` and
// `amount`). Values must be integers (cents, not euros): integer sums do not depend on the
// order of addition, so the output equals DuckDB's whatever the split sizes.
import type { Emit, InputColumns, TaskContext } from '../job.js';

let keyColumn = 'key';
let valueColumn = 'amount';

export function setup(ctx: TaskContext): void {
  keyColumn = ctx.params.key ?? 'key';
  valueColumn = ctx.params.value ?? 'amount';
}

/**
 * The two columns the job reads, typed: the engine hands `map` rows of just these, the amount
 * already an integer (a row whose amount is not one is malformed and fails the task, naming
 * its line). An empty amount is null and counts as 0, as Number('') did.
 */
export function columns(): InputColumns {
  return { [keyColumn]: 'string', [valueColumn]: 'integer' };
}

export function map(row: Record<string, string | number | null>, emit: Emit): void {
  const key = row[keyColumn];
  const amount = row[valueColumn];
  // undefined: the input has no columns (text lines) or not these (the reader checks a CSV header).
  if (key === undefined || amount === undefined)
    throw new Error(`aggregate: the row has no column '${key === undefined ? keyColumn : valueColumn}'`);
  emit(key === null ? '' : String(key), amount ?? 0);
}

/** A key's running count and sum. */
interface CountSum {
  count: number;
  sum: number;
}

/** Folds values as they come: an amount (one row, a number from map) or "count,sum" (combined). */
export const aggregator = {
  create(value: string | number): CountSum {
    return aggregator.add({ count: 0, sum: 0 }, value);
  },
  add(acc: CountSum, value: string | number): CountSum {
    if (typeof value === 'number') {
      acc.count++;
      acc.sum += value;
      return acc;
    }
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
