// The term and leader that every response carries (X-Raft-Term, X-Raft-Leader), without asking
// Raft for its full status on every response: status() copies members and per-follower progress
// (about 2 µs here, and a forwarded write would pay it three times). The 'leader' event
// refreshes the view at once when the leader changes; a term change under the same leader (it won
// again) shows within VIEW_TTL_MS. The headers are hints for clients; routing still reads status().

import type { ConsensusNode } from './consensus.js';

/** How stale the term in the headers may be when the leader did not change. */
export const VIEW_TTL_MS = 100;

export interface LeaderViewSnapshot {
  id: string;
  term: number;
  leaderId: string | null;
}

export class LeaderView {
  private snapshot: LeaderViewSnapshot | undefined;
  private takenAt = 0;
  private watched: ConsensusNode | undefined;

  /** `node` is a getter because the Raft node may start after the routes are mounted. */
  constructor(private readonly node: () => ConsensusNode) {}

  /** This node's id, term and leader as of at most VIEW_TTL_MS ago; undefined before Raft starts. */
  current(): LeaderViewSnapshot | undefined {
    const now = performance.now();
    if (this.snapshot !== undefined && now - this.takenAt < VIEW_TTL_MS) return this.snapshot;
    let node: ConsensusNode;
    try {
      node = this.node();
      const { id, term, leaderId } = node.status();
      this.snapshot = { id, term, leaderId };
    } catch {
      return undefined;
    }
    this.takenAt = now;
    if (this.watched !== node) {
      this.watched = node;
      node.on('leader', (leaderId, term) => {
        if (this.watched !== node || this.snapshot === undefined) return;
        this.snapshot = { id: this.snapshot.id, term, leaderId };
        this.takenAt = performance.now();
      });
    }
    return this.snapshot;
  }
}
