// The safety properties of Raft (Figure 3), checked while the simulation runs:
//   Election Safety       at most one leader per term
//   Log Matching          same index and term => same entry and same history before it
//   Leader Completeness   an entry committed in term c is in the log of every leader of a term > c
//   State Machine Safety  no two nodes apply different entries at one index
// plus: a committed entry never changes, and a ReadIndex read never returns an index below
// what was already committed when the read started (linearizable reads, diss. §6.4).
import type { Raft } from '../core/raft.js';
import type { Entry, NodeId } from '../core/types.js';

export class InvariantViolation extends Error {
  override name = 'InvariantViolation';
}

/** One way a node's log may look to a voter: its in-memory log, or (after a crash) its disk. */
export interface LogView {
  lastIndex: number;
  lastTerm: number;
  /** The term at `index`, 'compacted' if covered by its snapshot, undefined if absent. */
  termAt(index: number): number | 'compacted' | undefined;
}

export function entryKey(e: Entry): string {
  let hex = '';
  for (const b of e.data) hex += b.toString(16).padStart(2, '0');
  return `${e.term}/${e.type}/${hex}`;
}

interface CommittedEntry {
  term: number;
  key: string;
  /** The lowest term at which some node knew this entry was committed. */
  commitTerm: number;
}

export class SafetyChecker {
  private readonly leaders = new Map<number, NodeId>();
  /** `${index}:${term}` -> `${prevTerm}|${entryKey}` for Log Matching. */
  private readonly entries = new Map<string, string>();
  private readonly committed: CommittedEntry[] = [];
  private readonly appliedHashes: number[] = [];
  private readonly commitSeen = new Map<NodeId, number>();
  private readonly wasLeader = new Map<NodeId, number>();
  /** Indexes whose commit was first seen (or seen at a lower term) since the last leader check. */
  private fresh: number[] = [];
  maxCommitted = 0;
  checks = 0;

  private fail(what: string): never {
    throw new InvariantViolation(what);
  }

  /** Called with the entries a node has just persisted; `termAt` reads its log on disk. (Not
   *  its log in memory: a Ready spends time "on its way to disk" while the node steps more
   *  messages, and a conflicting append may already have replaced the entries in memory.) */
  persisted(id: NodeId, termAt: (index: number) => number | undefined | 'compacted', entries: Entry[]): void {
    for (const e of entries) {
      const prevTerm = termAt(e.index - 1);
      if (prevTerm === undefined || prevTerm === 'compacted') continue;
      const k = `${e.index}:${e.term}`;
      const v = `${prevTerm}|${entryKey(e)}`;
      const seen = this.entries.get(k);
      if (seen === undefined) this.entries.set(k, v);
      else if (seen !== v) {
        this.fail(`Log Matching: ${id} holds entry ${k} as ${v}, another node held ${seen}`);
      }
    }
  }

  applied(id: NodeId, index: number, stateHash: number): void {
    const seen = this.appliedHashes[index];
    if (seen === undefined) this.appliedHashes[index] = stateHash;
    else if (seen !== stateHash) {
      this.fail(
        `State Machine Safety: ${id} reached state ${stateHash} at index ${index}, another node ${seen}`,
      );
    }
  }

  /** Called after every event that touched node `id`. */
  observe(id: NodeId, raft: Raft): void {
    this.checks++;
    if (raft.role === 'leader') {
      const holder = this.leaders.get(raft.term);
      if (holder === undefined) this.leaders.set(raft.term, id);
      else if (holder !== id)
        this.fail(`Election Safety: ${holder} and ${id} are both leaders of term ${raft.term}`);
      if (this.wasLeader.get(id) !== raft.term) {
        this.wasLeader.set(id, raft.term);
        for (let i = 1; i < this.committed.length; i++) this.checkLeaderHas(id, raft, i);
      }
    }
    const from = (this.commitSeen.get(id) ?? 0) + 1;
    const to = raft.log.committed;
    for (let i = from; i <= to; i++) {
      const e = raft.log.entry(i);
      if (!e) continue; // compacted into a snapshot: it was checked when it was committed
      const known = this.committed[i];
      if (known === undefined) {
        this.committed[i] = { term: e.term, key: entryKey(e), commitTerm: raft.term };
        this.fresh.push(i);
      } else {
        if (known.key !== entryKey(e)) {
          this.fail(`committed entry changed: ${id} committed ${entryKey(e)} at ${i}, earlier ${known.key}`);
        }
        if (raft.term < known.commitTerm) {
          known.commitTerm = raft.term;
          this.fresh.push(i);
        }
      }
      this.maxCommitted = Math.max(this.maxCommitted, i);
    }
    if (to >= from) this.commitSeen.set(id, to);
  }

