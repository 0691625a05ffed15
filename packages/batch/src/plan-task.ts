// Planning a job in a thread: load and validate the job module and, for a range partitioner,
// sample the keys its map emits on a few splits and pick R-1 boundaries (TeraSort's sampler),
// so that reduce partition i holds keys below partition i+1's: a total order across files.
import { pickBoundaries } from './core/partition.js';
import { readSplit } from './input.js';
import type { JobModule } from './job.js';
import { taskContext } from './job-loader.js';
import type { PlanRequest } from './task-protocol.js';

/** Records sampled per split: enough for even partitions, cheap next to the job itself. */
export const SAMPLE_RECORDS_PER_SPLIT = 1_000;

export async function runPlan(request: PlanRequest, job: JobModule): Promise<string[] | null> {
  if (job.partition !== 'range') return null;
  const keys: string[] = [];
  for (const split of request.samples) {
    const ctx = taskContext(request, split.input, split.path);
    if (job.setup) await job.setup(ctx);
    const { records } = await readSplit(split, request.onMalformed);
    const step = Math.max(1, Math.floor(records.length / SAMPLE_RECORDS_PER_SPLIT));
    for (let i = 0; i < records.length; i += step) {
      const result = job.map(records[i]!.record, (key) => keys.push(key), ctx);
      if (result instanceof Promise) await result;
    }
  }
  return pickBoundaries(keys, request.reduces);
}
