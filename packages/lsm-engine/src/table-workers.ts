// The main thread's side of background table work: two worker threads, one for flushes and
// one for compactions, so that a long compaction never holds up the flush of a full memtable
// (LevelDB gives a pending flush priority inside its one background thread instead). The
// main thread only prepares jobs and installs their results as version edits; the merging,
// block building, checksums and file writes run on the other core.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CorruptTableError } from './errors.js';
import type { TableJobReply, TableJobRequest } from './table-worker.js';
import type { TableJob } from './table-writer.js';
import type { TableMeta } from './version.js';

export type Lane = 'flush' | 'compaction';

/** A job ended because the engine closed and stopped its workers. */
export class TableJobAbortedError extends Error {
  override name = 'TableJobAbortedError';
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

class Lanes {
  private worker: Worker | null = null;
  private pending: { id: number; resolve: (t: TableMeta[]) => void; reject: (e: unknown) => void } | null =
    null;
  private nextId = 1;
  private closed = false;

  run(job: TableJob, transfer: ArrayBuffer[]): Promise<TableMeta[]> {
    if (this.closed) return Promise.reject(new TableJobAbortedError('the engine is closing'));
    if (this.pending !== null) throw new Error('one job per lane at a time');
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending = { id, resolve, reject };
      worker.ref();
      const request: TableJobRequest = { id, job };
      worker.postMessage(request, transfer);
    });
  }

  private start(): Worker {
    if (this.worker !== null) return this.worker;
    const worker = new Worker(workerScript());
    worker.unref();
    worker.on('message', (reply: TableJobReply) => {
      const p = this.pending;
      if (p === null || p.id !== reply.id) return;
      this.pending = null;
      worker.unref();
      if (reply.ok) {
        // Structured clone turns Buffers into plain Uint8Arrays: make them Buffers again.
        p.resolve(
          reply.outputs.map((t) => ({ ...t, smallest: toBuffer(t.smallest), largest: toBuffer(t.largest) })),
        );
      } else {
        const e = reply.error;
        p.reject(
          e.name === 'CorruptTableError' && e.file !== undefined
            ? new CorruptTableError(e.file, e.offset ?? 0, e.message.replace(/^corrupt table .*?: /, ''))
            : Object.assign(new Error(e.message), { name: e.name }),
        );
      }
    });
    const fail = (err: unknown) => {
      const p = this.pending;
      this.pending = null;
      this.worker = null;
      p?.reject(this.closed ? new TableJobAbortedError('the engine closed') : err);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`table worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    if (w !== null) await w.terminate();
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class TableWorkers {
  private readonly lanes = { flush: new Lanes(), compaction: new Lanes() };

  /** Runs a job on the lane's worker; `transfer` moves buffers instead of copying them. */
  run(lane: Lane, job: TableJob, transfer: ArrayBuffer[] = []): Promise<TableMeta[]> {
    return this.lanes[lane].run(job, transfer);
  }

  /** Stops both workers; a job still running rejects with TableJobAbortedError. */
  async close(): Promise<void> {
    await Promise.all([this.lanes.flush.close(), this.lanes.compaction.close()]);
  }
}
