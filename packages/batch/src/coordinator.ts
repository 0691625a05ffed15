// The coordinator's shell around the pure scheduler: plans jobs (lists inputs, cuts splits,
// loads the job module in a thread to validate it and sample a range partitioner), answers
// workers, ticks the scheduler on a timer, commits finished jobs (`_SUCCESS` written last) and
// keeps a durable record of every job so that a restarted coordinator still reports them.
// Everything durable goes through common's FileSystem (the `fs` option): the output directory
// made durably at submission, `_SUCCESS` created and its directory fsynced at commit, and a job
// reported `succeeded` only once the record saying so is on disk (FORMAT.md, "Crash safety").
import { join, resolve } from 'node:path';
import {
  type Clock,
  DdiaError,
  type FileSystem,
  mkdirDurable,
  nodeFileSystem,
  removeTree,
  SystemClock,
  writeFileAtomic,
} from '@ddia/common';
import {
  type Assignment,
  type FailureReport,
  type Job,
  Scheduler,
  type SchedulerOptions,
  UnknownWorkerError,
} from './core/scheduler.js';
import { chooseSplitBytes, INPUT_FORMATS, type InputFormat, planSplits, type Split } from './core/splits.js';
import { BATCH_SYNC, createMarker, existsOn, listNamesOn } from './disk.js';
import { BatchErrors } from './errors.js';
import type { OnMalformed } from './input.js';
import { evenlySpaced, type InputSpec, listInputFiles } from './inputs.js';
import { resolveJobModule } from './job-loader.js';
import type { Plan } from './plan-task.js';
import type { Counters, OutputFormat, PlanRequest } from './task-protocol.js';
import { runTask } from './task-runner.js';

export const SPILL_BYTES_DEFAULT = 32 * 1024 * 1024;
export const TASK_TIMEOUT_DEFAULT_MS = 10 * 60_000;
export const PLAN_TIMEOUT_MS = 60_000;
export const REDUCES_DEFAULT = 4;
export const REDUCES_MAX = 1_000;
/** Splits sampled for a range partitioner. */
const SAMPLE_SPLITS_MAX = 10;
const JOBS_DIR = 'jobs';

export interface JobSubmission {
  /** A shipped job's name or the path of an ES module. */
  job: string;
  inputs: InputSpec[];
  output: string;
  reduces?: number;
  params?: Record<string, string>;
  splitBytes?: number;
  spillBytes?: number;
  speculative?: boolean;
  taskTimeoutMs?: number;
  onMalformed?: OnMalformed;
  /** 'text' (part-NNNNN, key<TAB>value lines, the default) or 'parquet' (part-NNNNN.parquet). */
  outputFormat?: OutputFormat;
}

export type JobRecordStatus = 'running' | 'committing' | 'succeeded' | 'failed';

/** What the coordinator keeps of a job, in memory and (with --data-dir) on disk. */
export interface JobRecord {
  id: string;
  job: string;
  module: string;
  inputs: InputSpec[];
  output: string;
  reduces: number;
  params: Record<string, string>;
  splitBytes: number;
  spillBytes: number;
  speculative: boolean;
  taskTimeoutMs: number;
  onMalformed: OnMalformed;
  outputFormat: OutputFormat;
  splits: Split[];
  boundaries: string[] | null;
  /** Sampled hot keys (key → reducers), for jobs that export hotKeys = 'sample'. */
  hotKeys: Record<string, number>;
  status: JobRecordStatus;
  error: string | null;
  submittedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  counters: Counters;
  /** Per-task timings, kept when the job ends (the scheduler's state is not durable). */
  tasks: TaskView[] | null;
}

export interface AttemptView {
  id: string;
  worker: string;
  status: string;
  backup: boolean;
  startMs: number;
  durationMs: number | null;
  error: string | null;
}

export interface TaskView {
  kind: 'map' | 'reduce';
  index: number;
  state: string;
  /** The counters of the attempt whose output counts (a reduce's input records: its load). */
  counters: Counters | null;
  attempts: AttemptView[];
}

/** What a worker is told to do: the scheduler's assignment plus what the task needs. */
export interface TaskOrder {
  assignment: Assignment;
  module: string;
  reduces: number;
  params: Record<string, string>;
  split: Split | null;
  boundaries: string[] | null;
  hotKeys: Record<string, number>;
  spillBytes: number;
  output: string;
  taskTimeoutMs: number;
  onMalformed: OnMalformed;
  outputFormat: OutputFormat;
}

