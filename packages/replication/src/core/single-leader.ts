// Single-leader replication (DDIA ch. 5, "Leaders and Followers"), after PostgreSQL's streaming
// replication. The leader appends every write to a replication log of logical row changes
// (position, epoch, key, new value) and ships it to the followers, which apply it in order.
//
// - Synchronous, asynchronous or quorum commit per `syncStandbys` (sync-rule.ts, PostgreSQL's
//   synchronous_standby_names), and per request: sync=false answers once the write is on the
//   leader's disk, sync=true waits for the rule (or any one follower when none is configured).
// - Shipping is Raft's AppendEntries consistency check: each batch names the position and epoch
//   just before it; a follower that lacks it asks for an earlier start ('gap'), one that holds
//   a different entry there, or entries past the leader's end, has diverged.
// - A follower that was away catches up from its last position; one too far behind (the leader
//   compacted its log), or diverged, gets a snapshot plus the log after it (the book's
//   "Setting Up New Followers"). A diverged follower's own entries are thrown away and counted:
//   acknowledged writes that asynchronous replication lost.
// - Failover carries an epoch (PostgreSQL's timeline). Manual (`promote`, like pg_ctl promote)
//   or automatic (`failoverAfterMs` > 0): a follower that has not heard from the leader asks
//   the others for votes, and a voter grants only a candidate whose log is at least as up to
//   date as its own (the book: "the best candidate is usually the replica with the most
//   up-to-date data changes"), so a write a majority confirmed survives the election.
// - Fencing: a leader takes writes only while a majority has confirmed its epoch within
//   `leaseMs` (measured from when it sent what they confirmed), and a new leader waits a lease
//   after a majority confirmed its epoch, by which time the old leader's lease has run out. So
//   an old leader that comes back cannot take writes. `fencing: 'none'` shows split brain.
// - Statement-based shipping (a switch): the log carries the statement, and each replica
//   evaluates it. `now()` in a value then differs per replica: the book's pitfall.
import type { Clock } from '@ddia/common/core';
import { type Envelope, ReadyBuffer, type Reply } from './ready.js';
import { type SyncRule, syncSatisfied } from './sync-rule.js';
import type { NodeId } from './version-vector.js';

export interface LogEntry {
  position: number;
  epoch: number;
  key: string;
  /** The row's new value; null deletes it. With format 'statement', the statement's text. */
  value: string | null;
  wallMs: number;
  /** 'row' (logical row change, the default) or 'statement' (re-evaluated on each replica). */
  format?: 'row' | 'statement';
}

export interface SingleLeaderConfig {
  id: NodeId;
  nodes: NodeId[];
  /** The leader of epoch 1. */
  initialLeader: NodeId;
  syncStandbys: SyncRule | null;
  shipEveryMs: number;
  shipBatchMax: number;
  /** How long a majority's confirmation of the epoch lets the leader take writes. */
  leaseMs: number;
  /** 'lease' fences an old leader; 'none' shows what happens without it (split brain). */
  fencing: 'lease' | 'none';
  /** Longest a synchronous write waits for its standbys. */
  syncTimeoutMs: number;
  /** Longest a session read waits for a follower to reach the position it needs. */
  readWaitMs: number;
  /** The leader keeps this many log entries; a follower further behind needs a snapshot. */
  logRetainEntries: number;
  /** A follower that has not heard from the leader this long starts an election; 0: manual only. */
  failoverAfterMs: number;
  /** 'row' ships logical row changes; 'statement' ships the statement (the pitfall switch). */
  replicationFormat: 'row' | 'statement';
}

export const SINGLE_LEADER_DEFAULTS = {
  syncStandbys: null,
  shipEveryMs: 50,
  shipBatchMax: 512,
  leaseMs: 2_000,
  fencing: 'lease',
  syncTimeoutMs: 2_000,
  readWaitMs: 1_000,
  logRetainEntries: 100_000,
  failoverAfterMs: 0,
  replicationFormat: 'row',
} as const satisfies Partial<SingleLeaderConfig>;

