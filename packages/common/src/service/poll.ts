// One way to wait for something outside the program: a node to answer /health, a job to
// finish, a proxy to come up. Poll at a fixed interval until the check says "done" or the
// deadline passes; then fail with a named error that says what was awaited and for how long.
import { SystemClock, type TimerClock } from '../core/clock.js';

/** Pause between checks unless the caller says otherwise. */
export const POLL_INTERVAL_MS_DEFAULT = 100;

export interface PollOptions {
  /** Give up after this long (the last check may start just before it). */
  timeoutMs: number;
  intervalMs?: number;
  /** What is awaited, for the error message ("kv-n1 to answer /health"). */
  what: string;
  /** Whose time the deadline and the pauses are measured on (a simulation's manual clock, a
   *  service's skewable one); the process clock unless given. */
  clock?: TimerClock;
}

const PROCESS_CLOCK = new SystemClock();

/** Thrown by `pollUntil` when the deadline passes first. */
export class PollTimeoutError extends Error {
  override name = 'PollTimeoutError';
  readonly code = 'DDIA_ERR_POLL_TIMEOUT';
}

/**
 * Calls `check` until it returns something other than `undefined` or `false`, and resolves with
 * that. An exception from `check` ends the wait with that exception (a check that should retry
 * on errors catches them itself: only the caller knows which errors are transient).
 */
export async function pollUntil<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: PollOptions,
): Promise<T> {
  const interval = options.intervalMs ?? POLL_INTERVAL_MS_DEFAULT;
  const clock = options.clock ?? PROCESS_CLOCK;
  const deadline = clock.nowMs() + options.timeoutMs;
  for (;;) {
    const result = await check();
    if (result !== undefined && result !== false) return result;
    if (clock.nowMs() + interval > deadline) {
      throw new PollTimeoutError(`timed out after ${options.timeoutMs} ms waiting for ${options.what}`);
    }
    await new Promise<void>((resolve) => clock.setTimeout(resolve, interval));
  }
}