export interface AttemptReport {
  status: 'completed' | 'failed';
  counters?: Counters;
  message?: string;
  fatal?: boolean;
  lostMaps?: { index: number; attemptId: string }[];
}

export interface CoordinatorOptions {
  dataDir?: string;
  scheduler?: Partial<SchedulerOptions>;
  clock?: Clock;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** The file system of --data-dir and of job outputs (default: the real one). */
  fs?: FileSystem;
  /**
   * Plans a job (default: in a task thread, so that a bad job module cannot take the
   * coordinator down). In-process tests pass runPlan with the loaded module.
   */
  plan?: (request: PlanRequest) => Promise<Plan>;
}

export class Coordinator {
  readonly scheduler: Scheduler;
  private readonly clock: Clock;
  private readonly records = new Map<string, JobRecord>();
  /** Counters reported by each attempt; a job's totals sum its tasks' winners. */
  private readonly attemptCounters = new Map<string, Counters>();
  private nextJob = 1;
  private timer: NodeJS.Timeout | null = null;
  /** Commits (and failure records) being written, by job. */
  private readonly finishing = new Map<string, Promise<void>>();
  private readonly fs: FileSystem;

  constructor(private readonly options: CoordinatorOptions = {}) {
    this.fs = options.fs ?? nodeFileSystem;
    this.clock = options.clock ?? new SystemClock();
    const incarnation = Math.floor(this.clock.wallMs()).toString(36);
    this.scheduler = new Scheduler({ workerIdPrefix: `w${incarnation}-`, ...options.scheduler });
  }