export type SingleLeaderMessage =
  | {
      type: 'append';
      epoch: number;
      leader: NodeId;
      /** The position and epoch of the entry just before `entries` (0, 0 for the start). */
      prevPosition: number;
      prevEpoch: number;
      entries: LogEntry[];
      leaderLast: number;
      /** The leader's clock when it sent this: its lease counts from here. */
      sentMs: number;
    }
  | { type: 'append-ok'; epoch: number; position: number; sentMs: number }
  | {
      type: 'append-reject';
      epoch: number;
      leader: NodeId;
      position: number;
      reason: 'stale-epoch' | 'gap' | 'diverged';
    }
  | {
      type: 'snapshot';
      epoch: number;
      leader: NodeId;
      position: number;
      lastEpoch: number;
      data: Record<string, string>;
      sentMs: number;
    }
  | { type: 'vote-request'; epoch: number; lastEpoch: number; position: number }
  | { type: 'vote'; epoch: number; granted: boolean };

export type SingleLeaderRequest =
  | { kind: 'read'; key: string; minPosition?: number }
  | { kind: 'write'; key: string; value: string | null; sync?: boolean }
  | { kind: 'promote' };

export type SingleLeaderRecord =
  | { kind: 'entry'; entry: LogEntry }
  | { kind: 'epoch'; epoch: number; leader: NodeId; votedFor?: NodeId | null }
  | { kind: 'snapshot'; position: number; epoch: number; data: Record<string, string> };

interface FollowerProgress {
  /** Highest position known to match the leader's log. */
  match: number;
  /** Next position to send (pipelined: moves on when sent, back when refused). */
  next: number;
  /** Lease basis: the send time of the latest append this follower confirmed. */
  lastAckMs: number;
  /** When this follower first confirmed the current epoch (a new leader's fencing wait). */
  confirmedAtMs: number | null;
  lastSendMs: number;
  /** Set when the follower cannot continue from the log: a snapshot goes next. */
  needsSnapshot: boolean;
}

interface PendingWrite {
  requestId: number;
  position: number;
  /** null: wait for any one follower (sync=true without a configured rule). */
  rule: SyncRule | null;
  deadlineMs: number;
}

interface PendingRead {
  requestId: number;
  key: string;
  minPosition: number;
  deadlineMs: number;
}

export interface FollowerStatus {
  id: NodeId;
  match: number;
  lagEntries: number;
  /** Age of the oldest entry the follower has not confirmed (0 when caught up). */
  lagMs: number;
  lastAckAgoMs: number | null;
  sync: boolean;
}

export interface SingleLeaderStatus {
  id: NodeId;
  role: 'leader' | 'follower' | 'candidate';
  epoch: number;
  leader: NodeId;
  position: number;
  lastEpoch: number;
  snapshotPosition: number;
  acceptingWrites: boolean;
  followers: FollowerStatus[];
  /** Entries this node threw away when re-cloned after a failover (acknowledged writes lost). */
  entriesDiscarded: number;
  elections: number;
}

/** A re-sent batch waits this many ship intervals for its answer before the leader resends. */
const RESEND_AFTER_INTERVALS = 4;

export class SingleLeaderNode {
  /** The rows, as of `position`. */
  readonly data = new Map<string, string>();
  private log: LogEntry[] = [];
  private snapshotPosition = 0;
  private snapshotEpoch = 0;
  private epoch = 1;
  /** '' while no leader is known in this epoch (an election is on). */
  private leader: NodeId;
  private votedFor: NodeId | null = null;
  /** The epoch of the vote this node cast last (an election may have moved past `epoch`). */
  private votedEpoch = 0;
  private readonly progress = new Map<NodeId, FollowerProgress>();
  private readonly writes: PendingWrite[] = [];
  private readonly reads: PendingRead[] = [];
  private readonly out = new ReadyBuffer<SingleLeaderMessage, SingleLeaderRecord>();
  private lastShipMs: number;
  /** When this node became leader (its own fencing wait counts from here). */
  private leaderSinceMs: number;
  /** false for the leader of epoch 1, whom nobody preceded. */
  private mustWaitOutOldLease = false;
  private lastLeaderContactMs: number;
  private votes = new Set<NodeId>();
  private electionAttempts = 0;
  entriesDiscarded = 0;
  elections = 0;
  /** A write was taken since the last drain: the drain ships to every follower. */
  private shipQueued = false;
  /** Set when this follower found its log diverged: its entries from here on are discarded. */
  private divergedFrom: number | null = null;

