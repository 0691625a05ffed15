// The coordinator's task state machine (MapReduce paper §3.1-3.3, DDIA ch. 10 "MapReduce
// workflows"). Pure: no clock, no network, no disk. The shell calls it with the time in
// milliseconds on every message and on every tick, and acts on the assignments and events it
// returns. Every map and reduce task is idle, in progress or completed; a worker holds a lease
// that each heartbeat renews; a worker whose lease runs out is dead, and its tasks go back to
// idle: the ones it was running, and also the map tasks it had completed, because their output
// lives on its local disk (paper §3.3, "Worker Failure"). A straggler gets a backup attempt
// (§3.6); the first attempt to finish wins and the others are ignored.
import { assert } from '@ddia/common/core';

export type TaskKind = 'map' | 'reduce';
export type TaskState = 'idle' | 'in-progress' | 'completed';
export type AttemptStatus = 'running' | 'completed' | 'failed' | 'lost' | 'superseded';
export type JobStatus = 'running' | 'committing' | 'succeeded' | 'failed';

export interface SchedulerOptions {
  /** A worker that has not been heard from for this long is dead. */
  leaseMs: number;
  /** A running task becomes a backup candidate after max(this, factor × median task time). */
  backupAfterMsMin: number;
  backupFactor: number;
  /** A task that failed this many times for reasons other than its job's code fails the job. */
  taskFailuresMax: number;
  /** Worker ids are `<prefix><n>`: a restarted coordinator picks a new prefix so that a worker
   *  of its previous life is never mistaken for a new one with the same number. */
  workerIdPrefix: string;
}

export const SCHEDULER_DEFAULTS: SchedulerOptions = {
  leaseMs: 3_000,
  backupAfterMsMin: 2_000,
  backupFactor: 2,
  taskFailuresMax: 4,
  workerIdPrefix: 'w',
};

export interface Attempt {
  id: string;
  workerId: string;
  startedMs: number;
  endedMs: number | null;
  status: AttemptStatus;
  /** A speculative copy of a task that already had a running attempt. */
  backup: boolean;
  error: string | null;
}

export interface Task {
  kind: TaskKind;
  index: number;
  state: TaskState;
  attempts: Attempt[];
  /** The attempt whose output counts (completed tasks only). */
  winner: string | null;
}

export interface JobOptions {
  /** Give stragglers backup attempts (default true). */
  speculative: boolean;
  /** Canary for the simulation: hand out reduces before every map is done. Never in production. */
  brokenEarlyReduces?: boolean;
}

export interface Job {
  id: string;
  status: JobStatus;
  error: string | null;
  maps: Task[];
  reduces: Task[];
  options: JobOptions;
  submittedMs: number;
  finishedMs: number | null;
}

export interface Worker {
  id: string;
  url: string;
  slots: number;
  leaseExpiresMs: number;
  dead: boolean;
  running: Set<string>;
}

/** Where a reduce fetches map task `index`'s output: from the worker that ran the winning attempt. */
export interface MapOutputLocation {
  index: number;
  attemptId: string;
  workerUrl: string;
}

export interface Assignment {
  jobId: string;
  kind: TaskKind;
  index: number;
  attemptId: string;
  backup: boolean;
  /** Reduce tasks only: every map task's output, one location each. */
  mapOutputs: MapOutputLocation[];
}

export type SchedulerEvent =
  | { type: 'worker-dead'; workerId: string; lostAttempts: string[]; resetMaps: number }
  | { type: 'job-committing'; jobId: string }
  | { type: 'job-failed'; jobId: string; error: string };

export interface FailureReport {
  /** The job's own code failed (or hung): the job fails, since running it again fails again. */
  fatal: boolean;
  message: string;
  /** Reduce attempts: map outputs that could not be fetched (their worker is gone). */
  lostMaps?: { index: number; attemptId: string }[];
}

