// POST /sql: DuckDB (@duckdb/node-api) in the coordinator's process, reading the Parquet tree
// the ETL writes (or any file DuckDB reads). Rows come back as JSON; a query's row count is
// capped so that one answer cannot exhaust memory.

import { DdiaError } from '@ddia/common';
import { DuckDBInstance } from '@duckdb/node-api';
import { BatchErrors } from './errors.js';

export const SQL_ROWS_MAX = 10_000;

export interface SqlAnswer {
  columns: string[];
  rows: Record<string, unknown>[];
  truncated: boolean;
}

export class SqlEngine {
  private constructor(private readonly instance: DuckDBInstance) {}

  static async open(): Promise<SqlEngine> {
    return new SqlEngine(await DuckDBInstance.create(':memory:'));
  }

  async query(sql: string): Promise<SqlAnswer> {
    const connection = await this.instance.connect();
    try {
      const reader = await connection.runAndReadAll(sql);
      const rows = reader.getRowObjectsJson() as Record<string, unknown>[];
      return {
        columns: reader.columnNames(),
        rows: rows.slice(0, SQL_ROWS_MAX),
        truncated: rows.length > SQL_ROWS_MAX,
      };
    } catch (err) {
      throw new DdiaError(BatchErrors.sql, (err as Error).message);
    } finally {
      connection.closeSync();
    }
  }

  close(): void {
    this.instance.closeSync();
  }
}