  constructor(
    readonly config: SingleLeaderConfig,
    private readonly clock: Clock,
  ) {
    if (!config.nodes.includes(config.id)) throw new RangeError(`${config.id} is not among the nodes`);
    if (!config.nodes.includes(config.initialLeader))
      throw new RangeError(`${config.initialLeader} is not among the nodes`);
    this.leader = config.initialLeader;
    const now = clock.nowMs();
    this.lastShipMs = now;
    this.leaderSinceMs = now;
    this.lastLeaderContactMs = now;
    this.resetProgress();
  }

  get position(): number {
    return this.log.at(-1)?.position ?? this.snapshotPosition;
  }

  get lastEpoch(): number {
    return this.log.at(-1)?.epoch ?? this.snapshotEpoch;
  }

  get isLeader(): boolean {
    return this.leader === this.config.id;
  }

  get currentEpoch(): number {
    return this.epoch;
  }

  get currentLeader(): NodeId {
    return this.leader;
  }

  /** Replays a durable record at start. */
  restore(record: SingleLeaderRecord): void {
    switch (record.kind) {
      case 'entry':
        // Entries are persisted in position order; a later snapshot resets what came before.
        // An entry at or below our end replaces the tail from there (a follower's divergence).
        if (record.entry.position <= this.position) this.truncateFrom(record.entry.position);
        if (record.entry.position !== this.position + 1) return;
        this.log.push(record.entry);
        this.applyEntry(record.entry);
        return;
      case 'epoch':
        this.epoch = record.epoch;
        this.leader = record.leader;
        this.votedFor = record.votedFor ?? null;
        if (this.votedFor !== null) this.votedEpoch = Math.max(this.votedEpoch, record.epoch);
        this.resetProgress();
        return;
      case 'snapshot':
        this.installSnapshot(record.position, record.epoch, record.data);
        return;
    }
  }

  drain() {
    // Writes taken since the last drain ship together: one append per follower carrying all of
    // them (and one ack back), not one per write.
    if (this.shipQueued) {
      this.shipQueued = false;
      if (this.isLeader) for (const follower of this.progress.keys()) this.ship(follower);
    }
    return this.out.drain();
  }

  /**
   * Records that rebuild this node's durable state on their own (journal compaction): the rows
   * as of the current position, like a base backup, and the epoch with its vote. Entries up to
   * here leave the journal, so after a restart a follower further behind gets a snapshot.
   */
  snapshot(): SingleLeaderRecord[] {
    return [
      {
        kind: 'snapshot',
        position: this.position,
        epoch: this.lastEpoch,
        data: Object.fromEntries(this.data),
      },
      { kind: 'epoch', epoch: this.epoch, leader: this.leader, votedFor: this.votedFor },
    ];
  }

  request(requestId: number, request: SingleLeaderRequest): void {
    switch (request.kind) {
      case 'read':
        if ((request.minPosition ?? 0) <= this.position) this.answerRead(requestId, request.key);
        else {
          this.reads.push({
            requestId,
            key: request.key,
            minPosition: request.minPosition ?? 0,
            deadlineMs: this.clock.nowMs() + this.config.readWaitMs,
          });
        }
        return;
      case 'write':
        this.write(requestId, request.key, request.value, request.sync);
        return;
      case 'promote':
        this.promote(requestId);
        return;
    }
  }

  private answerRead(requestId: number, key: string): void {
    const value = this.data.get(key);
    this.out.reply(requestId, {
      ok: true,
      view:
        value === undefined
          ? null
          : { type: 'lww', values: [value], deleted: false, siblings: 1, context: {} },
      detail: {
        position: this.position,
        epoch: this.epoch,
        node: this.config.id,
        role: this.role(),
        leader: this.leader,
      },
    });
  }

  private role(): SingleLeaderStatus['role'] {
    if (this.isLeader) return 'leader';
    return this.leader === '' ? 'candidate' : 'follower';
  }

  private majority(): number {
    return Math.floor(this.config.nodes.length / 2) + 1;
  }

