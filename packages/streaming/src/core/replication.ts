// Kafka's partition replication, the pure part (DDIA ch. 5 "Leaders and followers", ch. 11 on
// Kafka's replicated logs): the leader of a partition tracks how far each follower has fetched,
// the in-sync replica set (ISR) and the high watermark; an acks=all append is acknowledged once
// the high watermark passes it, i.e. every replica of the ISR has it. Followers pull (a Fetch
// with their log end offset) and, after a leader change, cut their log back to where it agrees
// with the new leader's, found by leader epochs (KIP-101: OffsetsForLeaderEpoch) rather than by
// the high watermark, which loses or forks data in the cases KIP-101 lists.
//
// The broker drives it in cluster mode (--peers; src/cluster/replication.ts): replica
// fetches, acks=all waits, ISR changes through the metadata log. Tested here by a seeded
// simulation of three replicas with crashes and leader elections (test/replication.test.ts)
// and with real processes in test/cluster.it.test.ts.
//
// Pure: time comes in as numbers (ms), no I/O.

/** One leader epoch: the epoch number and the first offset written in it. */
export interface EpochStart {
  epoch: number;
  startOffset: number;
}

export interface ReplicaProgress {
  /** The follower's log end offset as of its last fetch (-1: not fetched yet this epoch). */
  logEndOffset: number;
  /** Last time its fetch reached the leader's log end (Kafka's lastCaughtUpTimeMs). */
  lastCaughtUpMs: number;
}

export interface LeaderOptions {
  leaderId: string;
  epoch: number;
  replicas: readonly string[];
  /** The ISR handed over by the controller (the leader itself included). */
  isr: readonly string[];
  logEndOffset: number;
  highWatermark: number;
  /** replica.lag.time.max.ms: a follower not caught up for this long leaves the ISR. */
  lagTimeMaxMs: number;
  /** min.insync.replicas: acks=all is refused (NOT_ENOUGH_REPLICAS) below this ISR size. */
  minInsync: number;
  nowMs: number;
}

/** The leader's view of one partition. */
export class PartitionLeader {
  readonly leaderId: string;
  readonly epoch: number;
  readonly replicas: readonly string[];
  readonly isr: Set<string>;
  logEndOffset: number;
  highWatermark: number;
  /** The log end when this leader took over: the first offset of its epoch. */
  readonly epochStartOffset: number;
  private readonly progress = new Map<string, ReplicaProgress>();

  constructor(private readonly options: LeaderOptions) {
    this.leaderId = options.leaderId;
    this.epoch = options.epoch;
    this.replicas = options.replicas;
    this.isr = new Set(options.isr);
    this.isr.add(options.leaderId);
    this.logEndOffset = options.logEndOffset;
    this.highWatermark = options.highWatermark;
    this.epochStartOffset = options.logEndOffset;
    for (const r of options.replicas)
      if (r !== options.leaderId) this.progress.set(r, { logEndOffset: -1, lastCaughtUpMs: options.nowMs });
  }

  /** The leader appended locally: its log now ends at `logEndOffset`. */
  appended(logEndOffset: number): void {
    this.logEndOffset = logEndOffset;
    this.advanceHighWatermark();
  }

  /**
   * A follower fetched from `fetchOffset` (its log end offset: everything before it is in its
   * log and agrees with ours, since it truncated first). Returns the high watermark to send it.
   */
  followerFetch(replica: string, fetchOffset: number, nowMs: number): number {
    const p = this.progress.get(replica);
    if (!p) throw new Error(`replica ${replica} is not a replica of this partition`);
    if (fetchOffset > this.logEndOffset)
      throw new Error(`replica ${replica} fetched at ${fetchOffset}, past the log end ${this.logEndOffset}`);
    p.logEndOffset = fetchOffset;
    if (fetchOffset >= this.logEndOffset) p.lastCaughtUpMs = nowMs;
    // Back in sync once it holds everything up to the high watermark AND up to the start of
    // this leader's epoch (Kafka's rule). The second half matters after an election: the new
    // leader's high watermark may lag, and a follower let in with less than the leader had at
    // election could be elected next and lose values the previous leader acknowledged (the
    // simulation found exactly that before this rule was here).
    if (!this.isr.has(replica) && fetchOffset >= Math.max(this.highWatermark, this.epochStartOffset))
      this.isr.add(replica);
    this.advanceHighWatermark();
    return this.highWatermark;
  }

