// Runs one task in a thread and watches it: the result, or a clear failure naming the task's
// file and line (map) or key (reduce) when job code throws, crashes the thread, or runs past
// the task's deadline (then the thread is terminated, so a reducer that never returns cannot
// hold a worker's slot forever).
import { Worker } from 'node:worker_threads';
import { lineNumberAt } from './disk.js';
import {
  type Counters,
  PROGRESS_KEY_BYTES,
  PROGRESS_KEY_BYTES_MAX,
  PROGRESS_LINE_INDEX,
  PROGRESS_RECORDS,
  PROGRESS_SLOTS,
  PROGRESS_SPLIT_FROM,
  type TaskRequest,
  type TaskResult,
} from './task-protocol.js';

export type TaskOutcome =
  | { ok: true; counters: Counters; boundaries: string[] | null; hotKeys: Record<string, number> }
  | { ok: false; message: string };

const THREAD_FILE = new URL('./task-thread.js', import.meta.url);

/** Where the task was when it failed: "input.txt line 17" or "key 'foo'". */
async function whereAbouts(
  request: TaskRequest,
  progress: Float64Array,
  currentKey: Uint8Array,
  lineIndex: number | null,
): Promise<string> {
  if (request.kind === 'map') {
    const index = lineIndex ?? progress[PROGRESS_LINE_INDEX]!;
    if (progress[PROGRESS_RECORDS] === 0 && lineIndex === null)
      return `${request.split.path} (before the first record)`;
    if (request.split.format === 'parquet') return `${request.split.path} row ${request.split.start + index}`;
    const base = await lineNumberAt(request.split.path, progress[PROGRESS_SPLIT_FROM]!).catch(
      () => Number.NaN,
    );
    return `${request.split.path} line ${base + index}`;
  }
  if (request.kind === 'reduce') {
    const bytes = Math.min(progress[PROGRESS_KEY_BYTES]!, PROGRESS_KEY_BYTES_MAX);
    if (progress[PROGRESS_RECORDS] === 0) return 'before the first key';
    return `key '${new TextDecoder().decode(currentKey.slice(0, bytes))}'`;
  }
  return 'planning';
}

export async function runTask(request: TaskRequest, timeoutMs: number): Promise<TaskOutcome> {
  const progressBuffer = new SharedArrayBuffer(PROGRESS_SLOTS * Float64Array.BYTES_PER_ELEMENT);
  const keyBuffer = new SharedArrayBuffer(PROGRESS_KEY_BYTES_MAX);
  const progress = new Float64Array(progressBuffer);
  const currentKey = new Uint8Array(keyBuffer);
  const thread = new Worker(THREAD_FILE, {
    workerData: { request, progress: progressBuffer, currentKey: keyBuffer },
    stdout: false,
    stderr: false,
  });
  const label = `${request.kind} task ${request.taskIndex}`;
  const raw = await new Promise<
    | { kind: 'result'; result: TaskResult & { lineIndex?: number | null } }
    | { kind: 'timeout' }
    | { kind: 'crash'; error: string }
  >((resolve) => {
    const timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
    thread.once('message', (result) => {
      clearTimeout(timer);
      resolve({ kind: 'result', result });
    });
    thread.once('error', (err) => {
      clearTimeout(timer);
      resolve({ kind: 'crash', error: err.message });
    });
    thread.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ kind: 'crash', error: `the task thread exited with code ${code}` });
    });
  });
  if (raw.kind === 'timeout') {
    const where = await whereAbouts(request, progress, currentKey, null);
    await thread.terminate();
    return { ok: false, message: `${label} did not finish within ${timeoutMs} ms; it was at ${where}` };
  }
  await thread.terminate();
  if (raw.kind === 'crash') {
    const where = await whereAbouts(request, progress, currentKey, null);
    return { ok: false, message: `${label} crashed at ${where}: ${raw.error}` };
  }
  const { result } = raw;
  if (result.ok)
    return {
      ok: true,
      counters: result.counters,
      boundaries: result.boundaries ?? null,
      hotKeys: result.hotKeys ?? {},
    };
  const where = await whereAbouts(request, progress, currentKey, result.lineIndex ?? null);
  return { ok: false, message: `${label} failed at ${where}: ${result.message}` };
}
