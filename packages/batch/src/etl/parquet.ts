// Parquet through hyparquet-writer (write) and hyparquet (read): pure JavaScript, no native
// build, statistics (min/max per column chunk) on by default, row groups sized for DuckDB.

import { type FileSystem, nodeFileSystem, writeFileAtomic } from '@ddia/common';
import { parquetReadObjects } from 'hyparquet';
import { type ColumnSource, parquetWriteBuffer } from 'hyparquet-writer';
import type { DailyRevenue, EnrichedOrder } from '../core/etl-rules.js';
import { BATCH_SYNC, existsOn } from '../disk.js';

/** DuckDB reads row groups in parallel and prunes them by statistics; ~100k rows each suits it. */
export const ROW_GROUP_ROWS = 100_000;

/** Writes a warehouse file atomically (temp file beside it, fsync, rename, directory fsync). */
export async function commitWarehouseFile(fs: FileSystem, path: string, bytes: Uint8Array): Promise<void> {
  await writeFileAtomic(path, bytes, { fs, syncPoint: BATCH_SYNC.etlPartition });
}

/** Writes a Parquet file by write-then-rename. */
async function writeParquet(fs: FileSystem, path: string, columns: ColumnSource[]): Promise<void> {
  const bytes = parquetWriteBuffer({ columnData: columns, rowGroupSize: ROW_GROUP_ROWS, statistics: true });
  await commitWarehouseFile(fs, path, new Uint8Array(bytes));
}

/** A whole file's bytes as the ArrayBuffer hyparquet reads. */
export async function readArrayBuffer(fs: FileSystem, path: string): Promise<ArrayBuffer> {
  const bytes = await fs.readFile(path);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

export async function writeOrders(
  path: string,
  orders: readonly EnrichedOrder[],
  fs: FileSystem = nodeFileSystem,
): Promise<void> {
  await writeParquet(fs, path, [
    { name: 'order_id', data: orders.map((o) => o.order_id), type: 'STRING' },
    { name: 'customer_id', data: orders.map((o) => o.customer_id), type: 'STRING' },
    { name: 'country', data: orders.map((o) => o.country), type: 'STRING' },
    { name: 'amount', data: orders.map((o) => o.amount), type: 'DOUBLE' },
    { name: 'quantity', data: orders.map((o) => o.quantity), type: 'INT32' },
    { name: 'note', data: orders.map((o) => o.note), type: 'STRING' },
  ]);
}

export async function writeDailyRevenue(
  path: string,
  rows: readonly DailyRevenue[],
  fs: FileSystem = nodeFileSystem,
): Promise<void> {
  await writeParquet(fs, path, [
    { name: 'country', data: rows.map((r) => r.country), type: 'STRING' },
    { name: 'orders', data: rows.map((r) => r.orders), type: 'INT32' },
    { name: 'revenue', data: rows.map((r) => r.revenue), type: 'DOUBLE' },
  ]);
}

/** The orders of one date partition (the date comes from the directory name, Hive-style). */
export async function readOrders(
  path: string,
  date: string,
  fs: FileSystem = nodeFileSystem,
): Promise<EnrichedOrder[]> {
  if (!(await existsOn(fs, path))) return [];
  const file = await readArrayBuffer(fs, path);
  const rows = (await parquetReadObjects({ file })) as Omit<EnrichedOrder, 'order_date'>[];
  return rows.map((r) => ({
    ...r,
    amount: Number(r.amount),
    quantity: Number(r.quantity),
    order_date: date,
  }));
}
