// POST /sql: DuckDB (@duckdb/node-api) in the coordinator's process, reading the Parquet tree
// the ETL writes (or any file DuckDB reads). Rows come back as JSON; a query's row count is
// capped so that one answer cannot exhaust memory. DuckDB is loaded by the first query, not at
// start: its native library costs a process most of a second to load, and a coordinator that
// only schedules (every test cluster, every bench run) never asks it anything.

import { DdiaError } from '@ddia/common';
import type { DuckDBInstance } from '@duckdb/node-api';
import { BatchErrors } from './errors.js';

export const SQL_ROWS_MAX = 10_000;

export interface SqlAnswer {
  columns: string[];
  rows: Record<string, unknown>[];
  truncated: boolean;
}

export class SqlEngine {
  private instance: Promise<DuckDBInstance> | null = null;
  private closed = false;

  /** The in-memory database, opened on first use; 503 when DuckDB does not load here. */
  private open(): Promise<DuckDBInstance> {
    this.instance ??= import('@duckdb/node-api').then(
      ({ DuckDBInstance }) => DuckDBInstance.create(':memory:'),
      (err: Error) => {
        this.instance = null;
        throw new DdiaError(BatchErrors.sqlUnavailable, `@duckdb/node-api does not load: ${err.message}`);
      },
    );
    return this.instance;
  }

  async query(sql: string): Promise<SqlAnswer> {
    if (this.closed) throw new DdiaError(BatchErrors.sqlUnavailable, 'the coordinator is shutting down');
    const connection = await (await this.open()).connect();
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
    this.closed = true;
    void this.instance?.then((db) => db.closeSync()).catch(() => {});
  }
}
