// The entry of a task thread (worker_threads): load the job module, run one task, post the
// result. Errors from job code come back as messages naming what failed; the runner adds the
// task and the record's file and line.
import { parentPort, workerData } from 'node:worker_threads';
import { loadJobModule } from './job-loader.js';
import { RecordError, runMap } from './map-task.js';
import { runPlan } from './plan-task.js';
import { runReduce } from './reduce-task.js';
import type { TaskRequest, TaskResult } from './task-protocol.js';

interface ThreadData {
  request: TaskRequest;
  progress: SharedArrayBuffer;
  currentKey: SharedArrayBuffer;
}

const data = workerData as ThreadData;
const progress = new Float64Array(data.progress);
const currentKey = new Uint8Array(data.currentKey);

async function run(): Promise<TaskResult> {
  const { request } = data;
  const job = await loadJobModule(request.module);
  switch (request.kind) {
    case 'map':
      return { ok: true, counters: await runMap(request, job, progress) };
    case 'reduce':
      return { ok: true, counters: await runReduce(request, job, progress, currentKey) };
    case 'plan':
      return { ok: true, counters: {}, ...(await runPlan(request, job)) };
  }
}

run().then(
  (result) => parentPort!.postMessage(result),
  (err: unknown) => {
    const message = (err as Error)?.message ?? String(err);
    const lineIndex = err instanceof RecordError ? err.lineIndex : null;
    parentPort!.postMessage({ ok: false, message, lineIndex });
  },
);
