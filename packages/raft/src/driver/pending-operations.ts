// The proposals a node waits on, until the entry they became is applied (or can no longer be):
// its own, keyed by the log index the leader gave them, and those it forwarded to the leader
// inside a Raft message, keyed by their tag (proposal-tag.ts), since a follower learns their
// index only when it applies them. Each has a timer; whatever settles first wins.
import type { TimerClock } from '@ddia/common/core';
import type { Entry, SnapshotMeta } from '../core/types.js';
import { ProposalDroppedError, ProposalNotCommittedError, RaftTimeoutError } from '../errors.js';

export interface ProposeOutcome<R> {
  index: number;
  term: number;
  /** What the state machine's apply returned for this command. */
  result: R;
}

interface PendingProposal<R> {
  resolve(value: ProposeOutcome<R>): void;
  reject(err: unknown): void;
  timer: { cancel(): void };
  term: number;
}

export class PendingOperations<R> {
  private readonly local = new Map<number, PendingProposal<R>>();
  private readonly forwarded = new Map<string, PendingProposal<R>>();

  constructor(private readonly clock: TimerClock) {}

  get size(): number {
    return this.local.size + this.forwarded.size;
  }

  /** A proposal this node appended as leader at `index` in `term`. */
  trackLocal(index: number, term: number, timeoutMs: number): Promise<ProposeOutcome<R>> {
    return this.track(this.local, index, term, timeoutMs, `proposal at index ${index}`);
  }

  /** A proposal sent to `leaderId` in `term`, recognised on apply by its tag `key`. */
  trackForwarded(key: string, term: number, leaderId: string, timeoutMs: number): Promise<ProposeOutcome<R>> {
    return this.track(this.forwarded, key, term, timeoutMs, `proposal forwarded to ${leaderId}`);
  }

  /** Waits in `map` under `key` until answered, or rejects with a timeout naming `what`. */
  private track<K>(
    map: Map<K, PendingProposal<R>>,
    key: K,
    term: number,
    timeoutMs: number,
    what: string,
  ): Promise<ProposeOutcome<R>> {
    return new Promise<ProposeOutcome<R>>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        map.delete(key);
        reject(new RaftTimeoutError(what, timeoutMs));
      }, timeoutMs);
      map.set(key, { resolve, reject, timer, term });
    });
  }

  /** Answers whoever waits on `e`: its result if it is their entry, else "not committed". */
  applied(e: Entry, result: R, tag: string): void {
    const pending = this.local.get(e.index);
    if (pending) {
      this.local.delete(e.index);
      pending.timer.cancel();
      if (pending.term === e.term) pending.resolve({ index: e.index, term: e.term, result });
      else pending.reject(new ProposalNotCommittedError(`index ${e.index} was taken by term ${e.term}`));
    }
    if (tag !== '') {
      const mine = this.forwarded.get(tag);
      if (mine) {
        this.forwarded.delete(tag);
        mine.timer.cancel();
        mine.resolve({ index: e.index, term: e.term, result });
      }
    }
  }

  /**
   * Refuses forwarded proposals that can no longer commit: an entry of a later term is
   * applied, and the leader appends a forwarded proposal only in the term it was sent in.
   */
  appliedTerm(appliedTerm: number): void {
    if (this.forwarded.size === 0) return;
    for (const [key, p] of this.forwarded) {
      if (p.term < appliedTerm) {
        this.forwarded.delete(key);
        p.timer.cancel();
        p.reject(
          new ProposalNotCommittedError(
            `forwarded in term ${p.term}; term ${appliedTerm} is applied without it`,
          ),
        );
      }
    }
  }

  /** A snapshot from the leader replaced the log up to `meta`: what it covers has an unknown outcome. */
  replacedBySnapshot(meta: SnapshotMeta): void {
    for (const [index, p] of this.local) {
      if (index <= meta.index) {
        this.local.delete(index);
        p.timer.cancel();
        p.reject(new ProposalDroppedError(`index ${index} was replaced by a snapshot; outcome unknown`));
      }
    }
    // A forwarded proposal of the snapshot's term or older is inside it or lost: unknown.
    for (const [key, p] of this.forwarded) {
      if (p.term <= meta.term) {
        this.forwarded.delete(key);
        p.timer.cancel();
        p.reject(new ProposalDroppedError('replaced by a snapshot before it was seen; outcome unknown'));
      }
    }
  }

  rejectAll(err: unknown): void {
    for (const p of this.local.values()) {
      p.timer.cancel();
      p.reject(err);
    }
    this.local.clear();
    for (const f of this.forwarded.values()) {
      f.timer.cancel();
      f.reject(err);
    }
    this.forwarded.clear();
  }
}
