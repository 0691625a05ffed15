// What a core hands its driver after each step (etcd-io/raft's Ready): records to make durable
// first, then messages to send and answers for clients. A driver must persist before it sends
// or answers: a replica's acknowledgement means "it is on my disk".
import type { DcQuorumWord } from './dc-quorum.js';
import type { ReplicationErrors } from './errors.js';
import type { KeyState, KeyView } from './key-state.js';
import type { NodeId } from './version-vector.js';

export type ErrorName = keyof typeof ReplicationErrors;

export type RequestResult =
  | { ok: true; view: KeyView | null; detail: Record<string, unknown> }
  | { ok: false; error: ErrorName; detail: string; extensions?: Record<string, unknown> };

export interface Reply {
  requestId: number;
  result: RequestResult;
  /**
   * The answer claims nothing that is still on its way to this node's disk (a synchronous
   * write confirmed by standbys: the leader ships only entries already durable here), so the
   * driver gives it at once instead of after the persists queued before it. Without it an
   * answer waits for every earlier persist, as PostgreSQL's backends do not: a standby's flush
   * LSN releases the waiters up to it, whatever WAL is being flushed after it.
   */
  now?: true;
}

export type KeyRecord =
  | { kind: 'key'; key: string; state: KeyState }
  /** A state held for an unreachable home replica (hinted handoff); null drops it. */
  | { kind: 'hint'; target: NodeId; key: string; state: KeyState | null };

export interface Envelope<M> {
  to: NodeId;
  msg: M;
}

export interface Ready<M, P = KeyRecord> {
  persist: P[];
  messages: Envelope<M>[];
  replies: Reply[];
}

export class ReadyBuffer<M, P = KeyRecord> {
  private current: Ready<M, P> = { persist: [], messages: [], replies: [] };

  persist(record: P): void {
    this.current.persist.push(record);
  }
  send(to: NodeId, msg: M): void {
    this.current.messages.push({ to, msg });
  }
  reply(requestId: number, result: RequestResult, now = false): void {
    this.current.replies.push(now ? { requestId, result, now } : { requestId, result });
  }
  fail(requestId: number, error: ErrorName, detail: string, extensions?: Record<string, unknown>): void {
    this.reply(requestId, { ok: false, error, detail, ...(extensions ? { extensions } : {}) });
  }
  drain(): Ready<M, P> {
    const out = this.current;
    this.current = { persist: [], messages: [], replies: [] };
    return out;
  }
}

/**
 * R or W as a client may write it: a count, or one / quorum / all of the N home replicas, or a
 * datacenter level (dc-quorum.ts).
 */
export type QuorumSpec = CountSpec | DcQuorumWord;
export type CountSpec = number | 'one' | 'quorum' | 'all';

export function resolveQuorum(spec: CountSpec, n: number): number {
  if (spec === 'one') return 1;
  if (spec === 'quorum') return Math.floor(n / 2) + 1;
  if (spec === 'all') return n;
  return spec;
}