  /** After new commits, every current leader of a later term must hold them. */
  checkLeaders(leaders: { id: NodeId; raft: Raft }[]): void {
    if (this.fresh.length === 0) return;
    for (const { id, raft } of leaders) {
      for (const i of this.fresh) this.checkLeaderHas(id, raft, i);
    }
    this.fresh = [];
  }

  private checkLeaderHas(id: NodeId, raft: Raft, index: number): void {
    const c = this.committed[index];
    if (!c || c.commitTerm >= raft.term) return;
    if (index <= raft.log.snapshotMeta.index) return;
    const t = raft.log.term(index);
    if (t !== c.term) {
      this.fail(
        `Leader Completeness: leader ${id} of term ${raft.term} lacks entry ${index} (term ${c.term}) committed in term ${c.commitTerm}`,
      );
    }
  }

  /** Leader Completeness, checked before any election happens: no node missing the newest
   *  committed entry may be able to collect votes from a majority, i.e. be at least as
   *  up-to-date (§5.4.1) as a quorum of voters. Each node offers every log it might present
   *  (in memory, or on disk after a crash); a voter is judged by its weakest one. This is the
   *  argument of §5.4.3 turned into a check, and it catches Figure 8 the moment an old-term
   *  entry is counted committed, before a later election exploits it. */
  checkPotentialLeaders(nodes: { id: NodeId; views: LogView[] }[], quorum: number): void {
    const c = this.maxCommitted;
    const committed = this.committed[c];
    if (c === 0 || !committed) return;
    const weakest = nodes.map(({ views }) =>
      views.reduce((w, v) =>
        v.lastTerm < w.lastTerm || (v.lastTerm === w.lastTerm && v.lastIndex < w.lastIndex) ? v : w,
      ),
    );
    for (const { id, views } of nodes) {
      for (const v of views) {
        const t = v.termAt(c);
        if (t === 'compacted' || t === committed.term) continue;
        let votes = 0;
        for (const w of weakest) {
          if (v.lastTerm > w.lastTerm || (v.lastTerm === w.lastTerm && v.lastIndex >= w.lastIndex)) votes++;
        }
        if (votes >= quorum) {
          this.fail(
            `Leader Completeness (potential): ${id} lacks committed entry ${c} (term ${committed.term}) ` +
              `but its log (last ${v.lastIndex}/t${v.lastTerm}) could win votes from ${votes} of ${nodes.length}`,
          );
        }
      }
    }
  }

  /** A write acknowledged to its client as applied at `index` in `term` must be the entry
   *  committed there (called after the node's commit was observed). */
  acknowledged(id: NodeId, index: number, term: number): void {
    const c = this.committed[index];
    if (c === undefined)
      this.fail(`acknowledged write: ${id} acknowledged index ${index}, never seen committed`);
    if (c.term !== term) {
      this.fail(
        `acknowledged write: ${id} acknowledged ${index} in term ${term}, but term ${c.term} committed there`,
      );
    }
  }

  readReturned(id: NodeId, readIndex: number, committedAtStart: number): void {
    if (readIndex < committedAtStart) {
      this.fail(
        `linearizable read: ${id} read at index ${readIndex} but ${committedAtStart} was committed before`,
      );
    }
  }
}
