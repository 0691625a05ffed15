// Named errors for bad histories: bad input is reported, never asserted.

/**
 * A history file that cannot be read: carries the 1-based line (and column, when the parser knows
 * it) and what was expected there. `reason` is the message without the position.
 */
export class HistoryParseError extends Error {
  override name = 'HistoryParseError';
  readonly reason: string;
  constructor(
    readonly line: number,
    readonly expected: string,
    readonly found?: string,
    readonly column?: number,
  ) {
    const reason = `expected ${expected}${found === undefined ? '' : `, found ${found}`}`;
    super(`line ${line}${column === undefined ? '' : `, column ${column}`}: ${reason}`);
    this.reason = reason;
  }
}

/**
 * A sequence of events that is not a history: a completion without an invocation, or a second
 * invocation by a process whose previous operation is still open. `eventIndex` is 0-based.
 */
export class MalformedHistoryError extends Error {
  override name = 'MalformedHistoryError';
  constructor(
    readonly eventIndex: number,
    readonly expected: string,
  ) {
    super(`event ${eventIndex}: expected ${expected}`);
  }
}

/** Misuse of the recorder: completing an operation twice, or invoking on a busy process. */
export class HistoryRecorderError extends Error {
  override name = 'HistoryRecorderError';
}