  /** Whether this node may take a write now: leader, its lease held, an old lease run out. */
  acceptingWrites(): boolean {
    if (!this.isLeader) return false;
    if (this.config.fencing === 'none') return true;
    const now = this.clock.nowMs();
    let leased = 1;
    for (const progress of this.progress.values())
      if (now - progress.lastAckMs < this.config.leaseMs) leased++;
    if (leased < this.majority()) return false;
    if (!this.mustWaitOutOldLease) return true;
    // Any old leader needed a majority, which shares a node with the majority that confirmed
    // us; that node stopped confirming the old leader when it confirmed us (or, for us, when we
    // took over), so the old lease ran out a lease after that.
    const since = [this.leaderSinceMs];
    for (const progress of this.progress.values())
      if (progress.confirmedAtMs !== null) since.push(progress.confirmedAtMs);
    since.sort((a, b) => a - b);
    const quorumConfirmedMs = since[this.majority() - 1];
    if (quorumConfirmedMs === undefined || now < quorumConfirmedMs + this.config.leaseMs) return false;
    this.mustWaitOutOldLease = false;
    return true;
  }

  private write(requestId: number, key: string, value: string | null, sync: boolean | undefined): void {
    if (!this.isLeader) {
      this.out.fail(
        requestId,
        'notLeader',
        `the leader of epoch ${this.epoch} is ${this.leader || 'unknown'}`,
        {
          leader: this.leader || null,
          epoch: this.epoch,
        },
      );
      return;
    }
    if (!this.acceptingWrites()) {
      this.out.fail(
        requestId,
        'fenced',
        `no majority has confirmed epoch ${this.epoch} within ${this.config.leaseMs} ms (or an old leader's lease may still run)`,
        { epoch: this.epoch },
      );
      return;
    }
    const entry: LogEntry = {
      position: this.position + 1,
      epoch: this.epoch,
      key,
      value,
      wallMs: this.clock.wallMs(),
      ...(this.config.replicationFormat === 'statement' ? { format: 'statement' as const } : {}),
    };
    this.log.push(entry);
    this.applyEntry(entry);
    this.out.persist({ kind: 'entry', entry });
    const waitFor =
      sync === false ? undefined : (this.config.syncStandbys ?? (sync === true ? null : undefined));
    if (waitFor === undefined) {
      this.out.reply(requestId, {
        ok: true,
        view: null,
        detail: { position: entry.position, epoch: this.epoch, sync: false },
      });
    } else {
      this.writes.push({
        requestId,
        position: entry.position,
        rule: waitFor,
        deadlineMs: this.clock.nowMs() + this.config.syncTimeoutMs,
      });
    }
    // Ship at once, at this drain: a synchronous write waits for this round trip.
    this.shipQueued = true;
    this.compact();
  }

  private promote(requestId: number): void {
    if (this.isLeader) {
      this.out.fail(requestId, 'badPromotion', `${this.config.id} already leads epoch ${this.epoch}`);
      return;
    }
    this.becomeLeader(Math.max(this.epoch, this.votedEpoch) + 1);
    this.out.reply(requestId, {
      ok: true,
      view: null,
      detail: {
        epoch: this.epoch,
        position: this.position,
        writesAfter: this.config.fencing === 'none' ? 'now' : 'a majority confirms the epoch, plus one lease',
      },
    });
  }

  private becomeLeader(epoch: number): void {
    this.epoch = epoch;
    this.leader = this.config.id;
    this.votedFor = this.config.id;
    this.elections++;
    this.leaderSinceMs = this.clock.nowMs();
    this.mustWaitOutOldLease = this.config.fencing !== 'none';
    this.resetProgress();
    this.out.persist({ kind: 'epoch', epoch: this.epoch, leader: this.leader, votedFor: this.votedFor });
    for (const follower of this.progress.keys()) this.ship(follower);
  }

  private resetProgress(): void {
    this.progress.clear();
    this.votes.clear();
    if (!this.isLeader) return;
    // A new leader knows nothing of its followers: it probes from its own end of log.
    for (const node of this.config.nodes) {
      if (node === this.config.id) continue;
      this.progress.set(node, {
        match: 0,
        next: this.position + 1,
        lastAckMs: Number.NEGATIVE_INFINITY,
        confirmedAtMs: null,
        lastSendMs: Number.NEGATIVE_INFINITY,
        needsSnapshot: false,
      });
    }
  }

