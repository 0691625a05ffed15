// A worker: registers with the coordinator, heartbeats, pulls tasks into its slots, runs each
// in one of its warm task threads (task-runner.ts), and serves its map output to reduce tasks (the shuffle's server side). A reduce
// task fetches its partition from every map task's worker over HTTP; an output that cannot be
// fetched is reported as lost, and the coordinator runs that map again (paper §3.3).
import { join } from 'node:path';
import { HttpClient, ProblemError } from '@ddia/common';
import type { TaskOrder } from './coordinator.js';
import { exists, readBytes, removeAll, writeBytes } from './disk.js';
import type { TaskRequest } from './task-protocol.js';
import { TaskThreadPool } from './task-runner.js';

export const HEARTBEAT_DEFAULT_MS = 500;
export const POLL_IDLE_MS = 100;
export const REGISTER_RETRY_MS = 500;
/** How long a reduce waits for one map output before calling it lost. */
export const FETCH_DEADLINE_MS = 5_000;
/** Map outputs fetched at once by one reduce task. */
export const FETCHES_PARALLEL_MAX = 4;
/** Deadline for the small control messages to the coordinator. */
const CONTROL_DEADLINE_MS = 5_000;

export interface WorkerOptions {
  coordinatorUrl: string;
  slots: number;
  dataDir: string;
  heartbeatMs?: number;
  log: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
  };
}

export class BatchWorker {
  private readonly http = new HttpClient({ deadlineMs: CONTROL_DEADLINE_MS, retries: 1 });
  private workerId: string | null = null;
  /** Bumped on every (re-)registration: work from an older generation is abandoned. */
  private generation = 0;
  private running = 0;
  private stopped = false;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private registering: Promise<void> | null = null;
  /** This worker's own base URL, where reduces fetch its map output. */
  private selfUrl = '';
  readonly completed: { kind: string; index: number; attemptId: string }[] = [];
  private readonly pool: TaskThreadPool;
  /** Wakes the poll loop when a slot frees, so a finished task is followed by the next at once. */
  private slotFreed: (() => void) | null = null;

  constructor(private readonly options: WorkerOptions) {
    this.pool = new TaskThreadPool(options.slots);
  }

  /** Task threads started so far: fewer than tasks run when threads are reused. */
  get threadsStarted(): number {
    return this.pool.threadsStarted;
  }

  get id(): string | null {
    return this.workerId;
  }

  get busySlots(): number {
    return this.running;
  }

  /** Registers (once `selfUrl`, where this worker's HTTP server listens, is known) and starts. */
  async start(selfUrl: string): Promise<void> {
    this.selfUrl = selfUrl;
    await this.register();
    this.heartbeatTimer = setInterval(
      () => void this.heartbeat(),
      this.options.heartbeatMs ?? HEARTBEAT_DEFAULT_MS,
    );
    void this.pollLoop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.slotFreed?.();
    await this.http.close();
    await this.pool.close();
  }

  /** The local file of a map output partition, or null when this worker does not have it. */
  async mapOutput(
    jobId: string,
    mapIndex: number,
    attemptId: string,
    partition: number,
  ): Promise<Buffer | null> {
    const path = join(this.mapDir(jobId, mapIndex, attemptId), `p${partition}.run`);
    if (!(await exists(path))) return null;
    return readBytes(path);
  }

  private mapDir(jobId: string, mapIndex: number, attemptId: string): string {
    return join(this.options.dataDir, 'map', jobId, String(mapIndex), attemptId);
  }

  private register(): Promise<void> {
    this.registering ??= (async () => {
      // A worker the coordinator forgot (declared dead) starts over: its old map output is
      // no longer referenced by anyone, and its running tasks are re-executed elsewhere.
      this.generation++;
      this.workerId = null;
      await removeAll(join(this.options.dataDir, 'map'));
      while (!this.stopped) {
        try {
          const answer = await this.http.json<{ workerId: string }>(
            `${this.options.coordinatorUrl}/workers`,
            {
              method: 'POST',
              body: { url: this.selfUrl, slots: this.options.slots },
              retry: true,
            },
          );
          this.workerId = answer.workerId;
          this.options.log.info(
            { worker: this.workerId, coordinator: this.options.coordinatorUrl },
            'registered',
          );
          return;
        } catch (err) {
          this.options.log.warn({ err: (err as Error).message }, 'cannot register yet; retrying');
          await sleep(REGISTER_RETRY_MS);
        }
      }
    })().finally(() => {
      this.registering = null;
    });
    return this.registering;
  }

  private async heartbeat(): Promise<void> {
    const id = this.workerId;
    if (!id || this.stopped) return;
    try {
      await this.http.json(`${this.options.coordinatorUrl}/workers/${id}/heartbeat`, {
        method: 'POST',
        body: {},
      });
    } catch (err) {
      await this.onControlError(err);
    }
  }

