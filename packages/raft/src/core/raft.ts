// The Raft state machine, pure: no I/O, no timers, no clock, no Math.random. Time arrives as
// `tick()`, the network as `step(message)`, the application as `propose()`/`readIndex()`, and
// everything the caller must do comes out of `ready()` (persist, send, apply), acknowledged by
// `advance()`. Section numbers cite the Raft paper (Ongaro & Ousterhout, 2014) and, where
// marked "diss.", Ongaro's dissertation (2014). Shape after etcd-io/raft.
import { assert, type Random } from '@ddia/common/core';
import { RaftLog } from './log.js';
import { Membership } from './membership.js';
import { Progress } from './progress.js';
import {
  type ConfChange,
  type ConfState,
  decodeConfChange,
  type Entry,
  type EntryType,
  emptyMessage,
  encodeConfChange,
  type HardState,
  type Message,
  type MessageType,
  type NodeId,
  type ReadState,
  type Ready,
  type Role,
  type Snapshot,
  type SnapshotMeta,
  type SoftState,
} from './types.js';

export const ELECTION_TICKS_DEFAULT = 10;
export const HEARTBEAT_TICKS_DEFAULT = 1;
/** Appends in flight to one follower before the leader waits for acknowledgements. */
export const INFLIGHT_MAX_DEFAULT = 64;
/** Soft cap on one append message's payload. */
export const APPEND_BYTES_MAX_DEFAULT = 1024 * 1024;
export const APPEND_ENTRIES_MAX_DEFAULT = 1024;
/** Lease reads: how many ticks of clock drift per election timeout we tolerate. */
export const LEASE_DRIFT_TICKS_DEFAULT = 2;

export interface RaftConfig {
  id: NodeId;
  random: Random;
  electionTicks?: number;
  /** The election timeout is drawn from [electionTicks, electionTicks + jitter]; default
   *  electionTicks - 1, i.e. [T, 2T) as etcd does. The paper's Figure 16 varies this. */
  electionJitterTicks?: number;
  heartbeatTicks?: number;
  /** diss. §9.6: ask for votes without bumping the term first. */
  preVote?: boolean;
  /** diss. §6.2: a leader that has not heard from a quorum for an election timeout steps down. */
  checkQuorum?: boolean;
  readOnly?: 'safe' | 'lease';
  leaseDriftTicks?: number;
  inflightMax?: number;
  appendBytesMax?: number;
  appendEntriesMax?: number;
  /** THE CANARY. Commits entries of older terms by counting replicas, which §5.4.2 and
   *  Figure 8 show is unsafe. Only the simulation's canary test turns it on. */
  unsafeCommitOldTerms?: boolean;
  /** CANARY 2. Grants votes without the election restriction (§5.4.1: the candidate's log must
   *  be at least as up-to-date), so a leader may lack committed entries. Tests only. */
  unsafeVoteIgnoresLog?: boolean;
  /** CANARY 3. The leader counts its own entries toward a commit quorum before they are
   *  durable, although it sends them before writing them (diss. §10.2.1 forbids exactly this
   *  combination): a crash can then lose an entry a quorum was said to hold. Tests only. */
  unsafeCountUnstableSelf?: boolean;
  /** A follower that knows the leader sends proposals there (etcd's MsgProp) instead of
   *  refusing them; see `propose`. Off by default. */
  forwardProposals?: boolean;
}

/** What storage hands back on start (see storage/storage.ts). */
export interface RaftInitialState {
  hardState: HardState;
  /** The latest snapshot, or null when the log starts at index 1. */
  snapshot: Snapshot | null;
  /** Entries after the snapshot, dense. */
  entries: Entry[];
}

export type ProposeResult =
  | { ok: true; index: number; term: number }
  | { ok: false; reason: 'notLeader' | 'transferring' | 'confChangePending' | 'unknownMember' };

interface PendingRead {
  context: string;
  index: number;
  from: NodeId;
  acks: Set<NodeId>;
}

const EMPTY_CONF: ConfState = { members: [] };
/** What a leader sends that depends only on its (durable) term and its log, never on having
 *  stored its own newest entries: those may leave before the Ready is persisted (§10.2.1). */
const SENDABLE_BEFORE_PERSIST: ReadonlySet<MessageType> = new Set<MessageType>([
  'app',
  'heartbeat',
  'snap',
  'timeoutNow',
  'readIndexResp',
]);
const TRANSFER_CONTEXT = 'transfer';

/** The founding state of a brand-new cluster: one committed membership entry per member at
 *  term 1, so that a node joining later learns the founders from the log itself. */
export function bootstrapState(members: { id: NodeId; url?: string }[]): RaftInitialState {
  const entries: Entry[] = members.map((m, i) => ({
    index: i + 1,
    term: 1,
    type: 'conf',
    data: encodeConfChange({ kind: 'addVoter', id: m.id, url: m.url }),
  }));
  return { hardState: { term: 1, vote: null, commit: entries.length }, snapshot: null, entries };
}

