// The messages between a worker (or the coordinator, for planning) and the thread that runs
// one task of a job's code. Job code runs in a thread so that the process keeps answering
// heartbeats and shuffle fetches while it computes, and so that a task that never returns can
// be stopped (Worker.terminate) and reported instead of hanging its worker.
import type { Split } from './core/splits.js';
import type { OnMalformed } from './input.js';

export interface TaskBase {
  /** File path of the job module (an ES module). */
  module: string;
  jobId: string;
  taskIndex: number;
  reduces: number;
  params: Record<string, string>;
  /** Hot keys found by sampling at planning (a job that exports hotKeys = 'sample'): key → reducers. */
  hotKeys: Record<string, number>;
}

export interface MapRequest extends TaskBase {
  kind: 'map';
  split: Split;
  /** Map output kept in memory up to this many bytes, then sorted and spilled as a run. */
  spillBytes: number;
  /** Where this attempt writes its runs: `p<r>.run` per reduce partition. */
  outputDir: string;
  boundaries: string[] | null;
  onMalformed: OnMalformed;
}

export interface ReduceRequest extends TaskBase {
  kind: 'reduce';
  /** Local copies of every map task's run for this partition (fetched by the worker). */
  runFiles: string[];
  /** The job's output directory; part files are committed there by rename. */
  outputDir: string;
  attemptId: string;
  /** `part-NNNNN` text lines, or `part-NNNNN.parquet`. */
  outputFormat: OutputFormat;
}

export interface PlanRequest extends TaskBase {
  kind: 'plan';
  /** Splits to sample keys from, for a range partitioner. */
  samples: Split[];
  onMalformed: OnMalformed;
}

export type OutputFormat = 'text' | 'parquet';

export type TaskRequest = MapRequest | ReduceRequest | PlanRequest;

export type Counters = Record<string, number>;

export type TaskResult =
  | { ok: true; counters: Counters; boundaries?: string[] | null; hotKeys?: Record<string, number> }
  | { ok: false; message: string };

/** Shared between the thread and its runner: what the task is doing right now. */
export const PROGRESS_SLOTS = 4;
export const PROGRESS_RECORDS = 0;
export const PROGRESS_SPLIT_FROM = 1;
export const PROGRESS_LINE_INDEX = 2;
export const PROGRESS_KEY_BYTES = 3;
export const PROGRESS_KEY_BYTES_MAX = 200;
