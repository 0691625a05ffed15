// Event-time windows (DDIA ch. 11 "Reasoning About Time"; Kafka Streams' TimeWindows and
// SessionWindows, Flink's window assigners). Pure: windows are computed from a record's event
// timestamp alone, never from the clock of the machine processing it.
//
//   tumbling  fixed size, no overlap: every record is in exactly one window
//   hopping   fixed size, advancing by `advanceMs` < size: a record is in size/advance windows
//   session   no fixed boundaries: records of one key closer than `gapMs` share a session;
//             a record between two sessions merges them
//
// A window closes once stream time (the largest event timestamp seen so far) passes its end
// by the grace period; records for a closed window are late and dropped (reported, not lost
// silently). Stream time minus grace is the watermark: "no record older than this is expected".

export interface TimeWindowSpec {
  kind: 'tumbling' | 'hopping';
  sizeMs: number;
  advanceMs: number;
  graceMs: number;
}

export interface SessionWindowSpec {
  kind: 'session';
  gapMs: number;
  graceMs: number;
}

export type WindowSpec = TimeWindowSpec | SessionWindowSpec;

function checkMs(what: string, ms: number, min: number): void {
  if (!Number.isSafeInteger(ms) || ms < min)
    throw new RangeError(`${what} must be an integer >= ${min}, got ${ms}`);
}

export function tumbling(sizeMs: number, options: { graceMs?: number } = {}): TimeWindowSpec {
  checkMs('window size', sizeMs, 1);
  checkMs('grace', options.graceMs ?? 0, 0);
  return { kind: 'tumbling', sizeMs, advanceMs: sizeMs, graceMs: options.graceMs ?? 0 };
}

export function hopping(
  sizeMs: number,
  advanceMs: number,
  options: { graceMs?: number } = {},
): TimeWindowSpec {
  checkMs('window size', sizeMs, 1);
  checkMs('advance', advanceMs, 1);
  if (advanceMs > sizeMs)
    throw new RangeError(`advance ${advanceMs} must not exceed the window size ${sizeMs}`);
  checkMs('grace', options.graceMs ?? 0, 0);
  return { kind: 'hopping', sizeMs, advanceMs, graceMs: options.graceMs ?? 0 };
}

export function session(gapMs: number, options: { graceMs?: number } = {}): SessionWindowSpec {
  checkMs('session gap', gapMs, 1);
  checkMs('grace', options.graceMs ?? 0, 0);
  return { kind: 'session', gapMs, graceMs: options.graceMs ?? 0 };
}

/** A window [start, end): start inclusive, end exclusive (sessions: end is the last record's time). */
export interface Window {
  start: number;
  end: number;
}

function floorTo(x: number, step: number): number {
  return Math.floor(x / step) * step;
}

/** The time windows holding event time `ts`, oldest first. */
export function windowsFor(spec: TimeWindowSpec, ts: number): Window[] {
  const out: Window[] = [];
  const lastStart = floorTo(ts, spec.advanceMs);
  for (let start = lastStart; start > ts - spec.sizeMs; start -= spec.advanceMs) {
    out.push({ start, end: start + spec.sizeMs });
  }
  return out.reverse();
}

/** When a window stops accepting records: stream time at or past this closes it. */
export function closeTime(spec: WindowSpec, window: Window): number {
  // A session can still grow by a record up to `gap` after its end.
  return spec.kind === 'session' ? window.end + spec.gapMs + spec.graceMs : window.end + spec.graceMs;
}

export function isClosed(spec: WindowSpec, window: Window, streamTime: number): boolean {
  return streamTime >= closeTime(spec, window);
}

/** Watermark: records with event time below it are expected no more (stream time - grace). */
export function watermark(spec: WindowSpec, streamTime: number): number {
  return streamTime - spec.graceMs;
}

export interface Session<A> extends Window {
  agg: A;
}

/**
 * Places a record at `ts` among a key's sessions (sorted, disjoint): every session within
 * `gap` of ts merges with the record into one. Returns the sessions that were merged away
 * (to retract) and the resulting session; `merge` combines two aggregates.
 */
export function mergeSessions<A>(
  spec: SessionWindowSpec,
  sessions: Session<A>[],
  ts: number,
  fresh: A,
  merge: (a: A, b: A) => A,
): { merged: Session<A>[]; result: Session<A>; kept: Session<A>[] } {
  const merged: Session<A>[] = [];
  const kept: Session<A>[] = [];
  let result: Session<A> = { start: ts, end: ts, agg: fresh };
  for (const s of sessions) {
    if (s.end + spec.gapMs >= ts && s.start - spec.gapMs <= ts) {
      merged.push(s);
      result = {
        start: Math.min(result.start, s.start),
        end: Math.max(result.end, s.end),
        agg: merge(s.agg, result.agg),
      };
    } else {
      kept.push(s);
    }
  }
  kept.push(result);
  kept.sort((a, b) => a.start - b.start);
  return { merged, result, kept };
}

/**
 * Join windows of a windowed stream-stream join (Kafka Streams' JoinWindows): a left record
 * at t joins the right records of the same key with timestamps in [t - beforeMs, t + afterMs]
 * (symmetric by default: |tLeft - tRight| <= timeDifferenceMs).
 */
export interface JoinWindowSpec {
  kind: 'join';
  beforeMs: number;
  afterMs: number;
  graceMs: number;
}

export function joinWindows(
  timeDifferenceMs: number,
  options: { graceMs?: number; beforeMs?: number; afterMs?: number } = {},
): JoinWindowSpec {
  checkMs('time difference', timeDifferenceMs, 0);
  const spec: JoinWindowSpec = {
    kind: 'join',
    beforeMs: options.beforeMs ?? timeDifferenceMs,
    afterMs: options.afterMs ?? timeDifferenceMs,
    graceMs: options.graceMs ?? 0,
  };
  checkMs('before', spec.beforeMs, 0);
  checkMs('after', spec.afterMs, 0);
  checkMs('grace', spec.graceMs, 0);
  return spec;
}

/**
 * How long a buffered join record must be kept: until no record of the other side that is
 * not yet late could still fall in its window. Dropped once stream time passes the result.
 */
export function joinRetainUntil(spec: JoinWindowSpec, ts: number): number {
  return ts + spec.beforeMs + spec.afterMs + spec.graceMs;
}