  private async onControlError(err: unknown): Promise<void> {
    if (err instanceof ProblemError && err.status === 410) {
      this.options.log.warn(
        { worker: this.workerId },
        'the coordinator declared this worker dead; registering again',
      );
      await this.register();
    }
    // Anything else (coordinator down or restarting): the next heartbeat or poll tries again.
  }

  private async pollLoop(): Promise<void> {
    while (!this.stopped) {
      if (this.running >= this.options.slots) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, POLL_IDLE_MS);
          this.slotFreed = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.slotFreed = null;
        continue;
      }
      if (!this.workerId || this.registering) {
        await sleep(POLL_IDLE_MS);
        continue;
      }
      const id = this.workerId;
      let order: TaskOrder | null = null;
      try {
        const response = await this.http.request(`${this.options.coordinatorUrl}/workers/${id}/tasks`, {
          method: 'POST',
          body: {},
        });
        if (response.status === 200) order = response.json<TaskOrder>();
        else if (response.status === 410)
          await this.onControlError(new ProblemError('', 410, null, response.body));
      } catch {
        // The coordinator is unreachable: wait and ask again.
      }
      if (!order) {
        await sleep(POLL_IDLE_MS);
        continue;
      }
      this.running++;
      const generation = this.generation;
      void this.execute(order, id, generation).finally(() => {
        this.running--;
        this.slotFreed?.();
      });
    }
  }

  private async execute(order: TaskOrder, workerId: string, generation: number): Promise<void> {
    const { assignment } = order;
    const base = {
      module: order.module,
      jobId: assignment.jobId,
      taskIndex: assignment.index,
      reduces: order.reduces,
      params: order.params,
      hotKeys: order.hotKeys,
    };
    let report: object;
    if (assignment.kind === 'map') {
      const request: TaskRequest = {
        ...base,
        kind: 'map',
        split: order.split!,
        spillBytes: order.spillBytes,
        outputDir: this.mapDir(assignment.jobId, assignment.index, assignment.attemptId),
        boundaries: order.boundaries,
        onMalformed: order.onMalformed,
      };
      const outcome = await this.pool.run(request, order.taskTimeoutMs);
      report = outcome.ok
        ? { status: 'completed', counters: outcome.counters }
        : { status: 'failed', fatal: true, message: outcome.message };
    } else {
      report = await this.reduce(order, base);
    }
    if (generation !== this.generation) return; // declared dead meanwhile: nobody wants this
    try {
      await this.http.json(
        `${this.options.coordinatorUrl}/workers/${workerId}/attempts/${assignment.attemptId}`,
        {
          method: 'POST',
          body: report,
          retry: true,
        },
      );
      this.completed.push({
        kind: assignment.kind,
        index: assignment.index,
        attemptId: assignment.attemptId,
      });
    } catch (err) {
      this.options.log.warn(
        { err: (err as Error).message, attempt: assignment.attemptId },
        'could not report',
      );
      await this.onControlError(err);
    }
  }

  /** The shuffle's client side, then the reduce itself. */
  private async reduce(
    order: TaskOrder,
    base: Omit<TaskRequest, 'kind' | 'split' | 'samples'> & { taskIndex: number },
  ): Promise<object> {
    const { assignment } = order;
    const localDir = join(this.options.dataDir, 'reduce', assignment.attemptId);
    const lost: { index: number; attemptId: string }[] = [];
    const runFiles: string[] = [];
    let shuffleBytes = 0;
    const queue = [...assignment.mapOutputs];
    const fetchOne = async () => {
      for (let location = queue.shift(); location; location = queue.shift()) {
        const url = `${location.workerUrl}/shuffle/${assignment.jobId}/${location.index}/${location.attemptId}/${assignment.index}`;
        try {
          const response = await this.http.request(url, { deadlineMs: FETCH_DEADLINE_MS });
          if (response.status !== 200) throw new Error(`status ${response.status}`);
          const file = join(localDir, `m${location.index}.run`);
          await writeBytes(file, response.body);
          runFiles.push(file);
          shuffleBytes += response.body.length;
        } catch {
          lost.push({ index: location.index, attemptId: location.attemptId });
        }
      }
    };
    const fetchStarted = performance.now();
    await Promise.all(Array.from({ length: FETCHES_PARALLEL_MAX }, fetchOne));
    const shuffleFetchMs = Math.round(performance.now() - fetchStarted);
    try {
      if (lost.length > 0) {
        return {
          status: 'failed',
          fatal: false,
          message: `could not fetch the output of map tasks ${lost.map((l) => l.index).join(', ')}`,
          lostMaps: lost,
        };
      }
      runFiles.sort();
      const outcome = await this.pool.run(
        {
          ...base,
          kind: 'reduce',
          runFiles,
          outputDir: order.output,
          attemptId: assignment.attemptId,
          outputFormat: order.outputFormat ?? 'text',
        },
        order.taskTimeoutMs,
      );
      if (!outcome.ok) return { status: 'failed', fatal: true, message: outcome.message };
      return { status: 'completed', counters: { ...outcome.counters, shuffleBytes, shuffleFetchMs } };
    } finally {
      await removeAll(localDir);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
