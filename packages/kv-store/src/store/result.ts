// What applying a command returns. It is computed identically on every replica, kept in the
// client's session for duplicates, and mapped to HTTP by the server.

export type WriteResult =
  | { status: 'ok'; op: 'put'; created: boolean; revision: number; version: number }
  | { status: 'ok'; op: 'delete'; deleted: boolean; revision: number; prevVersion: number | null }
  /** The If-Match / If-None-Match guard did not hold; nothing was written. */
  | { status: 'precondition_failed'; revision: number; currentVersion: number | null }
  /** A request older than the client's latest one: its answer is gone, it was not applied. */
  | { status: 'stale_request'; lastSeq: number }
  /** Re-delivered after a restart: the store already holds this index's effects. */
  | { status: 'replayed'; index: number };

export interface ApplyOutcome {
  result: WriteResult;
  /** True when the result came from the session table instead of executing again. */
  duplicate: boolean;
}
