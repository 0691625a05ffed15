// Client sessions for at-most-once execution of retried writes (Raft dissertation §6.3;
// MIT 6.5840 kvraft): each client numbers its requests, the state machine remembers the last
// sequence number and its result per client, and a duplicate gets the stored answer instead of
// being executed twice. The table is bounded: when full, the client whose last write is
// oldest in the log is forgotten. Eviction depends only on the log, so every replica evicts
// the same sessions (the dissertation evicts by log order for exactly this reason).

import { assert } from '@ddia/common';
import type { WriteResult } from './result.js';

export const SESSIONS_MAX_DEFAULT = 10_000;

export interface Session {
  clientId: string;
  /** Sequence number of the client's last executed request. */
  seq: number;
  /** Log index at which it was executed; orders eviction. */
  index: number;
  result: WriteResult;
}

export class SessionTable {
  /** Insertion order = order of last use in the log, oldest first (Map keeps insertion order). */
  private readonly sessions = new Map<string, Session>();

  constructor(readonly sessionsMax: number = SESSIONS_MAX_DEFAULT) {
    assert(Number.isInteger(sessionsMax) && sessionsMax > 0, 'sessionsMax must be a positive integer');
  }

  get size(): number {
    return this.sessions.size;
  }

  get(clientId: string): Session | undefined {
    return this.sessions.get(clientId);
  }

  /** Records an executed request; returns the client ids evicted to stay within the bound. */
  record(session: Session): string[] {
    const previous = this.sessions.get(session.clientId);
    assert(!previous || previous.seq < session.seq, 'session sequence numbers only grow');
    this.sessions.delete(session.clientId);
    this.sessions.set(session.clientId, session);
    const evicted: string[] = [];
    while (this.sessions.size > this.sessionsMax) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
      evicted.push(oldest);
    }
    return evicted;
  }

  /** Replaces the table (restart or snapshot), ordering sessions by the index of their last use. */
  load(sessions: Session[]): string[] {
    this.sessions.clear();
    const evicted: string[] = [];
    for (const session of [...sessions].sort((a, b) => a.index - b.index)) {
      evicted.push(...this.record(session));
    }
    return evicted;
  }

  all(): Session[] {
    return [...this.sessions.values()];
  }
}