  step(from: NodeId, msg: SingleLeaderMessage): void {
    switch (msg.type) {
      case 'append':
      case 'snapshot':
        this.onLeaderMessage(from, msg);
        return;
      case 'append-ok':
      case 'append-reject':
        this.onFollowerAnswer(from, msg);
        return;
      case 'vote-request':
        this.onVoteRequest(from, msg);
        return;
      case 'vote':
        this.onVote(from, msg);
        return;
    }
  }

  /** Moves to a newer epoch (or learns the epoch's leader) and persists it. */
  private adoptEpoch(epoch: number, leader: NodeId, votedFor: NodeId | null): void {
    if (epoch === this.epoch && leader === this.leader && votedFor === this.votedFor) return;
    const deposed = this.isLeader && (epoch > this.epoch || leader !== this.config.id);
    const changed = epoch !== this.epoch || leader !== this.leader;
    if (epoch > this.epoch) this.votedFor = votedFor;
    else if (votedFor !== null) this.votedFor = votedFor;
    this.epoch = epoch;
    this.leader = leader;
    if (changed) this.resetProgress();
    this.out.persist({ kind: 'epoch', epoch, leader, votedFor: this.votedFor });
    if (deposed) {
      // A deposed leader's waiting writes will not be confirmed under its epoch.
      for (const write of this.writes.splice(0)) {
        this.out.fail(
          write.requestId,
          'notLeader',
          `deposed by epoch ${epoch} (leader ${leader || 'unknown'})`,
          {
            leader: leader || null,
            position: write.position,
          },
        );
      }
    }
  }

  private onLeaderMessage(
    from: NodeId,
    msg: Extract<SingleLeaderMessage, { type: 'append' | 'snapshot' }>,
  ): void {
    const known = msg.epoch === this.epoch && (this.leader === msg.leader || this.leader === '');
    if (msg.epoch < this.epoch || (msg.epoch === this.epoch && !known)) {
      this.out.send(from, {
        type: 'append-reject',
        epoch: this.epoch,
        leader: this.leader,
        position: this.position,
        reason: 'stale-epoch',
      });
      return;
    }
    this.adoptEpoch(msg.epoch, msg.leader, msg.epoch > this.epoch ? null : this.votedFor);
    this.lastLeaderContactMs = this.clock.nowMs();
    this.electionAttempts = 0;
    if (msg.type === 'snapshot') {
      const holdsIt = msg.position <= this.position && this.epochAt(msg.position) === msg.lastEpoch;
      // Entries past the snapshot are the leader's own only if the last was written in its epoch.
      if (holdsIt && (this.position === msg.position || this.lastEpoch === msg.epoch)) {
        // A late (reordered or duplicated) snapshot of what we already hold: keep our longer log.
        this.out.send(from, {
          type: 'append-ok',
          epoch: this.epoch,
          position: msg.position,
          sentMs: msg.sentMs,
        });
        return;
      }
      this.countDiscarded(msg.position, msg.data);
      this.installSnapshot(msg.position, msg.lastEpoch, msg.data);
      this.out.persist({ kind: 'snapshot', position: msg.position, epoch: msg.lastEpoch, data: msg.data });
      this.out.send(from, {
        type: 'append-ok',
        epoch: this.epoch,
        position: this.position,
        sentMs: msg.sentMs,
      });
      this.wakeReads();
      return;
    }
    // Raft's consistency check: we must hold the entry just before the batch, same epoch.
    if (msg.prevPosition > this.position) {
      this.reject(from, 'gap');
      return;
    }
    if (msg.prevPosition < this.snapshotPosition || this.epochAt(msg.prevPosition) !== msg.prevEpoch) {
      this.markDiverged(Math.max(msg.prevPosition, this.snapshotPosition));
      this.reject(from, 'diverged');
      return;
    }
    for (const entry of msg.entries) {
      if (entry.position <= this.position) {
        if (this.epochAt(entry.position) === entry.epoch) continue;
        this.markDiverged(entry.position);
        this.reject(from, 'diverged');
        return;
      }
      this.log.push(entry);
      this.applyEntry(entry);
      this.out.persist({ kind: 'entry', entry });
    }
    const through = msg.entries.at(-1)?.position ?? msg.prevPosition;
    // Entries past the leader's end were written under an older epoch the leader never had.
    if (through >= msg.leaderLast && this.position > msg.leaderLast) {
      this.markDiverged(msg.leaderLast + 1);
      this.reject(from, 'diverged');
      return;
    }
    this.out.send(from, { type: 'append-ok', epoch: this.epoch, position: through, sentMs: msg.sentMs });
    this.compact();
    this.wakeReads();
  }

