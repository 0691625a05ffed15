// The entry of a task thread (worker_threads): wait for a task, load the job module, run the
// task, post the result; then wait for the next one. The pool (task-runner.ts) sends a thread
// only tasks of one job, one at a time, so a job module is loaded once per thread and its code
// stays warm (optimised by V8) across that job's tasks, as Hadoop's JVM reuse and Spark's
// long-lived executors do. Errors from job code come back as messages naming what failed; the
// runner adds the task and the record's file and line.
import { parentPort, workerData } from 'node:worker_threads';
import { loadJobModule } from './job-loader.js';
import { RecordError, runMap } from './map-task.js';
import { runPlan } from './plan-task.js';
import { runReduce } from './reduce-task.js';
import type { TaskRequest, TaskResult } from './task-protocol.js';

interface ThreadData {
  progress: SharedArrayBuffer;
  currentKey: SharedArrayBuffer;
}

const data = workerData as ThreadData;
const progress = new Float64Array(data.progress);
const currentKey = new Uint8Array(data.currentKey);

async function run(request: TaskRequest): Promise<TaskResult> {
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

parentPort!.on('message', (request: TaskRequest) => {
  run(request).then(
    (result) => parentPort!.postMessage(result),
    (err: unknown) => {
      const message = (err as Error)?.message ?? String(err);
      const lineIndex = err instanceof RecordError ? err.lineIndex : null;
      parentPort!.postMessage({ ok: false, message, lineIndex });
    },
  );
});