  /** Drops followers that have not caught up for lagTimeMaxMs; returns those dropped. */
  shrinkIsr(nowMs: number): string[] {
    const dropped: string[] = [];
    for (const [replica, p] of this.progress) {
      if (this.isr.has(replica) && nowMs - p.lastCaughtUpMs > this.options.lagTimeMaxMs) {
        this.isr.delete(replica);
        dropped.push(replica);
      }
    }
    if (dropped.length > 0) this.advanceHighWatermark();
    return dropped;
  }

  /**
   * The ISR members that have not caught up for lagTimeMaxMs, without dropping them: a leader
   * whose ISR lives in a controller's log asks it first and drops them (dropFromIsr) once the
   * change is committed, so that its own ISR never is smaller than the one elections use.
   */
  laggingReplicas(nowMs: number): string[] {
    const out: string[] = [];
    for (const [replica, p] of this.progress)
      if (this.isr.has(replica) && nowMs - p.lastCaughtUpMs > this.options.lagTimeMaxMs) out.push(replica);
    return out;
  }

  /** Drops these followers from the ISR (after the controller committed it). */
  dropFromIsr(replicas: readonly string[]): void {
    for (const r of replicas) if (r !== this.leaderId) this.isr.delete(r);
    this.advanceHighWatermark();
  }

  /** Whether an acks=all append may be taken now (min.insync.replicas). */
  canAcceptAcksAll(): boolean {
    return this.isr.size >= this.options.minInsync;
  }

  /** Whether an acks=all append that ended at `endOffset` (exclusive) is acknowledged. */
  acknowledged(endOffset: number): boolean {
    return this.highWatermark >= endOffset;
  }

  /** The high watermark: the smallest log end offset over the ISR; it never moves back. */
  private advanceHighWatermark(): void {
    let min = this.logEndOffset;
    for (const r of this.isr)
      if (r !== this.leaderId) min = Math.min(min, this.progress.get(r)!.logEndOffset);
    if (min > this.highWatermark) this.highWatermark = min;
  }
}

/**
 * OffsetsForLeaderEpoch, the leader's side: the end offset of `epoch` in the leader's log (the
 * start of the next larger epoch it knows, or its log end for its current epoch), and the
 * largest epoch at or below the one asked. `epochs` ascending.
 */
export function endOffsetForEpoch(
  epochs: readonly EpochStart[],
  logEndOffset: number,
  epoch: number,
): { epoch: number; endOffset: number } {
  let found = -1;
  for (let i = 0; i < epochs.length; i++) if (epochs[i]!.epoch <= epoch) found = i;
  if (found < 0) return { epoch: -1, endOffset: -1 };
  const next = epochs[found + 1];
  return { epoch: epochs[found]!.epoch, endOffset: next ? next.startOffset : logEndOffset };
}

/**
 * The follower's side after a leader change, one round: the follower asked the leader about
 * its latest epoch and got `leaderAnswer` (endOffsetForEpoch on the leader). It cuts its log to
 * the smaller of the leader's end of that epoch and its own (an epoch number has one leader, so
 * entries of one epoch at one offset are the same everywhere). If the leader answered a smaller
 * epoch, the follower's entries of the larger one were never in the leader's log and go; the
 * next round, asked about the follower's new latest epoch, then agrees (KIP-279's loop).
 */
export function truncationOffset(
  followerEpochs: readonly EpochStart[],
  followerLogEnd: number,
  leaderAnswer: { epoch: number; endOffset: number },
): number {
  if (leaderAnswer.epoch < 0) return 0;
  const own = endOffsetForEpoch(followerEpochs, followerLogEnd, leaderAnswer.epoch);
  if (own.epoch < 0) return 0;
  return Math.min(followerLogEnd, leaderAnswer.endOffset, own.endOffset);
}

/** The epochs of a log whose entries carry their epoch, ascending (the leader-epoch cache). */
export function epochStarts(entryEpochs: readonly number[]): EpochStart[] {
  const out: EpochStart[] = [];
  entryEpochs.forEach((epoch, offset) => {
    if (out.length === 0 || out[out.length - 1]!.epoch !== epoch) out.push({ epoch, startOffset: offset });
  });
  return out;
}