  private reject(to: NodeId, reason: 'gap' | 'diverged'): void {
    this.out.send(to, {
      type: 'append-reject',
      epoch: this.epoch,
      leader: this.leader,
      position: this.position,
      reason,
    });
  }

  private markDiverged(position: number): void {
    this.divergedFrom = Math.min(this.divergedFrom ?? position, position);
  }

  /** A re-clone throws away our entries from the divergence point: count them. */
  private countDiscarded(position: number, data: Record<string, string>): void {
    let discarded = 0;
    const from = this.divergedFrom ?? position + 1;
    for (const entry of this.log) {
      if (entry.position < from) continue;
      // An entry the snapshot happens to agree with was not lost.
      if (entry.value !== null && data[entry.key] === entry.value) continue;
      discarded++;
    }
    this.entriesDiscarded += discarded;
    this.divergedFrom = null;
  }

  private onFollowerAnswer(
    from: NodeId,
    msg: Extract<SingleLeaderMessage, { type: 'append-ok' | 'append-reject' }>,
  ): void {
    if (msg.epoch > this.epoch) {
      // A follower knows a newer epoch: we were deposed while away. Step down (fencing).
      this.adoptEpoch(msg.epoch, msg.type === 'append-reject' ? msg.leader : '', null);
      return;
    }
    const progress = this.progress.get(from);
    if (!this.isLeader || !progress || msg.epoch < this.epoch) return;
    const now = this.clock.nowMs();
    if (msg.type === 'append-ok') {
      // A send time from the future (an answer to an earlier incarnation) grants nothing.
      if (msg.sentMs <= now) progress.lastAckMs = Math.max(progress.lastAckMs, msg.sentMs);
      if (progress.confirmedAtMs === null) progress.confirmedAtMs = now;
      progress.match = Math.max(progress.match, Math.min(msg.position, this.position));
      progress.next = Math.max(progress.next, progress.match + 1);
      progress.needsSnapshot = false;
      this.confirmWrites();
      return;
    }
    if (msg.reason === 'stale-epoch') return;
    if (msg.reason === 'diverged') progress.needsSnapshot = true;
    // The follower is behind what we believed (a lost batch, or it was re-cloned): start there.
    progress.match = Math.min(progress.match, msg.position);
    progress.next = Math.min(progress.next, msg.position + 1);
    progress.next = Math.max(progress.next, progress.match + 1);
    if (progress.next - 1 < this.snapshotPosition) progress.needsSnapshot = true;
    this.ship(from);
  }

  private confirmWrites(): void {
    const now = this.clock.nowMs();
    for (let i = 0; i < this.writes.length; ) {
      const write = this.writes[i] as PendingWrite;
      const rule = write.rule ?? { method: 'any' as const, count: 1, names: [...this.progress.keys()] };
      const done = syncSatisfied(
        rule,
        write.position,
        (node) => this.progress.get(node)?.match ?? 0,
        (node) =>
          now - (this.progress.get(node)?.lastAckMs ?? Number.NEGATIVE_INFINITY) < this.config.leaseMs,
      );
      if (!done) {
        i++;
        continue;
      }
      this.writes.splice(i, 1);
      // Durable here before it was shipped, durable on the standbys that confirmed it: the
      // answer need not wait for the persists queued since.
      this.out.reply(
        write.requestId,
        { ok: true, view: null, detail: { position: write.position, epoch: this.epoch, sync: true } },
        true,
      );
    }
  }

  private ship(follower: NodeId): void {
    const progress = this.progress.get(follower);
    if (!progress) return;
    const now = this.clock.nowMs();
    progress.lastSendMs = now;
    if (progress.needsSnapshot || progress.next - 1 < this.snapshotPosition) {
      this.out.send(follower, {
        type: 'snapshot',
        epoch: this.epoch,
        leader: this.config.id,
        position: this.position,
        lastEpoch: this.lastEpoch,
        data: Object.fromEntries(this.data),
        sentMs: now,
      });
      progress.needsSnapshot = false;
      progress.next = this.position + 1;
      return;
    }
    const start = progress.next - this.firstLogPosition();
    const entries = this.log.slice(start, start + this.config.shipBatchMax);
    const prevPosition = progress.next - 1;
    this.out.send(follower, {
      type: 'append',
      epoch: this.epoch,
      leader: this.config.id,
      prevPosition,
      prevEpoch: this.epochAt(prevPosition) ?? 0,
      entries,
      leaderLast: this.position,
      sentMs: now,
    });
    progress.next += entries.length;
  }

