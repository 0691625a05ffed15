// The main thread's side of background table work: three worker threads per process (flushes,
// compactions, and the second half of a split compaction), shared by every engine the process
// opens (a process may open thousands of databases in tests), each started by the first job
// big enough to need it (an idle service or a small database starts none).
// A long compaction never holds up the flush of a full memtable, which has its own lane
// (LevelDB gives a pending flush priority inside its one background thread instead). The
// main thread only prepares jobs and installs their results as version edits; the merging,
// block building, checksums and file writes run on the other core.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type FileSystem, nodeFileSystem } from '@ddia/common/fs';
import { CorruptTableError } from './errors.js';
import type { TableJobReply, TableJobRequest } from './table-worker.js';
import { type TableJob, writeTables } from './table-writer.js';
import type { TableMeta } from './version.js';

/** A worker per lane: flushes, compactions, and the second half of a split compaction. */
export type Lane = 'flush' | 'compaction' | 'subcompaction';

/** A job cancelled because its engine is closing. */
export class TableJobAbortedError extends Error {
  override name = 'TableJobAbortedError';
}

/** A running job's handle: its result, and a way to stop it early (the engine is closing). */
export interface RunningJob {
  result: Promise<TableMeta[]>;
  cancel(): void;
}

/**
 * The compiled worker script. From dist/ it sits next to this file; when this file runs from
 * src/ (vitest, tsx) the worker still runs the compiled copy, since a worker thread does not
 * inherit the test runner's TypeScript loader.
 */
function workerScript(): URL {
  const beside = new URL('./table-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  const built = new URL('../dist/table-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new Error('dist/table-worker.js is missing: build first (npx tsc -b packages/lsm-engine)');
}

/** Flags that load modules into every thread: a TypeScript loader (tsx, vitest) and the like. */
const MODULE_LOADING_FLAGS = new Set(['--import', '--loader', '--experimental-loader', '--require', '-r']);

/**
 * The process's flags less the module loaders. A worker inherits them by default, and the
 * worker script is compiled JavaScript: under `node --import tsx` each worker loaded tsx and
 * its hooks thread, some 1-2 s of CPU per worker on this machine, more than a flush.
 */
function workerExecArgv(): string[] {
  const kept: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = arg.split('=', 1)[0]!;
    if (!MODULE_LOADING_FLAGS.has(name)) kept.push(arg);
    else if (!arg.includes('=')) i++; // the flag's value is the next argument
  }
  return kept;
}

/**
 * A worker with the process's flags, or with none when Node refuses one of them for a thread
 * (V8 flags such as --trace-gc or --max-semi-space-size are per process: a worker given them
 * throws ERR_WORKER_INVALID_EXEC_ARGV, which would fail every flush of the engine).
 */
export function startWorker(script: URL, execArgv: string[]): Worker {
  try {
    return new Worker(script, { execArgv });
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err;
    return new Worker(script, { execArgv: [] });
  }
}

interface Queued {
  request: TableJobRequest;
  transfer: ArrayBuffer[];
  resolve: (t: TableMeta[]) => void;
  reject: (e: unknown) => void;
}

/**
 * Jobs smaller than this run on the main thread: a worker's round trip and the copy of the
 * job would cost more than the work (tests and small databases flush tiny memtables).
 */
export const INLINE_JOB_BYTES_MAX = 256 * 1024;

/** One worker thread running queued jobs in order. */
class LaneWorker {
  private worker: Worker | null = null;
  /** The worker finished loading its modules and takes jobs. */
  ready = false;
  private readonly queue: Queued[] = [];
  private running: Queued | null = null;
  private nextId = 1;

  run(job: TableJob, transfer: ArrayBuffer[]): RunningJob {
    // The worker polls this flag between entries; 1 means stop and remove your outputs.
    const cancelFlag = new Int32Array(new SharedArrayBuffer(4));
    const request: TableJobRequest = { id: this.nextId++, job, cancelFlag };
    const result = new Promise<TableMeta[]>((resolve, reject) => {
      this.queue.push({ request, transfer, resolve, reject });
      this.pump();
    });
    return {
      result,
      cancel: () => {
        Atomics.store(cancelFlag, 0, 1);
        const i = this.queue.findIndex((q) => q.request === request);
        if (i >= 0) this.queue.splice(i, 1)[0]!.reject(new TableJobAbortedError('the engine is closing'));
      },
    };
  }

