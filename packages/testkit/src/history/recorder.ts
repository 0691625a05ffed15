// Records a history while concurrent clients run against a system under test. Each client is a
// "process" with at most one operation in flight; `invoke` returns a handle on which exactly one
// of ok / fail / info is called. A timeout or a lost response must be recorded with `info`: the
// operation may or may not have taken effect, and the checker treats it as open-ended.

import { writeFileAtomic } from '@ddia/common';
import { HistoryRecorderError } from './errors.js';
import type { HistoryEvent } from './event.js';

/** Completes one recorded operation, exactly once. */
export interface OpHandle {
  /** The operation took effect; `value` is its result (e.g. what a read returned). */
  ok(value?: unknown): void;
  /** The operation certainly did not take effect (e.g. a cas whose comparison failed). */
  fail(value?: unknown): void;
  /** The outcome is unknown (timeout, connection lost): it may take effect later or never. */
  info(value?: unknown): void;
}

export interface HistoryRecorderOptions {
  /** Monotonic milliseconds; performance.now() unless a test injects a manual clock. */
  nowMs?: () => number;
}

export class HistoryRecorder {
  private readonly log: HistoryEvent[] = [];
  private readonly busy = new Set<number>();
  private readonly nowMs: () => number;

  constructor(options: HistoryRecorderOptions = {}) {
    this.nowMs = options.nowMs ?? (() => performance.now());
  }

  invoke(process: number, f: string, value: unknown = null, key?: string): OpHandle {
    if (!Number.isInteger(process))
      throw new HistoryRecorderError(`process must be an integer, got ${process}`);
    if (this.busy.has(process)) {
      throw new HistoryRecorderError(
        `process ${process} already has an operation in flight; use one process per concurrent client`,
      );
    }
    this.busy.add(process);
    this.push({ process, type: 'invoke', f, value, timeMs: this.nowMs() }, key);
    let done = false;
    const complete = (type: 'ok' | 'fail' | 'info', result: unknown): void => {
      if (done) throw new HistoryRecorderError(`operation ${f} of process ${process} completed twice`);
      done = true;
      this.busy.delete(process);
      this.push(
        { process, type, f, value: result === undefined ? value : result, timeMs: this.nowMs() },
        key,
      );
    };
    return {
      ok: (result?: unknown) => complete('ok', result),
      fail: (result?: unknown) => complete('fail', result),
      info: (result?: unknown) => complete('info', result),
    };
  }

  /** A copy of the events so far, in real-time order. */
  events(): HistoryEvent[] {
    return this.log.map((e) => ({ ...e }));
  }

  toJSON(): HistoryEvent[] {
    return this.events();
  }

  /** Writes the history as a JSON array, one event per line (readable by parseJsonHistory). */
  async writeFile(path: string): Promise<void> {
    await writeFileAtomic(path, formatJsonHistory(this.log));
  }

  private push(event: HistoryEvent, key: string | undefined): void {
    if (key !== undefined) event.key = key;
    // Values are stored as JSON would read them back, so a file replays to the same history.
    event.value = event.value === undefined ? null : JSON.parse(JSON.stringify(event.value) ?? 'null');
    this.log.push(event);
  }
}

/** The JSON history format: an array with one event per line, so diffs and errors have lines. */
export function formatJsonHistory(events: readonly HistoryEvent[]): string {
  if (events.length === 0) return '[]\n';
  return `[\n${events.map((e) => JSON.stringify(e)).join(',\n')}\n]\n`;
}
