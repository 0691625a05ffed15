// DuckDB as the oracle: helpers to write generated tables as CSV / JSON lines exactly as DuckDB
// reads them, and to run SQL in an in-memory DuckDB.
import { DuckDBInstance } from '@duckdb/node-api';

/** RFC 4180: a field with a comma, a quote or outer spaces is quoted, quotes doubled. */
export function csvField(value: string): string {
  return /[",]|^\s|\s$/.test(value) || value === '' ? `"${value.replaceAll('"', '""')}"` : value;
}

export function csvText(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const lines = [header.join(','), ...rows.map((r) => r.map((v) => csvField(String(v))).join(','))];
  return `${lines.join('\n')}\n`;
}

export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export class Oracle {
  private constructor(private readonly instance: DuckDBInstance) {}

  static async open(): Promise<Oracle> {
    return new Oracle(await DuckDBInstance.create(':memory:'));
  }

  async rows(sql: string): Promise<Record<string, unknown>[]> {
    const connection = await this.instance.connect();
    try {
      return (await connection.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
    } finally {
      connection.closeSync();
    }
  }

  close(): void {
    this.instance.closeSync();
  }
}

/** A CSV reader call with explicit VARCHAR columns (DuckDB sniffs nothing). */
export function readCsv(path: string, columns: readonly string[]): string {
  const cols = columns.map((c) => `${sqlString(c)}: 'VARCHAR'`).join(', ');
  return `read_csv(${sqlString(path)}, header = true, delim = ',', quote = '"', escape = '"', auto_detect = false, columns = {${cols}})`;
}

/** Sessions by window functions: a click starts one when the user's previous click is more than `gap` s before it. */
export function sessionsSql(source: string, gap: number): string {
  return `WITH clicks AS (SELECT user_id, ts::BIGINT AS ts, url FROM ${source}),
    flagged AS (
      SELECT *, CASE WHEN ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts, url) <= ${gap} THEN 0 ELSE 1 END AS starts
      FROM clicks),
    numbered AS (
      SELECT *, sum(starts) OVER (PARTITION BY user_id ORDER BY ts, url ROWS UNBOUNDED PRECEDING) AS session
      FROM flagged)
    SELECT user_id,
           session::INTEGER AS session, min(ts)::INTEGER AS first, max(ts)::INTEGER AS last,
           count(*)::INTEGER AS clicks, arg_min(url, (ts, url)) AS landing
      FROM numbered GROUP BY user_id, session`;
}
