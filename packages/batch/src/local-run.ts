// The local runner: a whole job in this one process, through the engine's own map and reduce
// task code (splits, map-side sort, spills and combiner, partitioning, the merge of sorted runs,
// write-then-rename output), without worker processes or an HTTP shuffle. Hadoop has the same
// thing (the LocalJobRunner) for developing and testing jobs; the property tests use it to run
// hundreds of generated inputs against DuckDB in seconds, with split and spill sizes so small
// that every input is cut into many splits and spilled many times.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DdiaError } from '@ddia/common';
import type { JobSubmission } from './coordinator.js';
import { chooseSplitBytes, planSplits } from './core/splits.js';
import { exists, removeAll, writeBytes } from './disk.js';
import { BatchErrors } from './errors.js';
import { evenlySpaced, listInputFiles } from './inputs.js';
import type { JobModule } from './job.js';
import { loadJobModule, resolveJobModule } from './job-loader.js';
import { runMap } from './map-task.js';
import { runPlan } from './plan-task.js';
import { runReduce } from './reduce-task.js';
import { type Counters, PROGRESS_SLOTS } from './task-protocol.js';

/** A job as the coordinator takes it, run in this process: no speculation, no task timeouts. */
export interface LocalRunOptions extends Omit<JobSubmission, 'job' | 'speculative' | 'taskTimeoutMs'> {
  /** A shipped job's name, a module path, or a loaded module (a pipeline stage of this package). */
  job: string | JobModule;
}

export interface LocalRunReport {
  maps: number;
  /** Sums over every task, like a job's counters on the coordinator. */
  counters: Counters;
  /** Each reduce task's own counters, by partition (how evenly the keys were spread). */
  reduceCounters: Counters[];
  boundaries: string[] | null;
  hotKeys: Record<string, number>;
}

const SAMPLE_SPLITS_MAX = 10;

function add(totals: Counters, counters: Counters): void {
  for (const [name, value] of Object.entries(counters)) totals[name] = (totals[name] ?? 0) + value;
}

export async function runLocal(options: LocalRunOptions): Promise<LocalRunReport> {
  const output = resolve(options.output);
  if (await exists(output))
    throw new DdiaError(BatchErrors.outputExists, `output ${output} already exists; choose a new directory`);
  const reduces = options.reduces ?? 1;
  const onMalformed = options.onMalformed ?? 'fail';
  const module = typeof options.job === 'string' ? resolveJobModule(options.job) : '(in-process module)';
  const job = typeof options.job === 'string' ? await loadJobModule(module) : options.job;
  const files = await listInputFiles(options.inputs);
  const splits = planSplits(files, options.splitBytes ?? chooseSplitBytes(files));
  const unplanned = { module, jobId: 'local', reduces, params: options.params ?? {}, hotKeys: {} };
  const { boundaries, hotKeys } = await runPlan(
    {
      ...unplanned,
      kind: 'plan',
      taskIndex: 0,
      samples: evenlySpaced(splits, SAMPLE_SPLITS_MAX),
      onMalformed,
    },
    job,
  );
  const base = { ...unplanned, hotKeys };
  const work = await mkdtemp(join(tmpdir(), 'ddia-batch-local-'));
  const counters: Counters = { mapTasks: splits.length, reduceTasks: reduces };
  const reduceCounters: Counters[] = [];
  try {
    for (const split of splits) {
      const progress = new Float64Array(PROGRESS_SLOTS);
      const mapCounters = await runMap(
        {
          ...base,
          kind: 'map',
          taskIndex: split.index,
          split,
          spillBytes: options.spillBytes ?? 32 * 1024 * 1024,
          outputDir: join(work, `m${split.index}`),
          boundaries,
          onMalformed,
        },
        job,
        progress,
      );
      add(counters, mapCounters);
    }
    for (let r = 0; r < reduces; r++) {
      const progress = new Float64Array(PROGRESS_SLOTS);
      const reduceResult = await runReduce(
        {
          ...base,
          kind: 'reduce',
          taskIndex: r,
          runFiles: splits.map((s) => join(work, `m${s.index}`, `p${r}.run`)),
          outputDir: output,
          attemptId: `local-${r}`,
          outputFormat: options.outputFormat ?? 'text',
        },
        job,
        progress,
        new Uint8Array(256),
      );
      reduceCounters.push(reduceResult);
      add(counters, reduceResult);
    }
    await removeAll(join(output, '_temporary'));
    await writeBytes(join(output, '_SUCCESS'), '');
  } finally {
    await removeAll(work);
  }
  return { maps: splits.length, counters, reduceCounters, boundaries, hotKeys };
}
