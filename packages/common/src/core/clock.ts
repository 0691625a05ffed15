// Time behind an interface, so that protocol code can run on a manual clock in simulation.

export interface Clock {
  /** Milliseconds on a monotonic clock (never goes backwards). */
  nowMs(): number;
  /** Wall-clock milliseconds since the Unix epoch (may jump; use for display and TTLs only). */
  wallMs(): number;
}

export interface TimerClock extends Clock {
  setTimeout(fn: () => void, delayMs: number): { cancel(): void };
}

/** The process clock. `skewMs` shifts both readings: chaos tests use it to simulate drift. */
export class SystemClock implements TimerClock {
  skewMs = 0;
  nowMs(): number {
    return performance.now() + this.skewMs;
  }
  wallMs(): number {
    return Date.now() + this.skewMs;
  }
  setTimeout(fn: () => void, delayMs: number): { cancel(): void } {
    const handle = setTimeout(fn, delayMs);
    return { cancel: () => clearTimeout(handle) };
  }
}

interface PendingTimer {
  dueMs: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that moves only when told to; timers fire in due order during `advance`. */
export class ManualClock implements TimerClock {
  private current: number;
  private seq = 0;
  private timers: PendingTimer[] = [];

  constructor(
    startMs = 0,
    private readonly wallEpochMs = 1_700_000_000_000,
  ) {
    this.current = startMs;
  }

  nowMs(): number {
    return this.current;
  }
  wallMs(): number {
    return this.wallEpochMs + this.current;
  }
  setTimeout(fn: () => void, delayMs: number): { cancel(): void } {
    const timer: PendingTimer = {
      dueMs: this.current + Math.max(0, delayMs),
      seq: this.seq++,
      fn,
      cancelled: false,
    };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Moves time forward by `deltaMs`, firing every timer that falls due, in order. */
  advance(deltaMs: number): void {
    if (deltaMs < 0) throw new RangeError('a clock cannot go backwards');
    const target = this.current + deltaMs;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      this.timers.sort((a, b) => a.dueMs - b.dueMs || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.dueMs > target) break;
      this.timers.shift();
      this.current = next.dueMs;
      next.fn();
    }
    this.current = target;
  }
}
