// Listing a job's inputs: every file under each input path, its format (given, or guessed from
// the extension) and, for Parquet, its row groups read from the file's footer, so that the
// planner can cut splits at row-group boundaries without reading any data.
import { resolve } from 'node:path';
import { DdiaError } from '@ddia/common';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import type { InputFile, InputFormat, RowGroupInfo } from './core/splits.js';
import { listFiles } from './disk.js';
import { BatchErrors } from './errors.js';

export interface InputSpec {
  path: string;
  format?: InputFormat;
  /** The name map tasks see as ctx.input; defaults to the path's base name. */
  name?: string;
}

export function guessFormat(path: string): InputFormat {
  if (path.endsWith('.csv')) return 'csv';
  if (path.endsWith('.jsonl') || path.endsWith('.ndjson') || path.endsWith('.json')) return 'jsonl';
  if (path.endsWith('.parquet')) return 'parquet';
  return 'text';
}

/** The row groups of a Parquet file (rows and compressed bytes of each), from its footer. */
export async function parquetRowGroups(path: string): Promise<RowGroupInfo[]> {
  const metadata = await parquetMetadataAsync(await asyncBufferFromFile(path));
  return metadata.row_groups.map((group) => ({
    rows: Number(group.num_rows),
    bytes: Number(group.total_compressed_size ?? group.total_byte_size),
  }));
}

/** Every input file; throws 400 DDIA_ERR_BATCH_INPUT for a path that cannot be read. */
export async function listInputFiles(inputs: readonly InputSpec[]): Promise<InputFile[]> {
  const files: InputFile[] = [];
  for (const input of inputs) {
    const path = resolve(input.path);
    let found: { path: string; bytes: number }[];
    try {
      found = await listFiles(path);
    } catch (err) {
      throw new DdiaError(BatchErrors.badInput, `cannot read input ${path}: ${(err as Error).message}`);
    }
    if (found.length === 0) throw new DdiaError(BatchErrors.badInput, `input ${path} has no files`);
    const name = input.name ?? path.split('/').pop()!;
    for (const f of found) {
      const format = input.format ?? guessFormat(f.path);
      if (format !== 'parquet') {
        files.push({ ...f, input: name, format });
        continue;
      }
      try {
        files.push({ ...f, input: name, format, rowGroups: await parquetRowGroups(f.path) });
      } catch (err) {
        throw new DdiaError(
          BatchErrors.badInput,
          `${f.path} is not a readable Parquet file: ${(err as Error).message}`,
        );
      }
    }
  }
  return files;
}

/** At most `count` items spread evenly over `items` (the splits a planner samples). */
export function evenlySpaced<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  return Array.from({ length: count }, (_, i) => items[Math.floor((i * items.length) / count)]!);
}
