// A map task: read the split, call the job's map on each record, partition the output, and
// keep it in memory until `spillBytes`, then sort (and combine) each partition and spill it
// to local disk as a sorted run. At the end the spilled runs of each partition are merged
// into one run per partition: the file the shuffle serves (Hadoop's map-side sort and spill).
import { comparePairs, groupByKey, mergeRuns, type Pair } from './core/merge.js';
import { hashPartition, rangePartition } from './core/partition.js';
import { readBytes, removeAll, writeBytes } from './disk.js';
import { MalformedRecordError, readSplit } from './input.js';
import type { JobModule, TaskContext } from './job.js';
import { taskContext } from './job-loader.js';
import { decodeRun, encodeRun } from './runs.js';
import {
  type Counters,
  type MapRequest,
  PROGRESS_LINE_INDEX,
  PROGRESS_RECORDS,
  PROGRESS_SPLIT_FROM,
} from './task-protocol.js';

/** Bytes charged per buffered pair on top of its strings (array and tuple overhead). */
const PAIR_OVERHEAD_BYTES = 48;

/** An error thrown by job code, with the record it was working on. */
export class RecordError extends Error {
  override name = 'RecordError';
  constructor(
    message: string,
    readonly lineIndex: number,
  ) {
    super(message);
  }
}

export function combineSorted(
  pairs: Iterable<Pair>,
  job: JobModule,
  ctx: TaskContext,
  counters: Counters,
): Pair[] {
  const out: Pair[] = [];
  if (!job.combine) {
    for (const pair of pairs) out.push(pair);
    return out;
  }
  for (const [key, values] of groupByKey(pairs)) {
    counters.combineInputRecords! += values.length;
    out.push([key, values.length === 1 ? values[0]! : String(job.combine(key, values, ctx))]);
  }
  counters.combineOutputRecords! += out.length;
  return out;
}

export async function runMap(request: MapRequest, job: JobModule, progress: Float64Array): Promise<Counters> {
  const counters: Counters = {
    mapInputRecords: 0,
    mapOutputRecords: 0,
    mapOutputBytes: 0,
    combineInputRecords: 0,
    combineOutputRecords: 0,
    spills: 0,
  };
  const partitions = request.reduces;
  const ctx = taskContext(request, request.split.input, request.split.path);
  const custom = typeof job.partition === 'function' ? job.partition : null;
  const boundaries = request.boundaries;
  const partitionOf = (key: string): number => {
    if (boundaries) return rangePartition(key, boundaries);
    if (custom) {
      const p = custom(key, partitions);
      if (!Number.isInteger(p) || p < 0 || p >= partitions) {
        throw new Error(
          `partition('${key}', ${partitions}) returned ${p}, not an integer in [0, ${partitions})`,
        );
      }
      return p;
    }
    return hashPartition(key, partitions);
  };
  let buffers: Pair[][] = Array.from({ length: partitions }, () => []);
  let bufferedBytes = 0;
  const spillFiles: string[][] = Array.from({ length: partitions }, () => []);
  const emit = (key: string, value: string) => {
    if (typeof key !== 'string' || typeof value !== 'string') {
      throw new TypeError(`emit(key, value) takes strings, got ${typeof key} and ${typeof value}`);
    }
    buffers[partitionOf(key)]!.push([key, value]);
    bufferedBytes += 2 * (key.length + value.length) + PAIR_OVERHEAD_BYTES;
    counters.mapOutputRecords!++;
  };
  const spill = async () => {
    const n = counters.spills!;
    for (let p = 0; p < partitions; p++) {
      const sorted = combineSorted(buffers[p]!.sort(comparePairs), job, ctx, counters);
      const file = `${request.outputDir}/spill-${n}-p${p}.run`;
      await writeBytes(file, encodeRun(sorted));
      spillFiles[p]!.push(file);
    }
    counters.spills!++;
    buffers = Array.from({ length: partitions }, () => []);
    bufferedBytes = 0;
  };

  if (job.setup) await job.setup(ctx);
  let split: Awaited<ReturnType<typeof readSplit>>;
  try {
    split = await readSplit(request.split, request.onMalformed);
  } catch (err) {
    if (err instanceof MalformedRecordError) throw new RecordError(err.message, err.lineIndex);
    throw err;
  }
  progress[PROGRESS_SPLIT_FROM] = split.from;
  for (const { record, lineIndex } of split.records) {
    progress[PROGRESS_LINE_INDEX] = lineIndex;
    counters.mapInputRecords!++;
    progress[PROGRESS_RECORDS] = counters.mapInputRecords!;
    try {
      const result = job.map(record, emit, ctx);
      if (result instanceof Promise) await result;
    } catch (err) {
      throw new RecordError(`map threw: ${(err as Error)?.stack?.split('\n')[0] ?? String(err)}`, lineIndex);
    }
    if (bufferedBytes >= request.spillBytes) await spill();
  }

  for (let p = 0; p < partitions; p++) {
    let final: Pair[];
    if (spillFiles[p]!.length === 0) {
      final = combineSorted(buffers[p]!.sort(comparePairs), job, ctx, counters);
    } else {
      const runs: Iterable<Pair>[] = [buffers[p]!.sort(comparePairs)];
      for (const file of spillFiles[p]!) runs.push(decodeRun(await readBytes(file)));
      final = combineSorted(mergeRuns(runs), job, ctx, counters);
    }
    const bytes = encodeRun(final);
    counters.mapOutputBytes! += bytes.length;
    await writeBytes(`${request.outputDir}/p${p}.run`, bytes);
  }
  if (counters.spills! > 0) {
    for (const files of spillFiles) for (const file of files) await removeAll(file);
  }
  return counters;
}
