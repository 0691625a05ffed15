// What the leader knows about each follower (Figure 2's nextIndex/matchIndex) plus the flow
// control of etcd-io/raft's Progress: a follower is probed one message at a time until its
// log matches, then fed a pipeline of appends bounded by `inflightMax`, or sent a snapshot
// when the entries it needs have been compacted away.

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  matchIndex = 0;
  nextIndex: number;
  state: ProgressState = 'probe';
  /** In probe state: an append is outstanding, wait for its answer or the next heartbeat. */
  probeSent = false;
  /** In replicate state: last index of each append in flight, oldest first. */
  inflights: number[] = [];
  /** In snapshot state: the snapshot index sent, and the leader tick it was sent at. */
  pendingSnapshot = 0;
  snapshotSentTick = 0;
  /** Heard from since the last CheckQuorum round (§6.2). */
  recentActive = false;
  /** For lease reads: the leader tick of the newest heartbeat this follower acknowledged. */
  ackedTick = -1;

  constructor(
    nextIndex: number,
    readonly inflightMax: number,
  ) {
    this.nextIndex = nextIndex;
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      this.nextIndex = Math.max(this.matchIndex + 1, this.pendingSnapshot + 1);
    } else {
      this.nextIndex = this.matchIndex + 1;
    }
    this.state = 'probe';
    this.probeSent = false;
    this.inflights = [];
    this.pendingSnapshot = 0;
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.nextIndex = this.matchIndex + 1;
    this.probeSent = false;
    this.inflights = [];
  }

  becomeSnapshot(index: number): void {
    this.state = 'snapshot';
    this.pendingSnapshot = index;
    this.inflights = [];
  }

  /** An acknowledgement up to `index`; returns whether it told us something new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.matchIndex) {
      this.matchIndex = index;
      updated = true;
      this.probeSent = false;
    }
    this.nextIndex = Math.max(this.nextIndex, index + 1);
    return updated;
  }

  /** Acknowledged appends free their slot in the pipeline. */
  freeTo(index: number): void {
    while (this.inflights.length > 0 && this.inflights[0] <= index) this.inflights.shift();
  }

  /** Paused: no new append until something comes back. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.length >= this.inflightMax;
      case 'snapshot':
        return true;
    }
  }

  sentAppend(lastIndex: number, entryCount: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.nextIndex = lastIndex + 1;
        this.inflights.push(lastIndex);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }
}
