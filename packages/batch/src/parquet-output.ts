// A reduce task's Parquet output (outputFormat 'parquet'), written with hyparquet-writer: the
// job's own columns when it exports outputColumns/outputRow, else two STRING columns key and
// value. Rows are gathered column by column and written once, in row groups of ROW_GROUP_ROWS
// with min/max statistics, so that DuckDB can read row groups in parallel and skip them.
import type { ColumnSource } from 'hyparquet-writer';
import type { JobModule, OutputColumn } from './job.js';

export const ROW_GROUP_ROWS = 100_000;

const KEY_VALUE: readonly OutputColumn[] = [
  { name: 'key', type: 'STRING' },
  { name: 'value', type: 'STRING' },
];

export class ParquetRows {
  private readonly columns: readonly OutputColumn[];
  private readonly data: unknown[][];
  rows = 0;

  constructor(private readonly job: JobModule) {
    this.columns = job.outputColumns ?? KEY_VALUE;
    this.data = this.columns.map(() => []);
  }

  add(key: string, value: string): void {
    const row = this.job.outputRow ? this.job.outputRow(key, value) : [key, value];
    if (!Array.isArray(row) || row.length !== this.columns.length) {
      throw new Error(
        `outputRow('${key}', '${value}') must return an array of ${this.columns.length} values`,
      );
    }
    for (let c = 0; c < row.length; c++) this.data[c]!.push(convert(row[c], this.columns[c]!));
    this.rows++;
  }

  /** hyparquet-writer is imported here, on first use: most task threads never write Parquet. */
  async encode(): Promise<Uint8Array> {
    const { parquetWriteBuffer } = await import('hyparquet-writer');
    const columnData: ColumnSource[] = this.columns.map((column, c) => ({
      name: column.name,
      data: this.data[c]!,
      type: column.type,
      nullable: true,
    }));
    return new Uint8Array(parquetWriteBuffer({ columnData, rowGroupSize: ROW_GROUP_ROWS, statistics: true }));
  }
}

function convert(value: unknown, column: OutputColumn): unknown {
  if (value === null || value === undefined) return null;
  switch (column.type) {
    case 'INT64': {
      if (typeof value === 'bigint') return value;
      const n = Number(value);
      if (!Number.isSafeInteger(n)) throw new Error(`column ${column.name}: '${value}' is not an integer`);
      return BigInt(n);
    }
    case 'DOUBLE':
      return Number(value);
    case 'BOOLEAN':
      return Boolean(value);
    default:
      return String(value);
  }
}