/**
 * Whether `loaded` is what a power cut inside the founding write of `founding` can leave: no
 * snapshot, no term or vote ever recorded, and entries that are a prefix of the founding ones
 * (the entries are written before the hard state that commits them). Members are compared by
 * id, not by URL: where a node is reached may change between starts. Such a node has said
 * nothing to anyone yet, so writing the founding entries again is what a clean first start
 * would do; anything else on disk is left alone.
 */
export function isUnfinishedFounding(loaded: RaftInitialState, founding: RaftInitialState): boolean {
  const { hardState, snapshot, entries } = loaded;
  if (snapshot !== null || hardState.term !== 0 || hardState.vote !== null) return false;
  if (entries.length > founding.entries.length) return false;
  return entries.every((entry, i) => {
    const want = founding.entries[i]!;
    if (entry.index !== want.index || entry.term !== want.term || entry.type !== 'conf') return false;
    const change = decodeFoundingChange(entry.data);
    const wanted = decodeConfChange(want.data);
    return change !== null && change.kind === wanted.kind && change.id === wanted.id;
  });
}

/** A founding entry's membership change, or null when its bytes are not one (torn, or other). */
function decodeFoundingChange(data: Uint8Array): ConfChange | null {
  try {
    return decodeConfChange(data);
  } catch {
    return null;
  }
}

export class Raft {
  readonly id: NodeId;
  term: number;
  vote: NodeId | null;
  role: Role = 'follower';
  leaderId: NodeId | null = null;
  readonly log: RaftLog;
  membership: Membership;
  /** The latest full snapshot (with data), sent to followers that fell behind compaction. */
  snapshot: Snapshot | null;

  private readonly random: Random;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  private readonly electionJitterTicks: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly readOnly: 'safe' | 'lease';
  private readonly leaseDriftTicks: number;
  private readonly inflightMax: number;
  private readonly appendBytesMax: number;
  private readonly appendEntriesMax: number;
  private readonly unsafeCommitOldTerms: boolean;
  private readonly unsafeCountUnstableSelf: boolean;
  private readonly unsafeVoteIgnoresLog: boolean;
  private readonly forwardProposals: boolean;

  readonly progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private tickCount = 0;
  /** Membership entries are applied up to here (a change takes effect once committed). */
  private confAppliedIndex: number;
  /** Index of the latest membership entry proposed by this leader. */
  private pendingConfIndex = 0;
  leadTransferee: NodeId | null = null;
  private pendingReads: PendingRead[] = [];
  /** Reads that arrived before this leader committed an entry of its term (diss. §6.4 step 1). */
  private readsBeforeCommit: { context: string; from: NodeId }[] = [];
  private needsBroadcast = false;
  /** Canary only: how many times an older-term entry was committed by counting replicas. */
  unsafeCommits = 0;

  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private prevHardState: HardState;
  private prevSoftState: SoftState;

  constructor(config: RaftConfig, initial: RaftInitialState) {
    this.id = config.id;
    this.random = config.random;
    this.electionTicks = config.electionTicks ?? ELECTION_TICKS_DEFAULT;
    this.heartbeatTicks = config.heartbeatTicks ?? HEARTBEAT_TICKS_DEFAULT;
    this.electionJitterTicks = config.electionJitterTicks ?? this.electionTicks - 1;
    assert(this.electionJitterTicks >= 0, 'electionJitterTicks must be >= 0');
    assert(this.heartbeatTicks < this.electionTicks, 'heartbeatTicks must be below electionTicks');
    this.preVote = config.preVote ?? true;
    this.checkQuorum = config.checkQuorum ?? true;
    this.readOnly = config.readOnly ?? 'safe';
    this.leaseDriftTicks = config.leaseDriftTicks ?? LEASE_DRIFT_TICKS_DEFAULT;
    assert(
      this.readOnly === 'safe' || (this.checkQuorum && this.leaseDriftTicks < this.electionTicks),
      'lease reads need checkQuorum and a drift bound below the election timeout',
    );
    this.inflightMax = config.inflightMax ?? INFLIGHT_MAX_DEFAULT;
    this.appendBytesMax = config.appendBytesMax ?? APPEND_BYTES_MAX_DEFAULT;
    this.appendEntriesMax = config.appendEntriesMax ?? APPEND_ENTRIES_MAX_DEFAULT;
    this.unsafeCommitOldTerms = config.unsafeCommitOldTerms ?? false;
    this.unsafeVoteIgnoresLog = config.unsafeVoteIgnoresLog ?? false;
    this.unsafeCountUnstableSelf = config.unsafeCountUnstableSelf ?? false;
    this.forwardProposals = config.forwardProposals ?? false;

    const snapMeta: SnapshotMeta = initial.snapshot?.meta ?? { index: 0, term: 0, conf: EMPTY_CONF };
    this.snapshot = initial.snapshot;
    this.log = new RaftLog(snapMeta, [...initial.entries], initial.hardState.commit);
    this.term = initial.hardState.term;
    this.vote = initial.hardState.vote;
    this.membership = new Membership(snapMeta.conf);
    this.confAppliedIndex = snapMeta.index;
    this.applyCommittedConfChanges();
    this.prevHardState = this.hardState();
    this.prevSoftState = this.softState();
    this.resetRandomizedElectionTimeout();
  }

