// Membership and quorums. This library changes membership one server at a time (dissertation
// §4.1): any two majorities of configurations that differ by one voter overlap, so no joint
// consensus is needed. A change takes effect on a node when its entry is committed there; the
// leader allows a new change only once the previous one is committed and it has committed
// an entry of its own term (the fix for the single-server bug, raft-dev 2015, §4.1 errata).
import type { ConfChange, ConfState, Member, NodeId } from './types.js';

export class Membership {
  private readonly members = new Map<NodeId, Member>();
  /** voters(), kept until the membership changes: the leader asks on every proposal and ack. */
  private voterIds: readonly NodeId[] | null = null;
  /** Scratch for committedIndex, reused so that a commit check allocates nothing. */
  private readonly matches: number[] = [];

  constructor(conf: ConfState) {
    for (const m of conf.members) this.members.set(m.id, { ...m });
  }

  toConfState(): ConfState {
    return {
      members: [...this.members.values()].map((m) => ({ ...m })).sort((a, b) => (a.id < b.id ? -1 : 1)),
    };
  }

  voters(): readonly NodeId[] {
    this.voterIds ??= [...this.members.values()].filter((m) => m.voter).map((m) => m.id);
    return this.voterIds;
  }

  all(): NodeId[] {
    return [...this.members.keys()];
  }

  isVoter(id: NodeId): boolean {
    return this.members.get(id)?.voter === true;
  }

  has(id: NodeId): boolean {
    return this.members.has(id);
  }

  get(id: NodeId): Member | undefined {
    return this.members.get(id);
  }

  quorum(): number {
    return Math.floor(this.voters().length / 2) + 1;
  }

  apply(cc: ConfChange): void {
    this.voterIds = null;
    switch (cc.kind) {
      case 'addVoter':
      case 'addLearner': {
        const prev = this.members.get(cc.id);
        this.members.set(cc.id, { id: cc.id, url: cc.url ?? prev?.url, voter: cc.kind === 'addVoter' });
        return;
      }
      case 'remove':
        this.members.delete(cc.id);
        return;
    }
  }

  /** The quorum-th highest value among voters: the index a majority has reached. */
  committedIndex(matchOf: (id: NodeId) => number): number {
    const voters = this.voters();
    if (voters.length === 0) return 0;
    const matches = this.matches;
    matches.length = 0;
    // Insertion sort, highest first: a handful of voters, and no array or closure per call.
    for (const id of voters) {
      const m = matchOf(id);
      let i = matches.length;
      matches.push(m);
      while (i > 0 && matches[i - 1] < m) {
        matches[i] = matches[i - 1];
        i--;
      }
      matches[i] = m;
    }
    return matches[this.quorum() - 1];
  }

  /** Election tally: 'won', 'lost' or 'pending'. */
  voteResult(votes: Map<NodeId, boolean>): 'won' | 'lost' | 'pending' {
    let granted = 0;
    let rejected = 0;
    const voters = this.voters();
    for (const id of voters) {
      const v = votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    const q = this.quorum();
    if (granted >= q) return 'won';
    if (voters.length - rejected < q) return 'lost';
    return 'pending';
  }
}
