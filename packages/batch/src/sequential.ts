// The sequential run of a job (6.5840's mrsequential): one process, no shuffle, no files
// between phases. The tests compare the engine's output with it, and the benchmark uses it
// as the single-process Node baseline.
import { basename } from 'node:path';
import { type InputFormat, planSplits } from './core/splits.js';
import { jobColumns, type OnMalformed, readSplit } from './input.js';
import { listInputFiles } from './inputs.js';
import type { Emit, TaskContext } from './job.js';
import { loadJobModule, resolveJobModule, taskContext } from './job-loader.js';

export interface SequentialInput {
  path: string;
  format: InputFormat;
  name?: string;
}

/** Runs `job` over the inputs; returns the output lines (`key\tvalue`), in key order. */
export async function runSequential(
  job: string,
  inputs: SequentialInput[],
  params: Record<string, string> = {},
  onMalformed: OnMalformed = 'fail',
): Promise<string[]> {
  const module = await loadJobModule(resolveJobModule(job));
  const groups = new Map<string, string[]>();
  const emit: Emit = (key, emitted) => {
    const value = String(emitted);
    const values = groups.get(key);
    if (values) values.push(value);
    else groups.set(key, [value]);
  };
  const base = { module: '', jobId: 'sequential', taskIndex: 0, reduces: 1, params, hotKeys: {} };
  for (const input of inputs) {
    const name = input.name ?? basename(input.path);
    const files = await listInputFiles([{ path: input.path, format: input.format, name }]);
    for (const split of planSplits(files, Number.MAX_SAFE_INTEGER)) {
      const ctx: TaskContext = taskContext({ ...base, kind: 'map' }, split.input, split.path);
      if (module.setup) await module.setup(ctx);
      for (const record of (await readSplit(split, onMalformed, jobColumns(module, ctx))).records)
        await module.map(record, emit, ctx);
    }
  }
  const ctx = taskContext({ ...base, kind: 'reduce' }, '', '');
  if (module.setup) await module.setup(ctx);
  const lines: string[] = [];
  const out: Emit = (key, value) => lines.push(`${key}\t${value}`);
  for (const key of [...groups.keys()].sort()) {
    const values = groups.get(key)!.sort();
    const result = await module.reduce(key, values, out, ctx);
    if (result !== undefined && result !== null) out(key, String(result));
  }
  return lines;
}