  // ---------------------------------------------------------------- inputs

  /** One logical clock tick. The caller decides how long a tick is. */
  tick(): void {
    this.tickCount++;
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  /** Start an election now (tests and transcripts; production waits for the timeout). */
  campaign(): void {
    if (this.role === 'leader' || !this.promotable()) return;
    this.startElection(this.preVote ? 'pre' : 'real', false);
  }

  /**
   * On a follower that knows its leader (with `forwardProposals`): sends a normal proposal to
   * the leader (etcd's MsgProp) instead of refusing it. The leader appends it only while it
   * still leads `term` (see stepProp), so if it is ever committed, its entry carries `term`:
   * once the proposer sees a later term's entry applied without it, it was dropped for good.
   */
  forwardProposal(
    data: Uint8Array,
  ): { ok: true; term: number; leaderId: NodeId; message: Message } | { ok: false } {
    if (!this.forwardProposals || this.role !== 'follower' || this.leaderId === null) return { ok: false };
    const m = this.message('prop', this.leaderId);
    m.entries = [{ index: 1, term: 0, type: 'normal', data }];
    // Handed to the caller rather than queued for the next Ready: a proposal promises nothing
    // about this node's disk, so it need not wait for the Ready's write to leave.
    return { ok: true, term: this.term, leaderId: this.leaderId, message: m };
  }

  propose(data: Uint8Array, type: EntryType = 'normal'): ProposeResult {
    if (this.role !== 'leader') return { ok: false, reason: 'notLeader' };
    // diss. §3.10: stop accepting client requests while handing leadership over.
    if (this.leadTransferee !== null) return { ok: false, reason: 'transferring' };
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.term, type, data };
    this.appendEntry(entry);
    return { ok: true, index: entry.index, term: entry.term };
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    if (this.role !== 'leader') return { ok: false, reason: 'notLeader' };
    if (this.leadTransferee !== null) return { ok: false, reason: 'transferring' };
    // One change at a time, and only after this leader committed an entry of its own term:
    // otherwise two leaders of different terms could each commit a change from a different
    // base configuration (the single-server membership bug, diss. §4.1 errata).
    if (this.pendingConfIndex > this.log.committed || this.log.term(this.log.committed) !== this.term) {
      return { ok: false, reason: 'confChangePending' };
    }
    if (cc.kind === 'remove' && !this.membership.has(cc.id)) return { ok: false, reason: 'unknownMember' };
    const result = this.propose(encodeConfChange(cc), 'conf');
    if (result.ok) this.pendingConfIndex = result.index;
    return result;
  }

  /** Linearizable read (diss. §6.4): a ReadState with `context` comes out of a later Ready
   *  once it is safe to read at its index. Returns false when no leader is known. */
  readIndex(context: string): boolean {
    if (this.role === 'leader') {
      this.handleReadRequest(context, this.id);
      return true;
    }
    if (this.leaderId === null) return false;
    const m = this.message('readIndex', this.leaderId);
    m.context = context;
    this.send(m);
    return true;
  }

  /** diss. §3.10: hand leadership to `to` once its log is up to date. */
  transferLeadership(to: NodeId): boolean {
    if (this.role !== 'leader') return false;
    if (to === this.id) return true;
    if (!this.membership.isVoter(to)) return false;
    this.leadTransferee = to;
    this.electionElapsed = 0;
    const pr = this.progress.get(to) as Progress;
    if (pr.matchIndex === this.log.lastIndex()) this.send(this.message('timeoutNow', to));
    else this.sendAppend(to);
    return true;
  }

  /** The transport could not deliver a snapshot: probe again instead of waiting. */
  reportSnapshotFailure(to: NodeId): void {
    const pr = this.progress.get(to);
    if (pr?.state === 'snapshot') {
      pr.state = 'probe';
      pr.nextIndex = pr.matchIndex + 1;
      pr.pendingSnapshot = 0;
      pr.probeSent = false;
    }
  }

  /** The caller saved a snapshot of its applied state at `snapshot.meta.index`: drop the log
   *  before it (§7). */
  compact(snapshot: Snapshot): void {
    assert(snapshot.meta.index <= this.log.applied, 'a snapshot cannot cover unapplied entries');
    if (snapshot.meta.index <= this.log.snapshotMeta.index) return;
    this.log.compact(snapshot.meta);
    this.snapshot = snapshot;
  }

