// A reduce task: merge the sorted runs fetched from every map task (already on local disk),
// call the job's reduce once per key with all its values, and write `key<TAB>value` lines to a
// temporary file that is renamed to part-NNNNN when complete. A re-executed or backup attempt
// renames a whole file over a whole file, so readers never see partial output (paper §3.3).
import { groupByKey, mergeRuns, type Pair } from './core/merge.js';
import { commitFile, fileSize, readBytes, removeAll, TextSink, writeBytes } from './disk.js';
import type { JobModule } from './job.js';
import { taskContext } from './job-loader.js';
import { RecordError } from './map-task.js';
import { ParquetRows } from './parquet-output.js';
import { decodeRun } from './runs.js';
import {
  type Counters,
  PROGRESS_KEY_BYTES,
  PROGRESS_KEY_BYTES_MAX,
  PROGRESS_RECORDS,
  type ReduceRequest,
} from './task-protocol.js';

export function partFileName(partition: number): string {
  return `part-${String(partition).padStart(5, '0')}`;
}

export async function runReduce(
  request: ReduceRequest,
  job: JobModule,
  progress: Float64Array,
  currentKey: Uint8Array,
): Promise<Counters> {
  const counters: Counters = {
    reduceInputGroups: 0,
    reduceInputRecords: 0,
    reduceOutputRecords: 0,
    outputBytes: 0,
  };
  const started = performance.now();
  const ctx = taskContext(request, '', '');
  if (job.setup) await job.setup(ctx);
  const runs: Iterable<Pair>[] = [];
  for (const file of request.runFiles) runs.push(decodeRun(await readBytes(file)));
  const parquet = request.outputFormat === 'parquet' ? new ParquetRows(job) : null;
  const name = partFileName(request.taskIndex) + (parquet ? '.parquet' : '');
  const tempDir = `${request.outputDir}/_temporary/${request.attemptId}`;
  const sink = new TextSink(`${tempDir}/${name}`);
  const pending: string[] = [];
  const emit = (key: string, value: string | number) => {
    if (typeof key !== 'string' || (typeof value !== 'string' && typeof value !== 'number')) {
      throw new TypeError(
        `emit(key, value) takes a string and a string or number, got ${typeof key} and ${typeof value}`,
      );
    }
    if (parquet) parquet.add(key, String(value));
    else pending.push(`${key}\t${value}\n`);
    counters.reduceOutputRecords!++;
  };
  const encoder = new TextEncoder();
  for (const [key, values] of groupByKey(mergeRuns(runs))) {
    // What a hung reducer was working on, for the runner to report if it must stop us.
    const { written } = encoder.encodeInto(key, currentKey.subarray(0, PROGRESS_KEY_BYTES_MAX));
    progress[PROGRESS_KEY_BYTES] = written;
    counters.reduceInputGroups!++;
    counters.reduceInputRecords! += values.length;
    progress[PROGRESS_RECORDS] = counters.reduceInputRecords!;
    let result: unknown;
    try {
      result = job.reduce(key, values, emit, ctx);
      if (result instanceof Promise) result = await result;
    } catch (err) {
      throw new RecordError(`reduce threw at key '${key}': ${(err as Error)?.message ?? String(err)}`, -1);
    }
    if (result !== undefined && result !== null) emit(key, String(result));
    for (const line of pending) await sink.write(line);
    pending.length = 0;
  }
  if (parquet) await writeBytes(sink.path, await parquet.encode());
  else await sink.close();
  counters.outputBytes = parquet ? await fileSize(sink.path) : sink.bytes;
  await commitFile(sink.path, `${request.outputDir}/${name}`);
  await removeAll(tempDir);
  // Merging the fetched runs, the job's reduce and writing the output, in task-milliseconds.
  counters.reduceMs = Math.round(performance.now() - started);
  return counters;
}
