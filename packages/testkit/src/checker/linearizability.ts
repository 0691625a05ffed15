// checkLinearizable: is there a total order of the operations, consistent with their real-time
// order, in which every result is what the sequential model would give? (Herlihy & Wing 1990;
// DDIA ch. 9 "Linearizability".) Histories are split into independent partitions (one per key
// for a key-value map) and each partition is searched on its own.

import type { HistoryEvent, Operation } from '../history/event.js';
import { toOperations } from '../history/operations.js';
import { MemoBudget } from './memo-table.js';
import type { Model } from './model.js';
import { type SearchOutcome, WglSearch } from './wgl-search.js';

/** Without a caller's limit, the search gives up (verdict unknown) after this long. */
export const DEFAULT_LINEARIZABILITY_TIMEOUT_MS = 60_000;
/** Without a caller's limit, the memos of one check may hold this much before giving up. */
export const DEFAULT_MEMO_BYTES_MAX = 1024 * 1024 * 1024;
/**
 * Search steps a partition runs before the next one gets its turn: a few at first, doubling
 * each round up to a few milliseconds' worth. An easy counterexample in any partition is then
 * found after a few steps of each other one (Porcupine runs the partitions in parallel and
 * stops at the first failure; a fixed 20,000-step slice made Porcupine's c50-bad 20x slower
 * for us).
 */
const FIRST_SLICE_STEPS = 256;
const SLICE_STEPS = 20_000;

export type LinearizabilityVerdict = 'linearizable' | 'not-linearizable' | 'unknown';

/** The history cannot be checked against the model (an operation the model does not know). */
export class UnsupportedOperationError extends Error {
  override name = 'UnsupportedOperationError';
  constructor(
    readonly operation: Operation,
    readonly expected: string,
  ) {
    super(`operation ${operation.id} (event ${operation.invokeIndex}): expected ${expected}`);
  }
}

export interface PartitionResult {
  key?: string;
  verdict: LinearizabilityVerdict;
  operationCount: number;
  /** Search steps taken: a measure of how hard the partition was. */
  steps: number;
  /** (linearized set, state) pairs the search remembered, and their bytes. */
  memoEntries: number;
  memoBytes: number;
  /** Why an unknown partition stopped: the time budget or the memory bound. */
  stoppedBy?: 'time' | 'memory';
  elapsedMs: number;
  /** When linearizable: one valid order of the operations with a known outcome. */
  linearization?: Operation[];
  /** When not linearizable (or unknown): the longest prefix the search could order. */
  longestPrefix?: Operation[];
  stateAfterPrefix?: unknown;
  /** When not linearizable: the operations that could come next by real time, none of which can. */
  blocked?: Operation[];
  /** The earliest-completing operation not in the prefix: it had to be ordered by then. */
  mustPrecede?: Operation;
}

export interface LinearizabilityResult {
  verdict: LinearizabilityVerdict;
  model: string;
  operationCount: number;
  elapsedMs: number;
  /** The partitions decided (after a counterexample, the undecided ones are left out). */
  partitions: PartitionResult[];
  /** How many partitions the history has. */
  partitionCount: number;
  /** The first partition that is not linearizable (or, failing that, the first unknown one). */
  failure?: PartitionResult;
  /** A human-readable account of the failure, one line per item. */
  explanation?: string[];
}

export interface LinearizabilityOptions {
  /** Budget for the whole history; past it the verdict is `unknown`. */
  timeoutMs?: number;
  /** Monotonic clock for the budget (tests inject one). */
  nowMs?: () => number;
  /** Bytes the search memos may hold together; past it the verdict is `unknown`. */
  memoBytesMax?: number;
}

/**
 * Checks a history against a model. Synchronous (callers may still `await` it); a long search
 * blocks the event loop, so run big histories in a worker or a separate process.
 * Failed operations (`fail`) did not take effect and are dropped, as are reads of unknown
 * outcome; the rest of the `info` operations may take effect at any time after invocation, or
 * never. Throws MalformedHistoryError or UnsupportedOperationError for histories it cannot check.
 */
export function checkLinearizable<S>(
  history: readonly HistoryEvent[],
  model: Model<S>,
  options: LinearizabilityOptions = {},
): LinearizabilityResult {
  const nowMs = options.nowMs ?? (() => performance.now());
  const startMs = nowMs();
  const deadlineMs = startMs + (options.timeoutMs ?? DEFAULT_LINEARIZABILITY_TIMEOUT_MS);
  const relevant = relevantOperations(history, model);
  const budget = new MemoBudget(options.memoBytesMax ?? DEFAULT_MEMO_BYTES_MAX);
  let searched: { partitions: PartitionResult[]; verdict: LinearizabilityVerdict; partitionCount: number };
  try {
    searched = searchPartitions(model, relevant, budget, nowMs, deadlineMs);
  } finally {
    // The results hold no view of the searches' arrays: their buffers serve the next check.
    budget.release();
  }
  const { partitions, verdict, partitionCount } = searched;
  const result: LinearizabilityResult = {
    verdict,
    model: model.name,
    operationCount: relevant.length,
    elapsedMs: nowMs() - startMs,
    partitions,
    partitionCount,
  };
  const failure =
    partitions.find((p) => p.verdict === 'not-linearizable') ??
    partitions.find((p) => p.verdict === 'unknown');
  if (failure !== undefined) {
    result.failure = failure;
    defineExplanation(result, () => explain(model, failure));
  }
  return result;
}

