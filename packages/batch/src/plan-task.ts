// Planning a job in a thread: load and validate the job module and run its map over a sample
// of the input: for a range partitioner, to pick R-1 boundaries (TeraSort's sampler), so that
// reduce partition i holds keys below partition i+1's; for a job that exports
// hotKeys = 'sample', to find the keys that would overload one reducer (Pig's skewed join
// samples its input the same way) and how many reducers each should be spread over.
import { pickBoundaries } from './core/partition.js';
import { findHotKeys } from './core/skew.js';
import { jobColumns, readSplit } from './input.js';
import type { JobModule } from './job.js';
import { taskContext } from './job-loader.js';
import type { PlanRequest } from './task-protocol.js';

/** Records sampled per split: enough for even partitions, cheap next to the job itself. */
export const SAMPLE_RECORDS_PER_SPLIT = 1_000;

export interface Plan {
  boundaries: string[] | null;
  hotKeys: Record<string, number>;
}

export async function runPlan(request: PlanRequest, job: JobModule): Promise<Plan> {
  if (job.partition !== 'range' && job.hotKeys !== 'sample') return { boundaries: null, hotKeys: {} };
  const keys: string[] = [];
  for (const split of request.samples) {
    const ctx = taskContext(request, split.input, split.path);
    if (job.setup) await job.setup(ctx);
    const { records } = await readSplit(split, request.onMalformed, jobColumns(job, ctx));
    const step = Math.max(1, Math.floor(records.length / SAMPLE_RECORDS_PER_SPLIT));
    for (let i = 0; i < records.length; i += step) {
      const result = job.map(records[i], (key) => keys.push(key), ctx);
      if (result instanceof Promise) await result;
    }
  }
  const share = request.params.hotShare === undefined ? undefined : Number(request.params.hotShare);
  return {
    boundaries: job.partition === 'range' ? pickBoundaries(keys, request.reduces) : null,
    hotKeys: job.hotKeys === 'sample' ? findHotKeys(keys, request.reduces, share) : {},
  };
}