  tick(): void {
    const now = this.clock.nowMs();
    if (this.isLeader && now - this.lastShipMs >= this.config.shipEveryMs) {
      this.lastShipMs = now;
      for (const [follower, progress] of this.progress) {
        // A pipelined batch that has gone unanswered for a while was lost: start again from match.
        if (
          progress.next > progress.match + 1 &&
          now - progress.lastAckMs > RESEND_AFTER_INTERVALS * this.config.shipEveryMs
        )
          progress.next = progress.match + 1;
        this.ship(follower);
      }
    }
    if (!this.isLeader && this.config.failoverAfterMs > 0) this.maybeStartElection(now);
    this.expire(now);
  }

  private expire(now: number): void {
    for (const write of takeExpired(this.writes, now))
      this.out.fail(
        write.requestId,
        'syncTimeout',
        `position ${write.position} is on the leader but its standbys did not confirm within ${this.config.syncTimeoutMs} ms`,
        { position: write.position },
      );
    for (const read of takeExpired(this.reads, now))
      this.out.fail(
        read.requestId,
        'behind',
        `at position ${this.position}, the session needs ${read.minPosition}`,
        {
          position: this.position,
          required: read.minPosition,
        },
      );
  }

  // --- Automatic failover: an election among the followers --------------------------------

  private electionTimeoutMs(): number {
    // Staggered by rank and attempt so that two followers rarely stand at once (Raft randomises;
    // a core has no Math.random, and a fixed stagger replays the same in simulation).
    const rank = this.config.nodes.indexOf(this.config.id);
    const n = this.config.nodes.length;
    return this.config.failoverAfterMs * (1 + ((rank + this.electionAttempts) % n) / n);
  }

  private maybeStartElection(now: number): void {
    if (now - this.lastLeaderContactMs < this.electionTimeoutMs()) return;
    this.lastLeaderContactMs = now;
    this.electionAttempts++;
    const epoch = Math.max(this.epoch, this.votedEpoch) + 1;
    this.votedEpoch = epoch;
    this.adoptEpoch(epoch, '', this.config.id);
    this.votes = new Set([this.config.id]);
    for (const node of this.config.nodes) {
      if (node !== this.config.id)
        this.out.send(node, {
          type: 'vote-request',
          epoch,
          lastEpoch: this.lastEpoch,
          position: this.position,
        });
    }
    this.maybeWin();
  }

  private onVoteRequest(from: NodeId, msg: Extract<SingleLeaderMessage, { type: 'vote-request' }>): void {
    const now = this.clock.nowMs();
    // A node that hears from a live leader, or is one with a lease, keeps it (no disruption).
    const leaderAlive = this.isLeader
      ? this.acceptingWrites()
      : this.leader !== '' && now - this.lastLeaderContactMs < this.config.failoverAfterMs;
    const upToDate =
      msg.lastEpoch > this.lastEpoch || (msg.lastEpoch === this.lastEpoch && msg.position >= this.position);
    const free =
      msg.epoch > this.epoch ||
      (msg.epoch === this.epoch && (this.votedFor === null || this.votedFor === from));
    const granted = msg.epoch >= this.epoch && !leaderAlive && upToDate && free;
    if (granted) {
      this.votedEpoch = Math.max(this.votedEpoch, msg.epoch);
      this.adoptEpoch(msg.epoch, '', from);
      this.lastLeaderContactMs = now;
    }
    this.out.send(from, { type: 'vote', epoch: Math.max(this.epoch, msg.epoch), granted });
  }

  private onVote(from: NodeId, msg: Extract<SingleLeaderMessage, { type: 'vote' }>): void {
    if (msg.epoch > this.epoch) {
      this.adoptEpoch(msg.epoch, '', null);
      return;
    }
    if (msg.epoch !== this.epoch || this.leader !== '' || this.votedFor !== this.config.id || !msg.granted)
      return;
    this.votes.add(from);
    this.maybeWin();
  }