/** The answer to a message from a worker the scheduler no longer knows (declared dead). */
export class UnknownWorkerError extends Error {
  override name = 'UnknownWorkerError';
}

export class Scheduler {
  private readonly options: SchedulerOptions;
  private readonly jobs = new Map<string, Job>();
  private readonly workers = new Map<string, Worker>();
  /** attempt id -> its job and task, for reports. */
  private readonly attempts = new Map<string, { job: Job; task: Task; attempt: Attempt }>();
  private events: SchedulerEvent[] = [];
  private nextWorker = 1;
  private nextAttempt = 1;

  constructor(options: Partial<SchedulerOptions> = {}) {
    this.options = { ...SCHEDULER_DEFAULTS, ...options };
  }

  addJob(id: string, mapCount: number, reduceCount: number, options: JobOptions, nowMs: number): Job {
    assert(!this.jobs.has(id), `job ${id} exists`);
    assert(mapCount >= 0 && reduceCount >= 1, 'a job has at least one reduce task');
    const tasks = (kind: TaskKind, count: number): Task[] =>
      Array.from({ length: count }, (_, index) => ({
        kind,
        index,
        state: 'idle' as TaskState,
        attempts: [],
        winner: null,
      }));
    const job: Job = {
      id,
      status: 'running',
      error: null,
      maps: tasks('map', mapCount),
      reduces: tasks('reduce', reduceCount),
      options,
      submittedMs: nowMs,
      finishedMs: null,
    };
    this.jobs.set(id, job);
    return job;
  }