  /** Starts the worker ahead of its first job (its modules take a while to load). */
  prewarm(): void {
    this.start();
    if (this.running === null && this.queue.length === 0) this.worker?.unref();
  }

  private pump(): void {
    if (this.running !== null) return;
    const next = this.queue.shift();
    if (next === undefined) {
      this.worker?.unref();
      return;
    }
    this.running = next;
    const worker = this.start();
    // Referenced while busy, so that a process does not exit under a running flush.
    worker.ref();
    worker.postMessage(next.request, next.transfer);
  }

  private start(): Worker {
    if (this.worker !== null) return this.worker;
    const worker = startWorker(workerScript(), workerExecArgv());
    worker.on('message', (reply: TableJobReply | { ready: true }) => {
      if ('ready' in reply) {
        this.ready = true;
        return;
      }
      const job = this.running;
      if (job === null || job.request.id !== reply.id) return;
      this.running = null;
      if (reply.ok) {
        // Structured clone turns Buffers into plain Uint8Arrays: make them Buffers again.
        job.resolve(
          reply.outputs.map((t) => ({ ...t, smallest: toBuffer(t.smallest), largest: toBuffer(t.largest) })),
        );
      } else {
        job.reject(reviveError(reply.error));
      }
      this.pump();
    });
    const fail = (err: unknown) => {
      // A crashed worker fails its job; the next job starts a fresh worker.
      this.worker = null;
      this.ready = false;
      const job = this.running;
      this.running = null;
      job?.reject(err);
      this.pump();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`table worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }
}

function reviveError(e: Extract<TableJobReply, { ok: false }>['error']): Error {
  if (e.name === 'TableJobAbortedError') return new TableJobAbortedError(e.message);
  if (e.name === 'CorruptTableError' && e.file !== undefined)
    return new CorruptTableError(e.file, e.offset ?? 0, e.reason ?? e.message);
  return Object.assign(new Error(e.message), { name: e.name });
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const lanes: Record<Lane, LaneWorker> = {
  flush: new LaneWorker(),
  compaction: new LaneWorker(),
  subcompaction: new LaneWorker(),
};

/**
 * Starts the lanes' workers (default: all three) ahead of the first job big enough for one.
 * The engine starts the flush lane once a memtable is half full: a flush that found its
 * worker still loading would run on the main thread, and a 64 MiB table written there held
 * every request for hundreds of ms. The compaction lanes start with their first job, which
 * waits for its worker to load (a compaction is not in any writer's way): each worker costs
 * 100-250 ms of CPU to start, which a small database that never compacts need not pay.
 */
export function prewarmTableWorkers(which: readonly Lane[] = ['flush', 'compaction', 'subcompaction']): void {
  for (const lane of which) lanes[lane].prewarm();
}

/** Which lanes have a worker that has loaded and takes jobs (tests, diagnostics). */
export function tableWorkersReady(): Record<Lane, boolean> {
  return {
    flush: lanes.flush.ready,
    compaction: lanes.compaction.ready,
    subcompaction: lanes.subcompaction.ready,
  };
}

/**
 * Runs a table job of about `bytes` input bytes on the lane's worker (`transfer` moves
 * buffers instead of copying them), or right here when it is small or the worker is still
 * loading. A job on any file system but the real one runs right here (a worker thread cannot
 * share a test's simulated disk).
 */
export function runTableJob(
  lane: Lane,
  job: TableJob,
  bytes: number,
  transfer: ArrayBuffer[] = [],
  fs: FileSystem = nodeFileSystem,
): RunningJob {
  const worker = lanes[lane];
  const onWorker = fs === nodeFileSystem && bytes > INLINE_JOB_BYTES_MAX;
  // A flush runs here rather than wait for a loading worker (writers may be waiting for it);
  // a compaction's job is queued for its worker, which takes it once loaded.
  if (onWorker && (worker.ready || lane !== 'flush')) return worker.run(job, transfer);
  if (onWorker) worker.prewarm();
  let result: Promise<TableMeta[]>;
  try {
    result = Promise.resolve(writeTables(job, undefined, fs));
  } catch (err) {
    result = Promise.reject(err);
  }
  return { result, cancel: () => {} };
}