  /** The metadata a snapshot taken at applied index `index` must carry: its term and the
   *  membership in force at that index. */
  snapshotMetaAt(index: number): SnapshotMeta {
    assert(
      index >= this.log.snapshotMeta.index && index <= this.log.committed,
      `no committed entry ${index}`,
    );
    const membership = new Membership(this.log.snapshotMeta.conf);
    for (let i = this.log.snapshotMeta.index + 1; i <= index; i++) {
      if (this.log.typeOf(i) === 'conf')
        membership.apply(decodeConfChange((this.log.entry(i) as Entry).data));
    }
    return { index, term: this.log.term(index) as number, conf: membership.toConfState() };
  }

  step(m: Message): void {
    if (m.type === 'prop') {
      this.stepProp(m);
      return;
    }
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        // diss. §4.2.3 / §9.6: a server that heard from a leader within the minimum election
        // timeout ignores vote requests, so a rejoining or removed server cannot disrupt it.
        const force = m.context === TRANSFER_CONTEXT;
        const inLease =
          (this.checkQuorum || this.preVote) &&
          this.leaderId !== null &&
          this.electionElapsed < this.electionTicks;
        if (inLease && !force) return;
      }
      if (m.type === 'preVote' || (m.type === 'preVoteResp' && !m.reject)) {
        // A pre-vote never changes terms: that is its whole point (diss. §9.6).
      } else {
        const leader = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap' ? m.from : null;
        this.becomeFollower(m.term, leader);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A stale leader (its term bumped past by a partitioned node, or just old) learns our term.
        this.send(this.message('appResp', m.from));
      } else if (m.type === 'preVote' || m.type === 'vote') {
        // Figure 2: "reply false if term < currentTerm", with our term in the reply, so that a
        // candidate stuck in an old term (say, behind a stale membership) catches up.
        const resp = this.message(m.type === 'vote' ? 'voteResp' : 'preVoteResp', m.from);
        resp.reject = true;
        this.send(resp);
      }
      return;
    }

    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVoteRequest(m);
      return;
    }

    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        return;
      case 'candidate':
      case 'precandidate':
        this.stepCandidate(m);
        return;
      case 'follower':
        this.stepFollower(m);
        return;
    }
  }

  // ---------------------------------------------------------------- Ready

  hasReady(): boolean {
    if (this.needsBroadcast) return true;
    const ss = this.softState();
    if (ss.leaderId !== this.prevSoftState.leaderId || ss.role !== this.prevSoftState.role) return true;
    if (!sameHardState(this.hardState(), this.prevHardState)) return true;
    return (
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.log.unstableSnapshot !== null ||
      this.log.stabled < this.log.lastIndex() ||
      this.log.committed > this.log.applied
    );
  }

  ready(): Ready {
    if (this.needsBroadcast) {
      this.needsBroadcast = false;
      if (this.role === 'leader') this.broadcastAppend();
    }
    const hs = this.hardState();
    const rd: Ready = {
      softState: this.softState(),
      hardState: sameHardState(hs, this.prevHardState) ? null : hs,
      entries: this.log.unstableEntries(),
      snapshot: this.log.unstableSnapshot,
      committedEntries: this.log.nextCommitted(),
      messages: this.msgs,
      readStates: this.readStates,
    };
    this.msgs = [];
    this.readStates = [];
    return rd;
  }

  /** Whether every message of `rd` may leave before `rd` is persisted (Raft dissertation
   *  §10.2.1): a leader may send AppendEntries in parallel with its own disk write, because it
   *  counts itself toward a commit quorum only for entries that are already durable
   *  (`selfMatchIndex`). Anything that promises new hard state (a term or a vote) or an
   *  acknowledgement of stored entries must still wait for the write, so this holds only for a
   *  leader whose term and vote are already durable and whose messages are of the kinds below.
   *  Call it between `ready()` and `advance()`. */
  canSendBeforePersist(rd: Ready): boolean {
    if (rd.softState.role !== 'leader' || rd.snapshot !== null) return false;
    if (
      rd.hardState &&
      (rd.hardState.term !== this.prevHardState.term || rd.hardState.vote !== this.prevHardState.vote)
    )
      return false;
    return rd.messages.every((m) => SENDABLE_BEFORE_PERSIST.has(m.type));
  }

  advance(rd: Ready): void {
    this.prevSoftState = rd.softState;
    if (rd.hardState) this.prevHardState = rd.hardState;
    if (rd.snapshot && this.log.unstableSnapshot === rd.snapshot) this.log.unstableSnapshot = null;
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      this.log.stableTo(last.index, last.term);
    } else if (rd.snapshot) {
      this.log.stableTo(rd.snapshot.meta.index, rd.snapshot.meta.term);
    }
    if (rd.committedEntries.length > 0) {
      const last = rd.committedEntries[rd.committedEntries.length - 1].index;
      this.log.applied = Math.max(this.log.applied, last);
    }
    // The leader's own entries just became durable: they may complete a quorum now (§10.2.1).
    if (this.role === 'leader' && this.maybeCommit()) this.needsBroadcast = true;
  }

  /** The leader's own vote toward a commit quorum: only what it has persisted (diss. §10.2.1). */
  private selfMatchIndex(): number {
    if (this.unsafeCountUnstableSelf) return this.log.lastIndex();
    return Math.min(this.log.stabled, this.log.lastIndex());
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { leaderId: this.leaderId, role: this.role };
  }

  // ---------------------------------------------------------------- roles

  private promotable(): boolean {
    return this.membership.isVoter(this.id) && this.log.unstableSnapshot === null;
  }

  private resetRandomizedElectionTimeout(): void {
    // §5.2: randomized timeouts in [T, 2T) make split votes rare.
    this.randomizedElectionTimeout = this.electionTicks + this.random.int(0, this.electionJitterTicks);
  }

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    }
    this.leaderId = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.votes = new Map();
    this.progress.clear();
    this.leadTransferee = null;
    this.pendingReads = [];
    this.readsBeforeCommit = [];
    this.needsBroadcast = false;
  }

  becomeFollower(term: number, leaderId: NodeId | null): void {
    this.reset(term);
    this.role = 'follower';
    this.leaderId = leaderId;
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader does not pre-campaign');
    // The term is not bumped and the vote not cast: a pre-candidate changes nothing durable.
    this.votes = new Map();
    this.leaderId = null;
    this.role = 'precandidate';
    this.electionElapsed = 0;
    this.resetRandomizedElectionTimeout();
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader does not campaign');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', 'only a candidate becomes leader');
    const term = this.term;
    this.reset(term);
    this.role = 'leader';
    this.leaderId = this.id;
    for (const id of this.membership.all()) {
      if (id === this.id) continue;
      const pr = new Progress(this.log.lastIndex() + 1, this.inflightMax);
      pr.recentActive = true;
      this.progress.set(id, pr);
    }
    // Conservatively treat any uncommitted tail as holding a membership change.
    this.pendingConfIndex = this.log.lastIndex();
    // §5.4.2 / §8: a new leader commits a no-op of its own term to learn what is committed.
    this.appendEntry({ index: this.log.lastIndex() + 1, term, type: 'noop', data: new Uint8Array(0) });
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.startElection(this.preVote ? 'pre' : 'real', false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum) {
        // diss. §6.2: a leader cut off from a quorum steps down rather than serve stale reads.
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, null);
          return;
        }
        for (const pr of this.progress.values()) pr.recentActive = false;
      }
      // A transfer that did not finish within an election timeout is abandoned (diss. §3.10).
      this.leadTransferee = null;
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat('');
    }
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const id of this.membership.voters()) {
      if (id === this.id || this.progress.get(id)?.recentActive) active++;
    }
    return active >= this.membership.quorum();
  }

  private startElection(kind: 'pre' | 'real', transfer: boolean): void {
    if (kind === 'pre') this.becomePreCandidate();
    else this.becomeCandidate();
    const type: MessageType = kind === 'pre' ? 'preVote' : 'vote';
    // A pre-vote asks "would you vote for me in the next term?".
    const term = kind === 'pre' ? this.term + 1 : this.term;
    if (this.poll(this.id, true) === 'won') return;
    for (const id of this.membership.voters()) {
      if (id === this.id) continue;
      const m = this.message(type, id);
      m.term = term;
      m.index = this.log.lastIndex();
      m.logTerm = this.log.lastTerm();
      if (transfer) m.context = TRANSFER_CONTEXT;
      this.send(m);
    }
  }

  private poll(from: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    const result = this.membership.voteResult(this.votes);
    if (result === 'won') {
      if (this.role === 'precandidate') this.startElection('real', false);
      else this.becomeLeader();
    } else if (result === 'lost') {
      this.becomeFollower(this.term, null);
    }
    return result;
  }

  private handleVoteRequest(m: Message): void {
    // Figure 2, RequestVote receiver: grant if we have not voted for someone else this term
    // and the candidate's log is at least as up-to-date as ours (§5.4.1).
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.leaderId === null) ||
      (m.type === 'preVote' && m.term > this.term);
    const respType: MessageType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
    const resp = this.message(respType, m.from);
    if (canVote && (this.unsafeVoteIgnoresLog || this.log.isUpToDate(m.index, m.logTerm))) {
      resp.term = m.term;
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      resp.reject = true;
    }
    this.send(resp);
  }

  // ---------------------------------------------------------------- per-role steps

  /** A proposal a follower forwarded. Appended only by the leader of the very term the
   *  follower saw; anything else is dropped (the proposer learns it from the log, see
   *  RaftNode). It is a client request, not a protocol message: it never changes our term. */
  private stepProp(m: Message): void {
    if (this.role !== 'leader' || m.term !== this.term || this.leadTransferee !== null) return;
    for (const e of m.entries) {
      if (e.type !== 'normal') continue;
      this.appendEntry({ index: this.log.lastIndex() + 1, term: this.term, type: 'normal', data: e.data });
    }
  }

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from);
    switch (m.type) {
      case 'appResp':
        if (pr) this.handleAppendResponse(m, pr);
        return;
      case 'heartbeatResp':
        if (pr) this.handleHeartbeatResponse(m, pr);
        return;
      case 'readIndex':
        this.handleReadRequest(m.context, m.from);
        return;
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'app':
      case 'heartbeat':
      case 'snap':
        // §5.2: a candidate that hears from a leader of its own term returns to follower.
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      case 'preVoteResp':
        if (this.role === 'precandidate') this.poll(m.from, !m.reject);
        return;
      case 'voteResp':
        if (this.role === 'candidate') this.poll(m.from, !m.reject);
        return;
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.electionElapsed = 0;
        this.leaderId = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat': {
        this.electionElapsed = 0;
        this.leaderId = m.from;
        // The leader sends min(our match, its commit), so this never passes our log's end.
        if (m.commit <= this.log.lastIndex() && this.log.commitTo(m.commit)) this.applyCommittedConfChanges();
        const resp = this.message('heartbeatResp', m.from);
        resp.context = m.context;
        resp.index = m.index;
        this.send(resp);
        return;
      }
      case 'snap':
        this.electionElapsed = 0;
        this.leaderId = m.from;
        this.handleSnapshot(m);
        return;
      case 'timeoutNow':
        // diss. §3.10: the leader asks us to start an election at once, skipping pre-vote.
        if (this.promotable()) this.startElection('real', true);
        return;
      case 'readIndexResp':
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  // ---------------------------------------------------------------- replication (follower)

  private handleAppend(m: Message): void {
    const resp = this.message('appResp', m.from);
    if (m.index < this.log.committed) {
      resp.index = this.log.committed;
      this.send(resp);
      return;
    }
    if (this.log.matchTerm(m.index, m.logTerm)) {
      const lastNew = this.log.appendFromLeader(m.index, m.entries);
      if (this.log.commitTo(Math.min(m.commit, lastNew))) this.applyCommittedConfChanges();
      resp.index = lastNew;
      this.send(resp);
      return;
    }
    // Fast back-off (§5.3, the optimisation the paper sketches): instead of "try one index
    // lower", answer with the last index at or below prevLogIndex whose term is not newer
    // than the leader's prevLogTerm. The leader skips a whole term per round trip.
    const probe = Math.min(m.index, this.log.lastIndex());
    const hintIndex = this.log.lastIndexOfTermAtMost(m.logTerm, probe);
    resp.reject = true;
    resp.index = m.index;
    resp.hintIndex = hintIndex;
    resp.hintTerm = this.log.term(hintIndex) ?? 0;
    this.send(resp);
  }

  private handleSnapshot(m: Message): void {
    const snap = m.snapshot as Snapshot;
    const resp = this.message('appResp', m.from);
    const { index, term } = snap.meta;
    if (index <= this.log.committed) {
      resp.index = this.log.committed;
    } else if (this.log.matchTerm(index, term)) {
      // We already hold the snapshot's last entry: the prefix matches, just commit it.
      this.log.commitTo(index);
      this.applyCommittedConfChanges();
      resp.index = index;
    } else {
      // Figure 13: discard the whole log and take the snapshot.
      this.log.restore(snap);
      this.snapshot = snap;
      this.membership = new Membership(snap.meta.conf);
      this.confAppliedIndex = index;
      resp.index = index;
    }
    this.send(resp);
  }

  // ---------------------------------------------------------------- replication (leader)

  private appendEntry(entry: Entry): void {
    this.log.appendLocal([entry]);
    // The broadcast goes out with the next Ready, so that proposals arriving together share
    // one append per follower (batching). The leader's own vote counts once the entry is
    // durable (`advance`), so a single-voter cluster commits there, not here.
    this.maybeCommit();
    this.needsBroadcast = true;
  }

  private broadcastAppend(): void {
    for (const id of this.progress.keys()) this.sendAppend(id);
  }

  private broadcastHeartbeat(context: string): void {
    for (const [id, pr] of this.progress) {
      const m = this.message('heartbeat', id);
      // Never tell a follower to commit past what it is known to hold.
      m.commit = Math.min(pr.matchIndex, this.log.committed);
      m.context = context;
      m.index = this.tickCount;
      this.send(m);
    }
  }

  /** Sends the next append (or a snapshot) to `to` unless flow control pauses it. */
  private sendAppend(to: NodeId, sendIfEmpty = true): boolean {
    const pr = this.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.nextIndex - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) return this.sendSnapshot(to, pr);
    const entries = this.log.slice(
      pr.nextIndex,
      this.log.lastIndex() + 1,
      this.appendBytesMax,
      this.appendEntriesMax,
    );
    if (entries.length === 0 && !sendIfEmpty) return false;
    const m = this.message('app', to);
    m.index = prevIndex;
    m.logTerm = prevTerm;
    m.entries = entries;
    m.commit = this.log.committed;
    this.send(m);
    pr.sentAppend(prevIndex + entries.length, entries.length);
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    assert(this.snapshot !== null, 'log compacted without a snapshot to send');
    const m = this.message('snap', to);
    m.snapshot = this.snapshot;
    this.send(m);
    pr.becomeSnapshot(this.snapshot.meta.index);
    pr.snapshotSentTick = this.tickCount;
    return true;
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      // Ignore stale rejections: only the answer to our current probe moves nextIndex.
      if (pr.state === 'replicate' && m.index <= pr.matchIndex) return;
      if (pr.state === 'probe' && m.index !== pr.nextIndex - 1) return;
      if (pr.state === 'snapshot') return;
      let probe = m.hintIndex;
      if (m.hintTerm > 0) probe = this.log.lastIndexOfTermAtMost(m.hintTerm, m.hintIndex);
      if (pr.state === 'replicate') pr.becomeProbe();
      pr.nextIndex = Math.max(pr.matchIndex + 1, Math.min(probe + 1, m.index));
      pr.probeSent = false;
      this.sendAppend(m.from);
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) {
      if (pr.state === 'replicate') pr.freeTo(m.index);
      return;
    }
    switch (pr.state) {
      case 'probe':
        pr.becomeReplicate();
        break;
      case 'snapshot':
        if (pr.matchIndex >= pr.pendingSnapshot) {
          pr.becomeProbe();
          pr.becomeReplicate();
        }
        break;
      case 'replicate':
        pr.freeTo(m.index);
        break;
    }
    if (this.maybeCommit()) {
      this.broadcastAppend();
    } else if (wasPaused) {
      this.sendAppend(m.from);
    }
    // Keep the pipeline full while there is more to send and room in flight.
    while (this.sendAppend(m.from, false)) {}
    if (m.from === this.leadTransferee && pr.matchIndex === this.log.lastIndex()) {
      this.send(this.message('timeoutNow', m.from));
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.ackedTick = Math.max(pr.ackedTick, m.index);
    if (pr.state === 'probe') pr.probeSent = false;
    // A full pipeline to a follower that is still behind may have lost an append: free a slot
    // so that the next append goes out; a gap makes the follower reject it, and the leader
    // falls back to probing (etcd-io/raft does the same on heartbeat responses).
    if (pr.state === 'replicate' && pr.isPaused() && pr.matchIndex < this.log.lastIndex())
      pr.inflights.shift();
    if (pr.state === 'snapshot' && this.tickCount - pr.snapshotSentTick >= 2 * this.electionTicks) {
      // The snapshot was probably lost: probe again, which resends it if still needed.
      this.reportSnapshotFailure(m.from);
    }
    if (pr.matchIndex < this.log.lastIndex()) this.sendAppend(m.from);
    if (m.context !== '') this.ackRead(m.context, m.from);
  }

  /** §5.3/§5.4.2: advance commitIndex to the highest index stored on a majority, but only if
   *  that entry is from the current term; older entries are committed indirectly by it. */
  private maybeCommit(): boolean {
    const mci = this.membership.committedIndex((id) =>
      id === this.id ? this.selfMatchIndex() : (this.progress.get(id)?.matchIndex ?? 0),
    );
    if (mci <= this.log.committed) return false;
    if (this.log.term(mci) !== this.term) {
      if (!this.unsafeCommitOldTerms) return false;
      this.unsafeCommits++;
    }
    this.log.commitTo(mci);
    this.applyCommittedConfChanges();
    if (this.role === 'leader' && this.log.term(this.log.committed) === this.term)
      this.releaseReadsBeforeCommit();
    return true;
  }

  /** Membership changes take effect once committed on this node (see membership.ts). */
  private applyCommittedConfChanges(): void {
    while (this.confAppliedIndex < this.log.committed) {
      const index = ++this.confAppliedIndex;
      if (this.log.typeOf(index) !== 'conf') continue;
      const cc = decodeConfChange((this.log.entry(index) as Entry).data);
      this.membership.apply(cc);
      if (this.role !== 'leader') continue;
      if (cc.kind === 'remove') {
        this.progress.delete(cc.id);
        if (cc.id === this.leadTransferee) this.leadTransferee = null;
      } else if (cc.id !== this.id && !this.progress.has(cc.id)) {
        const pr = new Progress(this.log.lastIndex() + 1, this.inflightMax);
        pr.recentActive = true;
        this.progress.set(cc.id, pr);
        this.needsBroadcast = true;
      }
    }
    // diss. §4.2.2: a leader removed from the configuration steps down once the change commits.
    if (this.role === 'leader' && !this.membership.isVoter(this.id)) {
      this.broadcastAppend();
      this.becomeFollower(this.term, null);
      return;
    }
    // A new member may change the quorum: recount (e.g. removing a lagging voter).
    if (this.role === 'leader') {
      const before = this.log.committed;
      const mci = this.membership.committedIndex((id) =>
        id === this.id ? this.selfMatchIndex() : (this.progress.get(id)?.matchIndex ?? 0),
      );
      if (mci > before && (this.unsafeCommitOldTerms || this.log.term(mci) === this.term)) {
        this.log.commitTo(mci);
        this.needsBroadcast = true;
        this.applyCommittedConfChanges();
      }
    }
  }

  // ---------------------------------------------------------------- reads

  private handleReadRequest(context: string, from: NodeId): void {
    // diss. §6.4 step 1: until this leader has committed an entry of its term, it does not
    // know the latest commit index; park the read until then.
    if (this.log.term(this.log.committed) !== this.term) {
      this.readsBeforeCommit.push({ context, from });
      return;
    }
    const index = this.log.committed;
    if (this.membership.voters().length === 1 && this.membership.isVoter(this.id)) {
      this.answerRead(context, index, from);
      return;
    }
    if (this.readOnly === 'lease' && this.leaseValid()) {
      this.answerRead(context, index, from);
      return;
    }
    // diss. §6.4 step 3: confirm we are still leader with a heartbeat round to a quorum.
    this.pendingReads.push({ context, index, from, acks: new Set([this.id]) });
    this.broadcastHeartbeat(context);
  }

  private releaseReadsBeforeCommit(): void {
    const waiting = this.readsBeforeCommit;
    this.readsBeforeCommit = [];
    for (const r of waiting) this.handleReadRequest(r.context, r.from);
  }

  private ackRead(context: string, from: NodeId): void {
    const at = this.pendingReads.findIndex((r) => r.context === context);
    if (at < 0) return;
    const read = this.pendingReads[at];
    read.acks.add(from);
    const acked = this.membership.voters().filter((id) => read.acks.has(id)).length;
    if (acked < this.membership.quorum()) return;
    // A quorum confirming this round also confirms every read queued before it.
    const done = this.pendingReads.splice(0, at + 1);
    for (const r of done) this.answerRead(r.context, r.index, r.from);
  }

  /** Lease (diss. §6.4.1): voters that acknowledged a heartbeat sent at tick t ignore votes
   *  until their own election timeout passes, so no other leader can exist before
   *  t + electionTicks on their clocks; we stop trusting it leaseDriftTicks earlier. */
  private leaseValid(): boolean {
    if (this.leadTransferee !== null) return false;
    const acked = this.membership.committedIndex((id) =>
      id === this.id ? this.tickCount : (this.progress.get(id)?.ackedTick ?? -1),
    );
    return acked >= 0 && this.tickCount < acked + this.electionTicks - this.leaseDriftTicks;
  }

  private answerRead(context: string, index: number, from: NodeId): void {
    if (from === this.id) {
      this.readStates.push({ index, context });
      return;
    }
    const m = this.message('readIndexResp', from);
    m.index = index;
    m.context = context;
    this.send(m);
  }

  // ---------------------------------------------------------------- helpers

  private message(type: MessageType, to: NodeId): Message {
    return emptyMessage(type, this.id, to, this.term);
  }

  private send(m: Message): void {
    this.msgs.push(m);
  }

  status(): RaftStatusCore {
    const progress: RaftStatusCore['progress'] = {};
    if (this.role === 'leader') {
      for (const [id, pr] of this.progress) {
        progress[id] = {
          matchIndex: pr.matchIndex,
          nextIndex: pr.nextIndex,
          state: pr.state,
          recentActive: pr.recentActive,
        };
      }
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      votedFor: this.vote,
      leaderId: this.leaderId,
      commitIndex: this.log.committed,
      appliedIndex: this.log.applied,
      lastIndex: this.log.lastIndex(),
      snapshotIndex: this.log.snapshotMeta.index,
      snapshotTerm: this.log.snapshotMeta.term,
      members: this.membership.toConfState().members,
      progress,
      leadTransferee: this.leadTransferee,
    };
  }
}

export interface RaftStatusCore {
  id: NodeId;
  role: Role;
  term: number;
  votedFor: NodeId | null;
  leaderId: NodeId | null;
  commitIndex: number;
  appliedIndex: number;
  lastIndex: number;
  snapshotIndex: number;
  snapshotTerm: number;
  members: ConfState['members'];
  progress: Record<
    NodeId,
    {
      matchIndex: number;
      nextIndex: number;
      state: 'probe' | 'replicate' | 'snapshot';
      recentActive: boolean;
    }
  >;
  leadTransferee: NodeId | null;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