  job(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  listJobs(): Job[] {
    return [...this.jobs.values()];
  }

  liveWorkers(): Worker[] {
    return [...this.workers.values()].filter((w) => !w.dead);
  }

  register(url: string, slots: number, nowMs: number): Worker {
    assert(slots >= 1, 'a worker has at least one slot');
    const worker: Worker = {
      id: `${this.options.workerIdPrefix}${this.nextWorker++}`,
      url,
      slots,
      leaseExpiresMs: nowMs + this.options.leaseMs,
      dead: false,
      running: new Set(),
    };
    this.workers.set(worker.id, worker);
    return worker;
  }

  heartbeat(workerId: string, nowMs: number): Worker {
    const worker = this.liveWorker(workerId);
    worker.leaseExpiresMs = nowMs + this.options.leaseMs;
    return worker;
  }

  /** The next task for a worker with a free slot, or null: idle work first, then a backup. */
  assign(workerId: string, nowMs: number): Assignment | null {
    const worker = this.heartbeat(workerId, nowMs);
    if (worker.running.size >= worker.slots) return null;
    for (const job of this.jobs.values()) {
      if (job.status !== 'running') continue;
      const task = this.runnable(job).find((t) => t.state === 'idle');
      if (task) return this.start(job, task, worker, nowMs, false);
    }
    for (const job of this.jobs.values()) {
      if (job.status !== 'running' || !job.options.speculative) continue;
      const straggler = this.straggler(job, worker, nowMs);
      if (straggler) return this.start(job, straggler, worker, nowMs, true);
    }
    return null;
  }

  /** A worker finished an attempt. Only the first attempt of a task to finish counts. */
  complete(workerId: string, attemptId: string, nowMs: number): 'accepted' | 'ignored' {
    const worker = this.heartbeat(workerId, nowMs);
    const found = this.attempts.get(attemptId);
    worker.running.delete(attemptId);
    if (!found || found.attempt.workerId !== workerId || found.attempt.status !== 'running') return 'ignored';
    const { job, task, attempt } = found;
    attempt.endedMs = nowMs;
    if (job.status !== 'running' || task.state === 'completed') {
      attempt.status = 'superseded';
      return 'ignored';
    }
    attempt.status = 'completed';
    task.state = 'completed';
    task.winner = attempt.id;
    // The losers of a backup race keep running on their workers; their reports are ignored.
    for (const other of task.attempts) if (other.status === 'running') other.status = 'superseded';
    if (job.reduces.every((t) => t.state === 'completed')) {
      // Paper §3.3: the job is done only when every reduce has committed its output file.
      job.status = 'committing';
      this.events.push({ type: 'job-committing', jobId: job.id });
    }
    return 'accepted';
  }

  fail(workerId: string, attemptId: string, report: FailureReport, nowMs: number): void {
    const worker = this.heartbeat(workerId, nowMs);
    worker.running.delete(attemptId);
    const found = this.attempts.get(attemptId);
    if (found?.attempt.status !== 'running') return;
    const { job, task, attempt } = found;
    // A reduce that could not fetch its input failed through no fault of its own: it does not
    // count towards the task's failure limit.
    attempt.status = report.lostMaps && report.lostMaps.length > 0 ? 'lost' : 'failed';
    attempt.endedMs = nowMs;
    attempt.error = report.message;
    if (job.status !== 'running') return;
    if (report.fatal) {
      this.failJob(
        job,
        `${task.kind} task ${task.index} (attempt ${attempt.id} on ${workerId}): ${report.message}`,
        nowMs,
      );
      return;
    }
    const failures = task.attempts.filter((a) => a.status === 'failed').length;
    if (failures >= this.options.taskFailuresMax) {
      this.failJob(
        job,
        `${task.kind} task ${task.index} failed ${failures} times, last: ${report.message}`,
        nowMs,
      );
      return;
    }
    for (const lost of report.lostMaps ?? []) {
      const map = job.maps[lost.index];
      // Only the output the reduce was told about is lost; a newer attempt's output is fine.
      if (map && map.state === 'completed' && map.winner === lost.attemptId) this.resetMap(job, map);
    }
    if (task.state === 'in-progress' && !task.attempts.some((a) => a.status === 'running'))
      task.state = 'idle';
  }

  /** The shell wrote `_SUCCESS` and the job record: the job is finished. */
  committed(jobId: string, nowMs: number): void {
    const job = this.jobs.get(jobId);
    assert(job && job.status === 'committing', `job ${jobId} is not committing`);
    job.status = 'succeeded';
    job.finishedMs = nowMs;
  }

  /** The commit step itself failed (e.g. the output directory vanished). */
  commitFailed(jobId: string, message: string, nowMs: number): void {
    const job = this.jobs.get(jobId);
    assert(job && job.status === 'committing', `job ${jobId} is not committing`);
    this.failJob(job, `commit: ${message}`, nowMs);
  }

  /** Cancels a job from outside (bad input found by the shell, a user's request). */
  abort(jobId: string, message: string, nowMs: number): void {
    const job = this.jobs.get(jobId);
    if (job && (job.status === 'running' || job.status === 'committing')) this.failJob(job, message, nowMs);
  }

  /** Advances time: expires leases. Returns what happened since the last call. */
  tick(nowMs: number): SchedulerEvent[] {
    for (const worker of this.workers.values()) {
      if (!worker.dead && worker.leaseExpiresMs <= nowMs) this.declareDead(worker, nowMs);
    }
    const events = this.events;
    this.events = [];
    return events;
  }

  private liveWorker(workerId: string): Worker {
    const worker = this.workers.get(workerId);
    if (!worker || worker.dead)
      throw new UnknownWorkerError(`worker ${workerId} is unknown or was declared dead`);
    return worker;
  }

  /** The tasks a job can run now: its maps, then (once every map is done) its reduces. */
  private runnable(job: Job): Task[] {
    const mapsDone = job.maps.every((t) => t.state === 'completed');
    if (mapsDone || job.options.brokenEarlyReduces) return [...job.maps, ...job.reduces];
    return job.maps;
  }

  private straggler(job: Job, worker: Worker, nowMs: number): Task | undefined {
    for (const task of this.runnable(job)) {
      if (task.state !== 'in-progress') continue;
      const running = task.attempts.filter((a) => a.status === 'running');
      if (running.length !== 1 || running[0]!.workerId === worker.id) continue;
      const threshold = Math.max(
        this.options.backupAfterMsMin,
        this.options.backupFactor * medianDurationMs(task.kind === 'map' ? job.maps : job.reduces),
      );
      if (nowMs - running[0]!.startedMs >= threshold) return task;
    }
    return undefined;
  }

  private start(job: Job, task: Task, worker: Worker, nowMs: number, backup: boolean): Assignment {
    const attempt: Attempt = {
      id: `a${this.nextAttempt++}`,
      workerId: worker.id,
      startedMs: nowMs,
      endedMs: null,
      status: 'running',
      backup,
      error: null,
    };
    task.attempts.push(attempt);
    task.state = 'in-progress';
    worker.running.add(attempt.id);
    this.attempts.set(attempt.id, { job, task, attempt });
    const mapOutputs: MapOutputLocation[] = [];
    if (task.kind === 'reduce') {
      for (const map of job.maps) {
        if (map.state !== 'completed') continue; // only with the canary
        const winner = this.attempts.get(map.winner!)!;
        mapOutputs.push({
          index: map.index,
          attemptId: map.winner!,
          workerUrl: this.workers.get(winner.attempt.workerId)!.url,
        });
      }
    }
    return { jobId: job.id, kind: task.kind, index: task.index, attemptId: attempt.id, backup, mapOutputs };
  }

  private declareDead(worker: Worker, nowMs: number): void {
    worker.dead = true;
    const lostAttempts: string[] = [];
    for (const attemptId of worker.running) {
      const found = this.attempts.get(attemptId);
      if (found?.attempt.status !== 'running') continue;
      found.attempt.status = 'lost';
      found.attempt.endedMs = nowMs;
      found.attempt.error = `worker ${worker.id} died`;
      lostAttempts.push(attemptId);
      const { task } = found;
      if (task.state === 'in-progress' && !task.attempts.some((a) => a.status === 'running'))
        task.state = 'idle';
    }
    worker.running.clear();
    let resetMaps = 0;
    for (const job of this.jobs.values()) {
      if (job.status !== 'running') continue;
      // Completed map output lives on the dead worker's disk: run those maps again, unless no
      // reduce will ever need them (every reduce has committed).
      if (job.reduces.every((t) => t.state === 'completed')) continue;
      for (const map of job.maps) {
        if (map.state !== 'completed') continue;
        if (this.attempts.get(map.winner!)!.attempt.workerId !== worker.id) continue;
        this.resetMap(job, map);
        resetMaps++;
      }
    }
    this.events.push({ type: 'worker-dead', workerId: worker.id, lostAttempts, resetMaps });
  }

  private resetMap(_job: Job, map: Task): void {
    const winner = this.attempts.get(map.winner!)!.attempt;
    winner.status = 'lost';
    winner.error = 'map output lost with its worker';
    map.winner = null;
    map.state = map.attempts.some((a) => a.status === 'running') ? 'in-progress' : 'idle';
  }

  private failJob(job: Job, message: string, nowMs: number): void {
    job.status = 'failed';
    job.error = message;
    job.finishedMs = nowMs;
    for (const task of [...job.maps, ...job.reduces]) {
      for (const attempt of task.attempts) if (attempt.status === 'running') attempt.status = 'superseded';
    }
    this.events.push({ type: 'job-failed', jobId: job.id, error: message });
  }
}

/** The median time of a task list's completed winners, 0 when none has finished. */
export function medianDurationMs(tasks: readonly Task[]): number {
  const durations: number[] = [];
  for (const task of tasks) {
    const winner = task.attempts.find((a) => a.id === task.winner);
    if (winner?.endedMs != null) durations.push(winner.endedMs - winner.startedMs);
  }
  if (durations.length === 0) return 0;
  durations.sort((a, b) => a - b);
  return durations[Math.floor(durations.length / 2)]!;
}