/** Searches every partition, a slice of steps at a time, until one fails or all are decided. */
function searchPartitions<S>(
  model: Model<S>,
  relevant: Operation[],
  budget: MemoBudget,
  nowMs: () => number,
  deadlineMs: number,
): { partitions: PartitionResult[]; verdict: LinearizabilityVerdict; partitionCount: number } {
  // Every partition is searched a slice at a time, in turn, as Porcupine searches them in
  // parallel: the first counterexample settles the verdict, however long another would take.
  // A partition's search is built on its first turn: after a counterexample the partitions not
  // yet reached cost nothing (Porcupine's kv c01-bad: 2 of 8 built).
  const searches = model.partition(relevant).map((partition) => ({
    partition,
    search: undefined as WglSearch<S> | undefined,
    elapsedMs: 0,
  }));
  const searchOf = (s: (typeof searches)[number]): WglSearch<S> =>
    (s.search ??= new WglSearch(
      model,
      model.pruneUnobservable?.(s.partition.operations) ?? s.partition.operations,
      budget,
    ));
  let pending = searches;
  let failed: (typeof searches)[number] | undefined;
  let slice = FIRST_SLICE_STEPS;
  while (pending.length > 0 && failed === undefined) {
    for (const s of pending) {
      const sliceStartMs = nowMs();
      const outcome = searchOf(s).advance(pending.length === 1 ? SLICE_STEPS : slice);
      s.elapsedMs += nowMs() - sliceStartMs;
      if (outcome?.verdict === 'not-linearizable') {
        failed = s;
        break;
      }
      if (nowMs() > deadlineMs) break;
    }
    pending = pending.filter((s) => s.search?.result === undefined);
    slice = Math.min(SLICE_STEPS, 2 * slice);
    if (nowMs() > deadlineMs) break;
  }
  const partitions: PartitionResult[] = [];
  let verdict: LinearizabilityVerdict = 'linearizable';
  // After a counterexample, the partitions still undecided are left out: none was needed.
  // Out of time, a partition not yet reached is reported unknown like one cut short.
  const reported = failed === undefined ? searches : searches.filter((s) => s.search?.result !== undefined);
  for (const s of reported) {
    const search = searchOf(s);
    const outcome = search.result ?? search.giveUp();
    partitions.push(partitionResult(s.partition.key, s.partition.operations.length, s.elapsedMs, outcome));
    if (outcome.verdict === 'not-linearizable') verdict = 'not-linearizable';
    else if (outcome.verdict === 'unknown' && verdict === 'linearizable') verdict = 'unknown';
  }
  return { partitions, verdict, partitionCount: searches.length };
}

/**
 * `explanation` is written out (one line per operation of the longest prefix) only when read:
 * a caller that wants the verdict alone does not pay for describing a long prefix. It is an
 * ordinary enumerable property to JSON.stringify and to a caller that sets it.
 */
function defineExplanation(result: LinearizabilityResult, make: () => string[]): void {
  let lines: string[] | undefined;
  Object.defineProperty(result, 'explanation', {
    enumerable: true,
    configurable: true,
    get: () => {
      lines ??= make();
      return lines;
    },
    set: (value: string[]) => {
      lines = value;
    },
  });
}

/**
 * The operations a search orders: all but the failed ones and the reads of unknown outcome.
 * Throws UnsupportedOperationError for the first operation the model cannot check.
 */
export function relevantOperations<S>(history: readonly HistoryEvent[], model: Model<S>): Operation[] {
  const all = toOperations(history);
  for (const op of all) {
    if (op.status === 'fail') continue;
    const problem = model.operationProblem(op);
    if (problem !== undefined) throw new UnsupportedOperationError(op, problem);
  }
  return all.filter((op) => op.status !== 'fail' && !(op.status === 'info' && model.isReadOnly(op)));
}

function partitionResult<S>(
  key: string | undefined,
  operationCount: number,
  elapsedMs: number,
  outcome: SearchOutcome<S>,
): PartitionResult {
  const result: PartitionResult = {
    verdict: outcome.verdict,
    operationCount,
    steps: outcome.steps,
    memoEntries: outcome.memoEntries,
    memoBytes: outcome.memoBytes,
    elapsedMs,
  };
  if (key !== undefined) result.key = key;
  if (outcome.stoppedBy !== undefined) result.stoppedBy = outcome.stoppedBy;
  if (outcome.linearization !== undefined) result.linearization = outcome.linearization;
  if (outcome.longestPrefix !== undefined) {
    result.longestPrefix = outcome.longestPrefix;
    result.stateAfterPrefix = outcome.stateAfterPrefix;
  }
  if (outcome.blocked !== undefined) result.blocked = outcome.blocked;
  if (outcome.mustPrecede !== undefined) result.mustPrecede = outcome.mustPrecede;
  return result;
}

function explain<S>(model: Model<S>, failure: PartitionResult): string[] {
  const where = failure.key === undefined ? '' : ` for key ${JSON.stringify(failure.key)}`;
  const lines: string[] = [];
  if (failure.verdict === 'unknown') {
    const why = failure.stoppedBy === 'memory' ? 'its memory bound' : 'its time budget';
    lines.push(`search gave up${where} after ${failure.steps} steps (${why}); longest ordered prefix:`);
  } else {
    lines.push(`no linearization${where}; the longest prefix that can be ordered:`);
  }
  for (const op of failure.longestPrefix ?? []) lines.push(`  ${model.describeOperation(op)}`);
  if (failure.verdict === 'unknown') return lines;
  lines.push(`state after it: ${model.describeState(failure.stateAfterPrefix as S)}`);
  lines.push('none of these can come next:');
  for (const op of failure.blocked ?? []) {
    const must = op === failure.mustPrecede ? '  <- completed first, must be ordered by now' : '';
    lines.push(`  ${model.describeOperation(op)}${must}`);
  }
  return lines;
}
