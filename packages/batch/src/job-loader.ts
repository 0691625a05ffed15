// Loading a job module: by the name of a shipped job ("wordcount") or by the path of the
// user's own ES module. Validation names what is missing instead of failing on first use.
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { listFiles } from './disk.js';
import { readSplit } from './input.js';
import type { Aggregator, JobModule, TaskContext } from './job.js';
import type { TaskBase } from './task-protocol.js';

export const SHIPPED_JOBS = [
  'wordcount',
  'indexer',
  'grep',
  'sort',
  'join-sort-merge',
  'join-broadcast',
  'join-partitioned',
  'aggregate',
  'sessionize',
] as const;

/** The file of a job: a shipped job's name, or a path to an ES module. */
export function resolveJobModule(job: string): string {
  if ((SHIPPED_JOBS as readonly string[]).includes(job)) {
    return new URL(`./jobs/${job}.js`, import.meta.url).pathname;
  }
  return isAbsolute(job) ? job : resolve(job);
}

export class JobModuleError extends Error {
  override name = 'JobModuleError';
}

export async function loadJobModule(path: string): Promise<JobModule> {
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    throw new JobModuleError(`cannot load job module ${path}: ${(err as Error).message}`);
  }
  for (const name of ['map', 'reduce'] as const) {
    if (typeof loaded[name] !== 'function') {
      throw new JobModuleError(`job module ${path} does not export a function '${name}'`);
    }
  }
  for (const name of ['combine', 'setup'] as const) {
    if (loaded[name] !== undefined && typeof loaded[name] !== 'function') {
      throw new JobModuleError(`job module ${path}: '${name}' must be a function`);
    }
  }
  if (loaded.hotKeys !== undefined && loaded.hotKeys !== 'sample') {
    throw new JobModuleError(`job module ${path}: 'hotKeys' must be 'sample'`);
  }
  if ((loaded.outputColumns === undefined) !== (loaded.outputRow === undefined)) {
    throw new JobModuleError(`job module ${path}: export both 'outputColumns' and 'outputRow', or neither`);
  }
  if (loaded.outputColumns !== undefined && !Array.isArray(loaded.outputColumns)) {
    throw new JobModuleError(`job module ${path}: 'outputColumns' must be an array of {name, type}`);
  }
  const aggregator = loaded.aggregator as Record<string, unknown> | undefined;
  if (
    aggregator !== undefined &&
    (typeof aggregator !== 'object' ||
      aggregator === null ||
      !['create', 'add', 'result'].every((f) => typeof aggregator[f] === 'function'))
  ) {
    throw new JobModuleError(
      `job module ${path}: 'aggregator' must be an object with functions create, add, result`,
    );
  }
  const partition = loaded.partition;
  if (partition !== undefined && partition !== 'range' && typeof partition !== 'function') {
    throw new JobModuleError(`job module ${path}: 'partition' must be a function or 'range'`);
  }
  const job = loaded as unknown as JobModule;
  if (job.aggregator && !job.combine) return { ...job, combine: combineWith(job.aggregator) };
  return job;
}

/** The batch combiner an aggregator implies: fold every value, in order. */
export function combineWith(aggregator: Aggregator): NonNullable<JobModule['combine']> {
  return (_key, values) => {
    let acc = aggregator.create(values[0]!);
    for (let i = 1; i < values.length; i++) acc = aggregator.add(acc, values[i]!);
    return aggregator.result(acc);
  };
}

export function taskContext(
  request: TaskBase & { kind: 'map' | 'reduce' | 'plan' },
  input: string,
  file: string,
): TaskContext {
  return {
    jobId: request.jobId,
    kind: request.kind === 'reduce' ? 'reduce' : 'map',
    taskIndex: request.taskIndex,
    reduces: request.reduces,
    params: Object.freeze({ ...request.params }),
    hotKeys: Object.freeze({ ...request.hotKeys }),
    input,
    file,
    async readSideInput(path, format) {
      const out: unknown[] = [];
      for (const f of await listFiles(path)) {
        const end = format === 'parquet' ? Number.MAX_SAFE_INTEGER : f.bytes;
        const split = { index: 0, path: f.path, input: 'side', format, start: 0, end };
        for (const record of (await readSplit(split, 'fail')).records) out.push(record);
      }
      return out;
    },
  };
}
