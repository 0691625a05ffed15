// Failure detectors for the book's "timeouts and unbounded delays" (DDIA ch. 8): a node that
// stops answering may be dead, paused (GC, SIGSTOP) or behind a slow network, and a detector
// can only guess. Two guesses side by side:
//
// - FixedTimeoutDetector: suspect once no heartbeat arrived for `timeoutMs`.
// - PhiAccrualDetector (Hayashibara, Défago, Yared, Katayama, "The φ Accrual Failure
//   Detector", SRDS 2004): keep a window of recent heartbeat inter-arrival times, model them
//   as a normal distribution, and report φ = -log10(P(a heartbeat arrives later than now)).
//   φ = 1 means a 10 % chance the node is fine, φ = 8 one in 10^8. The threshold is a
//   confidence, not a duration, and the detector adapts to the network it watches.
//
// Both are pure: the caller passes the time of each heartbeat and of each question.

export interface FailureDetector {
  heartbeat(nowMs: number): void;
  /** Whether the node is suspected at `nowMs`. */
  suspect(nowMs: number): boolean;
}

export class FixedTimeoutDetector implements FailureDetector {
  private lastMs: number | null = null;
  constructor(readonly timeoutMs: number) {}
  heartbeat(nowMs: number): void {
    this.lastMs = nowMs;
  }
  suspect(nowMs: number): boolean {
    return this.lastMs !== null && nowMs - this.lastMs > this.timeoutMs;
  }
}

export interface PhiOptions {
  /** Suspect when φ exceeds this (Akka and Cassandra default to 8). */
  threshold: number;
  /** How many inter-arrival times the estimate remembers. */
  windowSize?: number;
  /** A floor on the standard deviation: a perfectly regular sender would otherwise make φ explode. */
  minStdDevMs?: number;
  /** Extra pause tolerated on top of the estimate (Akka's acceptable-heartbeat-pause). */
  acceptablePauseMs?: number;
  /** Seeds the window before the first interval is seen, so that φ is defined from the start. */
  firstIntervalMs?: number;
}

export const PHI_WINDOW_DEFAULT = 200;
export const PHI_MIN_STD_DEV_DEFAULT_MS = 100;

export class PhiAccrualDetector implements FailureDetector {
  private readonly intervals: number[] = [];
  private next = 0;
  private sum = 0;
  private sumSquares = 0;
  private lastMs: number | null = null;
  readonly threshold: number;
  private readonly windowSize: number;
  private readonly minStdDevMs: number;
  private readonly acceptablePauseMs: number;

  constructor(options: PhiOptions) {
    this.threshold = options.threshold;
    this.windowSize = options.windowSize ?? PHI_WINDOW_DEFAULT;
    this.minStdDevMs = options.minStdDevMs ?? PHI_MIN_STD_DEV_DEFAULT_MS;
    this.acceptablePauseMs = options.acceptablePauseMs ?? 0;
    if (options.firstIntervalMs !== undefined) {
      // As Akka does: two made-up intervals around the expected one give a sane first estimate.
      this.record(options.firstIntervalMs - options.firstIntervalMs / 4);
      this.record(options.firstIntervalMs + options.firstIntervalMs / 4);
    }
  }

  private record(intervalMs: number): void {
    if (this.intervals.length < this.windowSize) this.intervals.push(intervalMs);
    else {
      const old = this.intervals[this.next]!;
      this.sum -= old;
      this.sumSquares -= old * old;
      this.intervals[this.next] = intervalMs;
      this.next = (this.next + 1) % this.windowSize;
    }
    this.sum += intervalMs;
    this.sumSquares += intervalMs * intervalMs;
  }

  heartbeat(nowMs: number): void {
    if (this.lastMs !== null) this.record(nowMs - this.lastMs);
    this.lastMs = nowMs;
  }

  get meanMs(): number {
    return this.intervals.length === 0 ? 0 : this.sum / this.intervals.length;
  }

  get stdDevMs(): number {
    const n = this.intervals.length;
    if (n === 0) return this.minStdDevMs;
    const mean = this.sum / n;
    const variance = Math.max(0, this.sumSquares / n - mean * mean);
    return Math.max(Math.sqrt(variance), this.minStdDevMs);
  }

  /** φ at `nowMs`; 0 before two heartbeats give an estimate. */
  phi(nowMs: number): number {
    if (this.lastMs === null || this.intervals.length === 0) return 0;
    const elapsed = nowMs - this.lastMs;
    const mean = this.meanMs + this.acceptablePauseMs;
    return phiOfNormal(elapsed, mean, this.stdDevMs);
  }

  suspect(nowMs: number): boolean {
    return this.phi(nowMs) > this.threshold;
  }
}

/**
 * -log10 of the normal distribution's upper tail at `x`, computed from the logistic
 * approximation of the normal CDF (Bowling et al. 2009), which stays finite far into the tail
 * where 1 - CDF would round to 0.
 */
export function phiOfNormal(x: number, mean: number, stdDev: number): number {
  const y = (x - mean) / stdDev;
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
  if (x > mean) return -Math.log10(e / (1 + e));
  return -Math.log10(1 - 1 / (1 + e));
}
