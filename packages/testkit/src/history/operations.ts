// Pairs invoke events with their completions. A history is well formed when each process has
// at most one operation in flight and every completion follows its process's invocation with
// the same function (Jepsen's history invariants).

import { MalformedHistoryError } from './errors.js';
import { EVENT_TYPES, type HistoryEvent, type Operation } from './event.js';

/**
 * Checks one event's shape; returns what was expected, or undefined when it is well formed.
 * Used by the JSON parser and by `toOperations` on hand-built histories.
 */
export function eventShapeProblem(event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return 'an event object';
  const e = event as Record<string, unknown>;
  if (typeof e.process !== 'number' || !Number.isInteger(e.process)) return 'an integer "process"';
  if (typeof e.type !== 'string' || !EVENT_TYPES.includes(e.type as HistoryEvent['type'])) {
    return '"type" to be one of invoke, ok, fail, info';
  }
  if (typeof e.f !== 'string' || e.f.length === 0) return 'a non-empty string "f"';
  if (e.key !== undefined && typeof e.key !== 'string') return '"key" to be a string when present';
  if (typeof e.timeMs !== 'number' || !Number.isFinite(e.timeMs)) return 'a finite number "timeMs"';
  return undefined;
}

/**
 * Turns events into operations, in order of invocation. Operations still open at the end are
 * of unknown outcome (status `info`, completeIndex Infinity), like `info` completions.
 * Throws MalformedHistoryError with the offending event's index.
 */
export function toOperations(history: readonly HistoryEvent[]): Operation[] {
  const operations: Operation[] = [];
  const openByProcess = new OpenOperations();
  for (let index = 0; index < history.length; index++) {
    const event = history[index];
    const problem = eventShapeProblem(event);
    if (problem !== undefined) throw new MalformedHistoryError(index, problem);
    const open = openByProcess.get(event.process);
    if (event.type === 'invoke') {
      if (open !== undefined) {
        throw new MalformedHistoryError(
          index,
          `a completion of process ${event.process}'s open ${open.f} (invoked at event ${open.invokeIndex}) before its next invoke`,
        );
      }
      // Every operation has the same fields, `key` too (undefined for a register), so the
      // engine gives them one shape and the search's property reads stay monomorphic.
      const operation: Operation = {
        id: operations.length,
        process: event.process,
        f: event.f,
        key: event.key,
        input: event.value,
        output: undefined,
        status: 'info',
        invokeIndex: index,
        completeIndex: Number.POSITIVE_INFINITY,
        invokeMs: event.timeMs,
        completeMs: Number.POSITIVE_INFINITY,
      };
      operations.push(operation);
      openByProcess.set(event.process, operation);
      continue;
    }
    if (open === undefined) {
      throw new MalformedHistoryError(
        index,
        `an invoke by process ${event.process} before its :${event.type}`,
      );
    }
    if (open.f !== event.f) {
      throw new MalformedHistoryError(
        index,
        `a completion of ${open.f} for process ${event.process}, not ${event.f}`,
      );
    }
    openByProcess.set(event.process, undefined);
    if (event.type === 'info') continue; // Unknown outcome: stays open-ended.
    open.status = event.type;
    open.output = event.value;
    open.completeIndex = index;
    open.completeMs = event.timeMs;
  }
  return operations;
}

/** Process ids below this are slots of an array; others (negative, huge) go to a Map. */
const DENSE_PROCESSES_MAX = 1 << 16;

/**
 * The operation each process has in flight. Jepsen's process ids are small integers, so an
 * array slot per process serves them: a Map's get/set/delete per event was a third of pairing
 * a small history's events (a check of a few dozen microseconds pairs them every time).
 */
class OpenOperations {
  private readonly dense: (Operation | undefined)[] = [];
  private sparse: Map<number, Operation | undefined> | undefined;

  get(process: number): Operation | undefined {
    if (process >= 0 && process < DENSE_PROCESSES_MAX) return this.dense[process];
    return this.sparse?.get(process);
  }

  set(process: number, operation: Operation | undefined): void {
    if (process >= 0 && process < DENSE_PROCESSES_MAX) this.dense[process] = operation;
    else (this.sparse ??= new Map()).set(process, operation);
  }
}
