// Runs tasks in threads and watches them: the result, or a clear failure naming the task's
// file and line (map) or key (reduce) when job code throws, crashes the thread, or runs past
// the task's deadline (then the thread is terminated, so a reducer that never returns cannot
// hold a worker's slot forever). A worker keeps a pool of warm threads (TaskThreadPool): a
// thread that finished a task cleanly takes the next task of the same job, with the job's
// module loaded and its code already optimised, instead of every task paying a thread's start
// and a cold JIT (Hadoop's JVM reuse, Spark's executors). A thread serves one job only: a task
// of another job gets a fresh thread, so a job module's top-level state never leaks between
// jobs; a thread whose task failed, crashed or timed out is thrown away.
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

type Raw =
  | { kind: 'result'; result: TaskResult & { lineIndex?: number | null } }
  | { kind: 'timeout' }
  | { kind: 'crash'; error: string };

/** One long-lived task thread, running one task at a time. */
class TaskThread {
  readonly progress = new Float64Array(
    new SharedArrayBuffer(PROGRESS_SLOTS * Float64Array.BYTES_PER_ELEMENT),
  );
  readonly currentKey = new Uint8Array(new SharedArrayBuffer(PROGRESS_KEY_BYTES_MAX));
  private readonly thread: Worker;
  /** The job whose tasks this thread runs; null until its first task. */
  jobId: string | null = null;
  dead = false;

  constructor(onDeath: (t: TaskThread) => void) {
    this.thread = new Worker(THREAD_FILE, {
      workerData: { progress: this.progress.buffer, currentKey: this.currentKey.buffer },
      stdout: false,
      stderr: false,
    });
    // An idle thread can still die (job code's stray timer throwing after its task ended).
    this.thread.on('error', () => {});
    this.thread.once('exit', () => {
      this.dead = true;
      onDeath(this);
    });
    this.thread.unref();
  }

  async run(request: TaskRequest, timeoutMs: number): Promise<Raw> {
    this.jobId = request.jobId;
    this.progress.fill(0);
    this.currentKey.fill(0);
    this.thread.ref();
    try {
      return await new Promise<Raw>((resolve) => {
        if (this.dead) {
          resolve({ kind: 'crash', error: 'the task thread had exited' });
          return;
        }
        const done = (raw: Raw) => {
          clearTimeout(timer);
          this.thread.off('message', onMessage);
          this.thread.off('error', onError);
          this.thread.off('exit', onExit);
          resolve(raw);
        };
        const onMessage = (result: TaskResult) => done({ kind: 'result', result });
        const onError = (err: Error) => done({ kind: 'crash', error: err.message });
        const onExit = (code: number) =>
          done({ kind: 'crash', error: `the task thread exited with code ${code}` });
        const timer = setTimeout(() => done({ kind: 'timeout' }), timeoutMs);
        this.thread.on('message', onMessage);
        this.thread.on('error', onError);
        this.thread.on('exit', onExit);
        this.thread.postMessage(request);
      });
    } finally {
      this.thread.unref();
    }
  }

  async terminate(): Promise<void> {
    this.dead = true;
    await this.thread.terminate();
  }
}

/** Turns what a thread answered into the task's outcome, naming where it failed. */
async function outcomeOf(
  request: TaskRequest,
  raw: Raw,
  thread: TaskThread,
  timeoutMs: number,
): Promise<TaskOutcome> {
  const label = `${request.kind} task ${request.taskIndex}`;
  if (raw.kind === 'timeout') {
    const where = await whereAbouts(request, thread.progress, thread.currentKey, null);
    return { ok: false, message: `${label} did not finish within ${timeoutMs} ms; it was at ${where}` };
  }
  if (raw.kind === 'crash') {
    const where = await whereAbouts(request, thread.progress, thread.currentKey, null);
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
  const where = await whereAbouts(request, thread.progress, thread.currentKey, result.lineIndex ?? null);
  return { ok: false, message: `${label} failed at ${where}: ${result.message}` };
}

/** Runs one task in a fresh thread that ends with it (planning on the coordinator). */
export async function runTask(request: TaskRequest, timeoutMs: number): Promise<TaskOutcome> {
  const thread = new TaskThread(() => {});
  const raw = await thread.run(request, timeoutMs);
  const outcome = await outcomeOf(request, raw, thread, timeoutMs);
  await thread.terminate();
  return outcome;
}

/**
 * A worker's task threads: up to `warm` idle threads are kept and reused for later tasks of the
 * job they ran (threads start with a worker's first task, not with the process: a cluster's
 * processes starting together on a busy machine need the CPU more than a first task does). Concurrency is the caller's business (the
 * worker runs at most `slots` tasks at once and makes a pool of `slots`).
 */
export class TaskThreadPool {
  private idle: TaskThread[] = [];
  private closed = false;
  /** Threads started so far (tests: reuse means fewer threads than tasks). */
  threadsStarted = 0;

  constructor(private readonly warm: number) {}

  async run(request: TaskRequest, timeoutMs: number): Promise<TaskOutcome> {
    const thread = this.take(request.jobId);
    const raw = await thread.run(request, timeoutMs);
    const outcome = await outcomeOf(request, raw, thread, timeoutMs);
    if (outcome.ok && !thread.dead && !this.closed) {
      this.idle.push(thread);
      while (this.idle.length > this.warm) void this.idle.shift()!.terminate();
    } else {
      await thread.terminate();
      if (!this.closed && this.idle.length < this.warm) this.idle.push(this.spawn());
    }
    return outcome;
  }

  async close(): Promise<void> {
    this.closed = true;
    const idle = this.idle;
    this.idle = [];
    await Promise.all(idle.map((t) => t.terminate()));
  }

  private take(jobId: string): TaskThread {
    let at = this.idle.findIndex((t) => t.jobId === jobId);
    if (at < 0) at = this.idle.findIndex((t) => t.jobId === null);
    if (at >= 0) return this.idle.splice(at, 1)[0]!;
    // Only threads bound to other jobs are idle: retire one to keep the pool's size.
    if (this.idle.length >= this.warm && this.idle.length > 0) void this.idle.shift()!.terminate();
    return this.spawn();
  }

  private spawn(): TaskThread {
    this.threadsStarted++;
    return new TaskThread((dead) => {
      this.idle = this.idle.filter((t) => t !== dead);
    });
  }
}
