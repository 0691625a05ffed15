// The shape of a history, as Jepsen records it (Kingsbury, "Jepsen" and Knossos): every client
// operation is two events, an `invoke` when the client sends it and a completion when it learns
// the outcome. `ok` means it took effect, `fail` means it certainly did not, and `info` means the
// client cannot tell (a timeout, a lost response): it may take effect at any time after its
// invocation, or never. DDIA ch. 9 "Linearizability" reasons about exactly these intervals.

export type EventType = 'invoke' | 'ok' | 'fail' | 'info';

export const EVENT_TYPES: readonly EventType[] = ['invoke', 'ok', 'fail', 'info'];

/** One event of a history. JSON-serialisable; a history lists events in real-time order. */
export interface HistoryEvent {
  /** The logical client that issued the operation; one operation in flight per process. */
  process: number;
  type: EventType;
  /** The operation's function: read, write, cas, get, put, append, delete, ... */
  f: string;
  /** The key for key-value histories; absent for a single register. */
  key?: string;
  /** On invoke, the argument; on completion, the result (e.g. the value a read returned). */
  value: unknown;
  /** Monotonic milliseconds (performance.now()) when the event happened. */
  timeMs: number;
}

/**
 * One operation: an invoke paired with its completion. `completeIndex` is the position of the
 * completion event in the history, or Infinity when the outcome is unknown (an `info`
 * completion, or no completion at all before the history ends).
 */
export interface Operation {
  /** Dense id, 0..n-1, in order of invocation. */
  id: number;
  process: number;
  f: string;
  key?: string;
  /** The invocation's value (the argument). */
  input: unknown;
  /** The completion's value (the result); undefined when the outcome is unknown. */
  output: unknown;
  status: 'ok' | 'fail' | 'info';
  invokeIndex: number;
  completeIndex: number;
  invokeMs: number;
  /** Infinity when the outcome is unknown. */
  completeMs: number;
}