  private maybeWin(): void {
    if (this.votes.size < this.majority()) return;
    this.becomeLeader(this.epoch);
  }

  // --- Log and data -------------------------------------------------------------------------

  private wakeReads(): void {
    for (let i = 0; i < this.reads.length; ) {
      const read = this.reads[i] as PendingRead;
      if (read.minPosition > this.position) {
        i++;
        continue;
      }
      this.reads.splice(i, 1);
      this.answerRead(read.requestId, read.key);
    }
  }

  private firstLogPosition(): number {
    return this.snapshotPosition + 1;
  }

  private entryAt(position: number): LogEntry | undefined {
    return this.log[position - this.firstLogPosition()];
  }

  /** The epoch of the entry at `position`; undefined when it is neither in the log nor the snapshot's last. */
  private epochAt(position: number): number | undefined {
    if (position === this.snapshotPosition) return this.snapshotEpoch;
    return this.entryAt(position)?.epoch;
  }

  private truncateFrom(position: number): void {
    this.log = this.log.slice(0, Math.max(0, position - this.firstLogPosition()));
  }

  private applyEntry(entry: LogEntry): void {
    if (entry.value === null) this.data.delete(entry.key);
    else this.data.set(entry.key, entry.format === 'statement' ? this.evaluate(entry.value) : entry.value);
  }

  /**
   * Statement-based replication re-runs the statement on each replica: a non-deterministic
   * function in it gives each replica its own answer (DDIA ch. 5, "Statement-based replication").
   */
  private evaluate(statement: string): string {
    return statement.replaceAll('now()', String(this.clock.wallMs()));
  }

  private installSnapshot(position: number, epoch: number, data: Record<string, string>): void {
    this.data.clear();
    for (const [key, value] of Object.entries(data)) this.data.set(key, value);
    this.log = [];
    this.snapshotPosition = position;
    this.snapshotEpoch = epoch;
  }

  /** Keeps the log to `logRetainEntries`: older positions are only in the snapshot (the data). */
  private compact(): void {
    const excess = this.log.length - this.config.logRetainEntries;
    if (excess <= 0) return;
    const last = this.log[excess - 1] as LogEntry;
    this.log = this.log.slice(excess);
    this.snapshotPosition = last.position;
    this.snapshotEpoch = last.epoch;
  }

  /** The log from `position` + 1 (for FORMAT.md and tests). */
  entriesAfter(position: number): LogEntry[] {
    return this.log.filter((entry) => entry.position > position);
  }

  status(): SingleLeaderStatus {
    const now = this.clock.nowMs();
    const rule = this.config.syncStandbys;
    const followers: FollowerStatus[] = [...this.progress].map(([id, progress]) => {
      // A follower behind the retained log is at least as old as the log's first entry.
      const behind = progress.match < this.position;
      const oldest = this.entryAt(progress.match + 1) ?? (behind ? this.log[0] : undefined);
      return {
        id,
        match: progress.match,
        lagEntries: this.position - progress.match,
        lagMs: oldest ? Math.max(0, this.clock.wallMs() - oldest.wallMs) : 0,
        lastAckAgoMs: Number.isFinite(progress.lastAckMs) ? Math.round(now - progress.lastAckMs) : null,
        sync: rule?.names.includes(id) ?? false,
      };
    });
    return {
      id: this.config.id,
      role: this.role(),
      epoch: this.epoch,
      leader: this.leader,
      position: this.position,
      lastEpoch: this.lastEpoch,
      snapshotPosition: this.snapshotPosition,
      acceptingWrites: this.acceptingWrites(),
      followers,
      entriesDiscarded: this.entriesDiscarded,
      elections: this.elections,
    };
  }
}

export type SingleLeaderReply = Reply;
export type SingleLeaderEnvelope = Envelope<SingleLeaderMessage>;

/** Removes from `pending` (in place, order kept) the entries whose deadline has come, and returns them. */
function takeExpired<T extends { deadlineMs: number }>(pending: T[], now: number): T[] {
  const expired = pending.filter((p) => now >= p.deadlineMs);
  if (expired.length > 0) pending.splice(0, pending.length, ...pending.filter((p) => now < p.deadlineMs));
  return expired;
}
