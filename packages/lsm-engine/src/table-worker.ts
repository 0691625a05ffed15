// The worker thread's entry: runs table jobs (flushes and compactions, table-writer.ts) one
// at a time and answers each with the new tables' metadata or the error. See
// table-workers.ts for the main thread's side.
import { parentPort } from 'node:worker_threads';
import { CorruptTableError } from './errors.js';
import { type TableJob, writeTables } from './table-writer.js';

export interface TableJobRequest {
  id: number;
  job: TableJob;
  /** Set to 1 by the main thread to cancel the job (its engine is closing). */
  cancelFlag: Int32Array;
}

export type TableJobReply =
  | { id: number; ok: true; outputs: import('./version.js').TableMeta[] }
  | {
      id: number;
      ok: false;
      error: { name: string; message: string; file?: string; offset?: number; reason?: string };
    };

const port = parentPort;
if (port === null) throw new Error('table-worker.js runs as a worker thread');
// Loading this module graph takes a while on a busy machine; until this message arrives the
// main thread runs jobs itself rather than wait (table-workers.ts).
port.postMessage({ ready: true });
port.on('message', ({ id, job, cancelFlag }: TableJobRequest) => {
  let reply: TableJobReply;
  try {
    reply = { id, ok: true, outputs: writeTables(job, () => Atomics.load(cancelFlag, 0) === 1) };
  } catch (err) {
    const e = err as Error;
    reply = {
      id,
      ok: false,
      error:
        err instanceof CorruptTableError
          ? { name: e.name, message: e.message, file: err.file, offset: err.offset, reason: err.reason }
          : { name: e?.name ?? 'Error', message: e?.message ?? String(err) },
    };
  }
  port.postMessage(reply);
});
