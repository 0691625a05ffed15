// A map task: read the split, call the job's map on each record, partition the output, and
// keep it in memory (map-output.ts: sorted lists, or hash tables the combiner folds) until
// `spillBytes`, then spill each partition to local disk as a sorted, combined run. At the end
// the spilled runs of each partition are merged into one run per partition: the file the
// shuffle serves (Hadoop's map-side sort and spill).
import { mergeRuns, type Pair } from './core/merge.js';
import { hashPartition, rangePartition } from './core/partition.js';
import { readBytes, removeAll, writeBytes } from './disk.js';
import { jobColumns, MalformedRecordError, readSplitBatches } from './input.js';
import type { JobModule } from './job.js';
import { taskContext } from './job-loader.js';
import { combineSorted, mapOutputBuffer } from './map-output.js';
import { decodeRun, encodeRun } from './runs.js';
import {
  type Counters,
  type MapRequest,
  PROGRESS_LINE_INDEX,
  PROGRESS_RECORDS,
  PROGRESS_SPLIT_FROM,
} from './task-protocol.js';

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

function notStrings(key: unknown, value: unknown): never {
  throw new TypeError(
    `emit(key, value) takes a string and a string or number, got ${typeof key} and ${typeof value}`,
  );
}

export async function runMap(request: MapRequest, job: JobModule, progress: Float64Array): Promise<Counters> {
  const counters: Counters = {
    mapInputRecords: 0,
    mapOutputRecords: 0,
    mapOutputBytes: 0,
    combineInputRecords: 0,
    combineOutputRecords: 0,
    spills: 0,
    mapReadMs: 0,
    mapRecordsMs: 0,
    mapSpillMs: 0,
    mapOutputMs: 0,
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
  const buffer = mapOutputBuffer(partitions, job, ctx, counters);
  const spillFiles: string[][] = Array.from({ length: partitions }, () => []);
  // emit runs once per output record and V8 inlines it into the job's map: kept small (the
  // throw out of line, the count in a local), word count's map phase took ~1.3x less CPU.
  let emitted = 0;
  const emit = (key: string, value: string | number) => {
    if (typeof key !== 'string' || (typeof value !== 'string' && typeof value !== 'number'))
      notStrings(key, value);
    buffer.addKeyed(key, value, partitionOf);
    emitted++;
  };
  const spill = async () => {
    const started = performance.now();
    const n = counters.spills!;
    for (let p = 0; p < partitions; p++) {
      const file = `${request.outputDir}/spill-${n}-p${p}.run`;
      await writeBytes(file, encodeRun(buffer.drain(p)));
      spillFiles[p]!.push(file);
    }
    counters.spills!++;
    counters.mapSpillMs! += performance.now() - started;
  };

  if (job.setup) await job.setup(ctx);
  try {
    // Timed by phase (task-milliseconds, summed over a job's tasks in its counters): reading and
    // parsing the split; the job's map with the buffering of what it emits; spills; the output.
    const batches = readSplitBatches(request.split, request.onMalformed, jobColumns(job, ctx));
    for (;;) {
      const readStarted = performance.now();
      const batch = await batches.next();
      const recordsStarted = performance.now();
      const spilledBefore = counters.mapSpillMs!;
      counters.mapReadMs! += recordsStarted - readStarted;
      if (batch.done) break;
      const { from, records, lineIndexes } = batch.value;
      progress[PROGRESS_SPLIT_FROM] = from;
      for (let i = 0; i < records.length; i++) {
        const lineIndex = lineIndexes[i]!;
        progress[PROGRESS_LINE_INDEX] = lineIndex;
        counters.mapInputRecords!++;
        progress[PROGRESS_RECORDS] = counters.mapInputRecords!;
        try {
          const result = job.map(records[i], emit, ctx);
          if (result instanceof Promise) await result;
        } catch (err) {
          throw new RecordError(
            `map threw: ${(err as Error)?.stack?.split('\n')[0] ?? String(err)}`,
            lineIndex,
          );
        }
        if (buffer.bytes >= request.spillBytes) await spill();
      }
      counters.mapRecordsMs! += performance.now() - recordsStarted - (counters.mapSpillMs! - spilledBefore);
    }
  } catch (err) {
    if (err instanceof MalformedRecordError) throw new RecordError(err.message, err.lineIndex);
    throw err;
  }

  counters.mapOutputRecords = emitted;
  const outputStarted = performance.now();
  for (let p = 0; p < partitions; p++) {
    let final: Pair[];
    if (spillFiles[p]!.length === 0) {
      final = buffer.drain(p);
    } else {
      const runs: Iterable<Pair>[] = [buffer.drain(p)];
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
  counters.mapOutputMs = performance.now() - outputStarted;
  for (const name of ['mapReadMs', 'mapRecordsMs', 'mapSpillMs', 'mapOutputMs'])
    counters[name] = Math.round(counters[name]!);
  return counters;
}