  /** Loads the job records of a previous run. A job that was running then has failed. */
  async open(): Promise<{ recovered: number }> {
    if (!this.options.dataDir) return { recovered: 0 };
    const dir = join(this.options.dataDir, JOBS_DIR);
    await mkdirDurable(this.fs, dir, BATCH_SYNC.jobsDir);
    for (const name of await listNamesOn(this.fs, dir)) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const record = JSON.parse(
        Buffer.from(await this.fs.readFile(join(dir, name))).toString('utf8'),
      ) as JobRecord;
      const seq = Number(record.id.replace(/^job-/, ''));
      if (Number.isInteger(seq)) this.nextJob = Math.max(this.nextJob, seq + 1);
      if (record.status === 'running' || record.status === 'committing') {
        record.status = 'failed';
        record.error = 'the coordinator restarted while the job ran; submit it again';
        record.finishedAt = new Date(this.clock.wallMs()).toISOString();
        await this.persist(record);
      }
      this.records.set(record.id, record);
    }
    return { recovered: this.records.size };
  }

  start(tickMs: number): void {
    this.timer = setInterval(() => this.tickInBackground(), tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async submit(submission: JobSubmission): Promise<JobRecord> {
    const reduces = submission.reduces ?? REDUCES_DEFAULT;
    const output = resolve(submission.output);
    if (await existsOn(this.fs, output)) {
      throw new DdiaError(
        BatchErrors.outputExists,
        `output ${output} already exists; choose a new directory`,
      );
    }
    const files = await listInputFiles(submission.inputs);
    const splitBytes = submission.splitBytes ?? chooseSplitBytes(files);
    const splits = planSplits(files, splitBytes);
    const id = `job-${String(this.nextJob++).padStart(6, '0')}`;
    const module = resolveJobModule(submission.job);
    const params = submission.params ?? {};
    const onMalformed = submission.onMalformed ?? 'fail';
    const samples = evenlySpaced(splits, SAMPLE_SPLITS_MAX);
    const plan = await this.plan({
      kind: 'plan',
      module,
      jobId: id,
      taskIndex: 0,
      reduces,
      params,
      hotKeys: {},
      samples,
      onMalformed,
    });
    const record: JobRecord = {
      id,
      job: submission.job,
      module,
      inputs: submission.inputs.map((i) => ({ ...i, path: resolve(i.path) })),
      output,
      reduces,
      params,
      splitBytes,
      spillBytes: submission.spillBytes ?? SPILL_BYTES_DEFAULT,
      speculative: submission.speculative ?? true,
      taskTimeoutMs: submission.taskTimeoutMs ?? TASK_TIMEOUT_DEFAULT_MS,
      onMalformed,
      outputFormat: submission.outputFormat ?? 'text',
      splits,
      boundaries: plan.boundaries,
      hotKeys: plan.hotKeys,
      status: 'running',
      error: null,
      submittedAt: new Date(this.clock.wallMs()).toISOString(),
      finishedAt: null,
      durationMs: null,
      counters: {},
      tasks: null,
    };
    // The output directory's name is durable before the job can commit into it.
    await mkdirDurable(this.fs, join(output, '_temporary'), BATCH_SYNC.outputDir);
    this.records.set(id, record);
    await this.persist(record);
    this.scheduler.addJob(
      id,
      splits.length,
      reduces,
      { speculative: record.speculative },
      this.clock.nowMs(),
    );
    // A job with no input records at all has no maps; its reduces still write empty parts.
    this.options.log?.info({ job: id, maps: splits.length, reduces }, 'job submitted');
    return record;
  }

  register(url: string, slots: number): { workerId: string } {
    const worker = this.scheduler.register(url, slots, this.clock.nowMs());
    this.options.log?.info({ worker: worker.id, url, slots }, 'worker registered');
    return { workerId: worker.id };
  }

  heartbeat(workerId: string): void {
    this.guard(() => this.scheduler.heartbeat(workerId, this.clock.nowMs()));
  }

  nextTask(workerId: string): TaskOrder | null {
    const assignment = this.guard(() => this.scheduler.assign(workerId, this.clock.nowMs()));
    if (!assignment) return null;
    const record = this.records.get(assignment.jobId)!;
    return {
      assignment,
      module: record.module,
      reduces: record.reduces,
      params: record.params,
      split: assignment.kind === 'map' ? record.splits[assignment.index]! : null,
      boundaries: record.boundaries,
      hotKeys: record.hotKeys ?? {},
      spillBytes: record.spillBytes,
      output: record.output,
      taskTimeoutMs: record.taskTimeoutMs,
      onMalformed: record.onMalformed,
      outputFormat: record.outputFormat ?? 'text',
    };
  }

  report(workerId: string, attemptId: string, report: AttemptReport): void {
    const now = this.clock.nowMs();
    if (report.status === 'completed') {
      const outcome = this.guard(() => this.scheduler.complete(workerId, attemptId, now));
      if (outcome === 'accepted') this.attemptCounters.set(attemptId, report.counters ?? {});
    } else {
      const failure: FailureReport = {
        fatal: report.fatal ?? true,
        message: report.message ?? 'the task failed',
        ...(report.lostMaps ? { lostMaps: report.lostMaps } : {}),
      };
      this.guard(() => this.scheduler.fail(workerId, attemptId, failure, now));
    }
    this.tickInBackground();
  }

  /**
   * A tick nobody awaits: a commit whose writes fail (a full or failing disk) leaves the job
   * `committing` here and `failed` after a restart, never `succeeded` without its record.
   */
  private tickInBackground(): void {
    this.tick().catch((err: unknown) =>
      this.options.log?.warn({ err: String(err) }, 'committing or recording a job failed'),
    );
  }

  job(id: string): JobRecord {
    const record = this.records.get(id);
    if (!record) throw new DdiaError(BatchErrors.jobNotFound, `no job ${id}`);
    const live = this.scheduler.job(id);
    if (live && record.status !== 'succeeded' && record.status !== 'failed') {
      // The scheduler knows the end before the record saying so is durable: until it is, the
      // job is still committing (a crash now would bring it back failed, not succeeded).
      const status = live.status === 'succeeded' || live.status === 'failed' ? 'committing' : live.status;
      return { ...record, status, counters: this.totals(live), tasks: this.taskViews(live) };
    }
    return record;
  }

  jobs(): JobRecord[] {
    return [...this.records.keys()].map((id) => this.job(id));
  }

  /** Applies the scheduler's events: dead workers logged, finished jobs committed and recorded. */
  async tick(): Promise<void> {
    const events = this.scheduler.tick(this.clock.nowMs());
    for (const event of events) {
      switch (event.type) {
        case 'worker-dead':
          this.options.log?.warn(event, 'worker declared dead; its tasks go back to idle');
          break;
        case 'job-committing':
          await this.once(event.jobId, () => this.commit(event.jobId));
          break;
        case 'job-failed':
          await this.once(event.jobId, () => this.finish(event.jobId));
          break;
      }
    }
  }

  /** Resolves once every commit and failure record under way has been written. */
  async settled(): Promise<void> {
    while (this.finishing.size > 0) await Promise.allSettled([...this.finishing.values()]);
  }

  private async once(jobId: string, fn: () => Promise<void>): Promise<void> {
    const running = this.finishing.get(jobId);
    if (running) return running;
    const promise = fn().finally(() => this.finishing.delete(jobId));
    this.finishing.set(jobId, promise);
    return promise;
  }

  private async commit(jobId: string): Promise<void> {
    const record = this.records.get(jobId)!;
    try {
      // Not synced: readers and listFiles skip names starting with '_', and a directory that
      // comes back after a crash is garbage.
      await removeTree(this.fs, join(record.output, '_temporary'));
      // _SUCCESS last: a reader that sees it knows every part file is complete (Hadoop's
      // marker). Each part file was fsynced before its rename; this directory fsync makes the
      // marker's name (and every part's rename) durable.
      await createMarker(this.fs, join(record.output, '_SUCCESS'), BATCH_SYNC.success);
      this.scheduler.committed(jobId, this.clock.nowMs());
    } catch (err) {
      this.scheduler.commitFailed(jobId, (err as Error).message, this.clock.nowMs());
    }
    await this.finish(jobId);
  }

  /** Writes the job's final record; only then does the job read as succeeded or failed. */
  private async finish(jobId: string): Promise<void> {
    const record = this.records.get(jobId)!;
    const live = this.scheduler.job(jobId)!;
    const final: JobRecord = {
      ...record,
      status: live.status,
      error: live.error,
      finishedAt: new Date(this.clock.wallMs()).toISOString(),
      durationMs: Math.round((live.finishedMs ?? this.clock.nowMs()) - live.submittedMs),
      counters: this.totals(live),
      tasks: this.taskViews(live),
    };
    await this.persist(final);
    this.records.set(jobId, final);
    this.options.log?.info({ job: jobId, status: final.status, error: final.error }, 'job finished');
  }

  private totals(job: Job): Counters {
    const totals: Counters = { mapTasks: job.maps.length, reduceTasks: job.reduces.length };
    let attempts = 0;
    for (const task of [...job.maps, ...job.reduces]) {
      attempts += task.attempts.length;
      const counters = task.winner ? this.attemptCounters.get(task.winner) : undefined;
      for (const [name, value] of Object.entries(counters ?? {})) totals[name] = (totals[name] ?? 0) + value;
    }
    totals.taskAttempts = attempts;
    return totals;
  }

  private taskViews(job: Job): TaskView[] {
    return [...job.maps, ...job.reduces].map((task) => ({
      kind: task.kind,
      index: task.index,
      state: task.state,
      counters: (task.winner ? this.attemptCounters.get(task.winner) : undefined) ?? null,
      attempts: task.attempts.map((a) => ({
        id: a.id,
        worker: a.workerId,
        status: a.status,
        backup: a.backup,
        startMs: Math.round(a.startedMs - job.submittedMs),
        durationMs: a.endedMs === null ? null : Math.round(a.endedMs - a.startedMs),
        error: a.error,
      })),
    }));
  }

  private async persist(record: JobRecord): Promise<void> {
    if (!this.options.dataDir) return;
    await writeFileAtomic(join(this.options.dataDir, JOBS_DIR, `${record.id}.json`), JSON.stringify(record), {
      fs: this.fs,
      syncPoint: BATCH_SYNC.record,
    });
  }

  private async plan(request: PlanRequest): Promise<Plan> {
    if (this.options.plan) {
      try {
        return await this.options.plan(request);
      } catch (err) {
        throw new DdiaError(BatchErrors.badJobModule, (err as Error).message);
      }
    }
    const plan = await runTask(request, PLAN_TIMEOUT_MS);
    if (!plan.ok)
      throw new DdiaError(
        BatchErrors.badJobModule,
        plan.message.replace(/^plan task 0 failed at planning: /, ''),
      );
    return { boundaries: plan.boundaries, hotKeys: plan.hotKeys };
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof UnknownWorkerError) throw new DdiaError(BatchErrors.unknownWorker, err.message);
      throw err;
    }
  }
}

export function isInputFormat(value: string): value is InputFormat {
  return (INPUT_FORMATS as readonly string[]).includes(value);
}
