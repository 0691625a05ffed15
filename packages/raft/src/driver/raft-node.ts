// The runtime around the pure core: owns the ticker, the storage, the transport and the
// application's state machine, and runs the Ready loop in the order Raft requires:
//   1. persist snapshot, entries, hard state (durably);  2. send messages (a leader's appends
//      may go first, overlapping its write: diss. §10.2.1, `Raft.canSendBeforePersist`);
//   3. apply committed entries, answering proposers;     4. advance.
// Committed entries made durable by earlier Readies do not wait for step 1: they are applied
// while its write runs on the thread pool.
// One Ready is in flight at a time; messages and ticks arriving meanwhile step the core at
// once and their effects go out with the next Ready. This is what the kv-store uses (API.md).
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { assert, randomSeed, SeededRandom, SystemClock, type TimerClock } from '@ddia/common';
import {
  bootstrapState,
  ELECTION_TICKS_DEFAULT,
  isUnfinishedFounding,
  Raft,
  type RaftConfig,
  type RaftInitialState,
  type RaftStatusCore,
} from '../core/raft.js';
import type { ConfChange, Entry, Message, NodeId, Ready } from '../core/types.js';
import { decodeConfChange } from '../core/types.js';
import {
  ConfChangeInProgressError,
  LeadershipTransferInProgressError,
  NotLeaderError,
  RaftBadRequestError,
  RaftError,
  RaftErrors,
  RaftStoppedError,
  RaftTimeoutError,
} from '../errors.js';
import type { RaftStorage } from '../storage/storage.js';
import type { Transport } from '../transport/transport.js';
import { PendingOperations, type ProposeOutcome } from './pending-operations.js';
import { BOOT_ID_BYTES, ProposalTagger, tagKey, unwrapCommand, wrapCommand } from './proposal-tag.js';
import { Snapshotter } from './snapshotter.js';

export type { ProposeOutcome } from './pending-operations.js';

export const TICK_MS_DEFAULT = 50;
export const OPERATION_TIMEOUT_DEFAULT_MS = 5_000;
export const SNAPSHOT_ENTRIES_DEFAULT = 10_000;
/** A learner counts as caught up when it is this close to the leader's last index. */
export const LEARNER_CAUGHT_UP_ENTRIES = 16;
/** Proposals and reads waiting at once; beyond this, new ones are refused (back-pressure). */
export const PENDING_OPERATIONS_MAX = 100_000;
export const COMMAND_BYTES_MAX = 8 * 1024 * 1024;

/** Most committed commands handed to `applyBatch` in one call; a longer run is split. */
export const APPLY_BATCH_ENTRIES_MAX = 4_096;
/** Most command bytes in one `applyBatch` call (a single larger command still goes alone). */
export const APPLY_BATCH_BYTES_MAX = 16 * 1024 * 1024;

/** One committed 'normal' entry as `applyBatch` receives it. */
export interface CommittedCommand {
  command: Uint8Array;
  index: number;
  term: number;
}

export interface StateMachine<R = unknown> {
  apply(command: Uint8Array, meta: { index: number; term: number }): Promise<R> | R;
  /**
   * Optional: applies a run of consecutive committed commands (ascending indexes, no gaps
   * except where a no-op or membership entry sat) in one call, returning one result per
   * command in the same order. Must give the same results as calling `apply` on each in turn;
   * whether the run is made durable atomically is the state machine's business (API.md §2).
   */
  applyBatch?(commands: CommittedCommand[]): Promise<R[]> | R[];
  /** The state as of the moment of the call (captured before the promise settles: the node
   *  applies on while the image is built; API.md §2). */
  snapshot(): Promise<Uint8Array> | Uint8Array;
  restore(data: Uint8Array, meta: { index: number; term: number }): Promise<void> | void;
}

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

export interface RaftNodeOptions<R = unknown> {
  id: NodeId;
  members?: { id: NodeId; url?: string }[];
  join?: boolean;
  storage: RaftStorage;
  transport: Transport;
  stateMachine: StateMachine<R>;
  clock?: TimerClock;
  /** Runs `fn` on the next turn of the event loop (default setImmediate). The simulation
   *  passes its virtual scheduler's, with `clock`, so that no real time or I/O turn decides
   *  what happens next. */
  nextTurn?: (fn: () => void) => void;
  tickMs?: number;
  electionTicks?: number;
  heartbeatTicks?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  readOnly?: 'safe' | 'lease';
  leaseDriftTicks?: number;
  snapshotEntries?: number;
  /** Followers send proposals to the leader (etcd's MsgProp) and answer once they apply them,
   *  instead of refusing them with NotLeaderError. */
  forwardProposals?: boolean;
  seed?: number;
  /** Names this life of the node in forwarded proposals' tags and read rounds' contexts
   *  (default: BOOT_ID_BYTES random bytes, so a restarted node's never collide with its
   *  earlier ones). The simulation gives each life its own, deterministically. */
  bootId?: Uint8Array;
  /** Further core settings: flow control (inflightMax, appendEntriesMax, ...), and the
   *  simulation's deliberately broken canaries. The options above take precedence. */
  core?: Omit<RaftConfig, 'id' | 'random'>;
  logger?: Logger;
}

/** Who leads, as far as this node knows: the part of status() a request router needs. */
export interface RaftLeadership {
  id: NodeId;
  role: RaftStatusCore['role'];
  term: number;
  leaderId: NodeId | null;
  leaderUrl: string | null;
}

export interface RaftStatus extends RaftStatusCore {
  leaderUrl: string | null;
  members: { id: NodeId; url?: string; voter: boolean }[];
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
  timer: { cancel(): void };
}

export class RaftNode<R = unknown> extends EventEmitter {
  readonly id: NodeId;
  private readonly raft: Raft;
  private readonly storage: RaftStorage;
  private readonly transport: Transport;
  private readonly sm: StateMachine<R>;
  private readonly clock: TimerClock;
  private readonly nextTurn: (fn: () => void) => void;
  private readonly tickMs: number;
  private readonly snapshotEntries: number;
  private readonly readRoundTimeoutMs: number;
  private readonly logger: Logger | undefined;

  private appliedIndex: number;
  private running = false;
  private stopped = false;
  /** Counters for metrics: how well work is batched (entries per log write, per Ready). */
  readonly stats = {
    readies: 0,
    logWrites: 0,
    entriesWritten: 0,
    entriesApplied: 0,
    messagesSent: 0,
    readRounds: 0,
  };
  private cycle: Promise<void> | null = null;
  private kickPending = false;
  private ticker: { cancel(): void } | null = null;
  /** Proposals waiting for their entry to apply: this node's own and those it forwarded. */
  private readonly pending: PendingOperations<R>;
  private readonly snapshotter: Snapshotter;
  /** Tags for the proposals this follower forwards to the leader (proposal-tag.ts). */
  private readonly tagger: ProposalTagger;
  private outgoingProps: Message[] = [];
  private readonly reads = new Map<string, Waiter<number> & { index: number }>();
  private readonly appliedWaiters: { index: number; resolve(): void }[] = [];
  private readSeq = 0;
  /** Reads waiting for the next ReadIndex round, and the round in flight (see readIndex). */
  private readQueue: string[] = [];
  private readRound: { context: string; ids: string[]; startedMs: number } | null = null;
  private readRoundSeq = 0;
  /** Read round contexts start with this node's id and boot id: an answer to a round of an
   *  earlier life of this node (still on its way when it restarted) must not settle a round of
   *  this one, whose reads started later and may need a later index. */
  private readonly readContextPrefix: string;
  /** Addresses given at start (a joining node needs them before it learns the membership). */
  private readonly seedPeers: Record<NodeId, string> = {};
  private lastLeader: NodeId | null = null;
  private fatal: unknown = null;

  private constructor(options: RaftNodeOptions<R>, initial: RaftInitialState) {
    super();
    this.id = options.id;
    this.storage = options.storage;
    this.transport = options.transport;
    this.sm = options.stateMachine;
    this.clock = options.clock ?? new SystemClock();
    this.nextTurn = options.nextTurn ?? setImmediate;
    const bootId = options.bootId ?? randomBytes(BOOT_ID_BYTES);
    this.tagger = new ProposalTagger(bootId);
    this.readContextPrefix = `${this.id}:${Buffer.from(bootId).toString('hex')}:r`;
    this.tickMs = options.tickMs ?? TICK_MS_DEFAULT;
    this.snapshotEntries = options.snapshotEntries ?? SNAPSHOT_ENTRIES_DEFAULT;
    this.readRoundTimeoutMs =
      this.tickMs * (options.electionTicks ?? options.core?.electionTicks ?? ELECTION_TICKS_DEFAULT);
    this.logger = options.logger;
    const { core } = options;
    this.raft = new Raft(
      {
        ...core,
        id: options.id,
        random: new SeededRandom(options.seed ?? randomSeed()),
        electionTicks: options.electionTicks ?? core?.electionTicks,
        heartbeatTicks: options.heartbeatTicks ?? core?.heartbeatTicks,
        preVote: options.preVote ?? core?.preVote,
        checkQuorum: options.checkQuorum ?? core?.checkQuorum,
        readOnly: options.readOnly ?? core?.readOnly,
        leaseDriftTicks: options.leaseDriftTicks ?? core?.leaseDriftTicks,
        forwardProposals: options.forwardProposals ?? core?.forwardProposals,
      },
      initial,
    );
    this.appliedIndex = initial.snapshot?.meta.index ?? 0;
    this.pending = new PendingOperations<R>(this.clock);
    this.snapshotter = new Snapshotter({
      raft: this.raft,
      storage: this.storage,
      capture: () => this.sm.snapshot(),
      snapshotEntries: this.snapshotEntries,
      kick: (force) => this.kick(force),
      logger: this.logger,
    });
    for (const m of options.members ?? []) if (m.url && m.id !== this.id) this.seedPeers[m.id] = m.url;
  }

  /** Loads (or bootstraps) storage, restores the state machine, and starts ticking. */
  static async start<R>(options: RaftNodeOptions<R>): Promise<RaftNode<R>> {
    let initial = await options.storage.load();
    if (initial === null && options.join) {
      initial = { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] };
    } else if (!options.join) {
      const members = options.members ?? [];
      const founding = bootstrapState(members);
      // A first start, or one whose founding write a power cut interrupted (its entries
      // survived without the hard state that commits them: with no committed membership the
      // node would have no voters and never elect anyone).
      if (initial === null || isUnfinishedFounding(initial, founding)) {
        if (!members.some((m) => m.id === options.id)) {
          throw new RaftBadRequestError(`members must include this node (${options.id}) unless join is set`);
        }
        initial = founding;
        // The founding membership is durable before this node says anything.
        await options.storage.save({
          snapshot: null,
          entries: initial.entries,
          hardState: initial.hardState,
        });
      }
    }
    assert(initial !== null, 'storage loaded or bootstrapped');
    if (initial.snapshot) await options.stateMachine.restore(initial.snapshot.data, initial.snapshot.meta);
    const node = new RaftNode(options, initial);
    node.updatePeers();
    node.transport.start({
      deliver: (messages) => node.receive(messages),
      snapshotFailed: (to) => node.raft.reportSnapshotFailure(to),
    });
    node.running = true;
    node.scheduleTick();
    node.kick();
    return node;
  }

  // ---------------------------------------------------------------- public API

  /** Messages from peers (the transport, or registerRaftRoutes, calls this). */
  receive(messages: Message[]): void {
    if (!this.running) return;
    for (const m of messages) {
      if (m.to !== this.id) continue;
      this.raft.step(m);
    }
    this.kick();
  }

  async propose(command: Uint8Array, options: { timeoutMs?: number } = {}): Promise<ProposeOutcome<R>> {
    this.checkRunning();
    if (command.length > COMMAND_BYTES_MAX) {
      throw new RaftBadRequestError(`command of ${command.length} bytes exceeds ${COMMAND_BYTES_MAX}`);
    }
    if (this.pending.size >= PENDING_OPERATIONS_MAX) {
      throw new RaftError(RaftErrors.overloaded, `${PENDING_OPERATIONS_MAX} proposals already pending`);
    }
    if (this.raft.role === 'leader')
      return this.track(this.raft.propose(wrapCommand(command)), options.timeoutMs);
    return this.forward(command, options.timeoutMs ?? OPERATION_TIMEOUT_DEFAULT_MS);
  }

  /**
   * A follower's proposal goes to the leader inside a Raft message; this node answers when it
   * applies the tagged entry. If it applies an entry of a later term first, the leader never
   * appended it (it appends only in the term the proposal was sent in: Raft.forwardProposal),
   * so the proposal is refused as not committed, and the caller may safely retry.
   */
  private forward(command: Uint8Array, timeoutMs: number): Promise<ProposeOutcome<R>> {
    const tag = this.tagger.next();
    const sent = this.raft.forwardProposal(wrapCommand(command, tag));
    if (!sent.ok) throw this.notLeader();
    // Proposals of one event-loop turn leave together, at once: not behind a Ready's fsync.
    this.outgoingProps.push(sent.message);
    if (this.outgoingProps.length === 1) {
      this.nextTurn(() => {
        const props = this.outgoingProps;
        this.outgoingProps = [];
        if (this.running) this.transport.send(props);
      });
    }
    const promise = this.pending.trackForwarded(tagKey(tag), sent.term, String(sent.leaderId), timeoutMs);
    this.kick();
    return promise;
  }

  /**
   * Linearizable read barrier. Reads share ReadIndex rounds, as etcd's read loop does: every
   * read that arrives while no round is in flight goes into the next one, so a thousand
   * concurrent reads cost one heartbeat round, not a thousand. A read never joins a round that
   * started before it (that round's index could miss a write the read must see).
   */
  async readIndex(options: { timeoutMs?: number } = {}): Promise<number> {
    this.checkRunning();
    if (this.raft.role !== 'leader' && this.raft.leaderId === null) throw this.notLeader();
    const id = String(++this.readSeq);
    const timeoutMs = options.timeoutMs ?? OPERATION_TIMEOUT_DEFAULT_MS;
    const promise = new Promise<number>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.reads.delete(id);
        reject(new RaftTimeoutError('read index', timeoutMs));
      }, timeoutMs);
      this.reads.set(id, { resolve, reject, timer, index: -1 });
    });
    this.readQueue.push(id);
    this.startReadRound();
    this.kick();
    return promise;
  }

  /** Starts a ReadIndex round for the queued reads unless one is in flight and still fresh. */
  private startReadRound(): void {
    if (this.readRound) {
      // A round lost with its leader (or its messages) would hold every later read: after an
      // election timeout, its reads go into a new round.
      if (this.clock.nowMs() - this.readRound.startedMs < this.readRoundTimeoutMs) return;
      this.readQueue = [...this.readRound.ids, ...this.readQueue];
      this.readRound = null;
    }
    const ids = this.readQueue.filter((id) => this.reads.has(id));
    this.readQueue = [];
    if (ids.length === 0) return;
    const context = `${this.readContextPrefix}${++this.readRoundSeq}`;
    if (!this.raft.readIndex(context)) {
      const err = this.notLeader();
      for (const id of ids) {
        const r = this.reads.get(id);
        this.reads.delete(id);
        r?.timer.cancel();
        r?.reject(err);
      }
      return;
    }
    this.readRound = { context, ids, startedMs: this.clock.nowMs() };
    this.stats.readRounds++;
  }

  status(): RaftStatus {
    const s = this.raft.status();
    const leader = s.leaderId ? this.raft.membership.get(s.leaderId) : undefined;
    return { ...s, leaderUrl: leader?.url ?? null };
  }

  /** status() without the progress and members it copies: cheap enough to ask per request. */
  leadership(): RaftLeadership {
    const leaderId = this.raft.leaderId;
    const leader = leaderId ? this.raft.membership.get(leaderId) : undefined;
    return {
      id: this.id,
      role: this.raft.role,
      term: this.raft.term,
      leaderId,
      leaderUrl: leader?.url ?? null,
    };
  }

  get isLeader(): boolean {
    return this.raft.role === 'leader';
  }

  async snapshotNow(): Promise<{ index: number; term: number }> {
    this.checkRunning();
    return this.snapshotter.request();
  }

  async addLearner(
    member: { id: NodeId; url?: string },
    options: { timeoutMs?: number } = {},
  ): Promise<void> {
    await this.changeMembership({ kind: 'addLearner', id: member.id, url: member.url }, options.timeoutMs);
  }

  /** Adds a voter the safe way (diss. §4.2.1): as a learner first, promoted once caught up. */
  async addMember(member: { id: NodeId; url?: string }, options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const deadline = this.clock.nowMs() + timeoutMs;
    if (!this.raft.membership.has(member.id)) await this.addLearner(member, { timeoutMs });
    for (;;) {
      this.checkRunning();
      if (this.raft.role !== 'leader') throw this.notLeader();
      const pr = this.raft.progress.get(member.id);
      if (pr && pr.matchIndex + LEARNER_CAUGHT_UP_ENTRIES >= this.raft.log.lastIndex()) break;
      if (this.clock.nowMs() > deadline)
        throw new RaftTimeoutError(`catching up learner ${member.id}`, timeoutMs);
      await this.sleep(this.tickMs);
    }
    const remaining = Math.max(1, deadline - this.clock.nowMs());
    await this.changeMembership({ kind: 'addVoter', id: member.id, url: member.url }, remaining);
  }

  async removeMember(id: NodeId, options: { timeoutMs?: number } = {}): Promise<void> {
    await this.changeMembership({ kind: 'remove', id }, options.timeoutMs);
  }

  /** diss. §3.10. Without a target, picks the follower with the longest log. */
  async transferLeadership(to?: NodeId, options: { timeoutMs?: number } = {}): Promise<NodeId> {
    this.checkRunning();
    if (this.raft.role !== 'leader') throw this.notLeader();
    let target = to;
    if (target === undefined) {
      let best = -1;
      for (const [id, pr] of this.raft.progress) {
        if (this.raft.membership.isVoter(id) && pr.matchIndex > best) {
          best = pr.matchIndex;
          target = id;
        }
      }
    }
    if (target === undefined || !this.raft.membership.isVoter(target)) {
      throw new RaftBadRequestError(`cannot transfer leadership to ${target ?? '(no voter)'}: not a voter`);
    }
    if (target === this.id) return target;
    this.raft.transferLeadership(target);
    this.kick();
    const timeoutMs = options.timeoutMs ?? OPERATION_TIMEOUT_DEFAULT_MS;
    const deadline = this.clock.nowMs() + timeoutMs;
    while (this.raft.leaderId !== target) {
      this.checkRunning();
      if (this.clock.nowMs() > deadline)
        throw new RaftTimeoutError(`leadership transfer to ${target}`, timeoutMs);
      // The core abandons a transfer after an election timeout; ask again while we lead.
      if (this.raft.role === 'leader' && this.raft.leadTransferee === null) {
        this.raft.transferLeadership(target);
        this.kick();
      }
      await this.sleep(this.tickMs);
    }
    return target;
  }

  /** Resolves once `index` is applied locally. */
  waitApplied(index: number): Promise<void> {
    if (this.appliedIndex >= index) return Promise.resolve();
    return new Promise((resolve) => this.appliedWaiters.push({ index, resolve }));
  }

  get applied(): number {
    return this.appliedIndex;
  }

  /** The core, for the simulation's safety checker to read. Reading only: a step or a tick
   *  from outside would bypass this node's Ready loop. */
  get core(): Raft {
    return this.raft;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.running = false;
    this.ticker?.cancel();
    await this.cycle?.catch(() => {});
    const stopped = new RaftStoppedError();
    this.pending.rejectAll(stopped);
    for (const r of this.reads.values()) {
      r.timer.cancel();
      r.reject(stopped);
    }
    this.reads.clear();
    this.readQueue = [];
    this.readRound = null;
    this.snapshotter.rejectAll(stopped);
    await this.transport.close();
    await this.storage.close();
  }

  // ---------------------------------------------------------------- internals

  private checkRunning(): void {
    if (this.fatal) throw this.fatal;
    if (!this.running) throw new RaftStoppedError();
  }

  private notLeader(): NotLeaderError {
    const s = this.status();
    return new NotLeaderError(s.leaderId === this.id ? null : s.leaderId, s.leaderUrl, s.term);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }

  private async changeMembership(cc: ConfChange, timeoutMs?: number): Promise<void> {
    this.checkRunning();
    if (cc.kind !== 'remove' && cc.url !== undefined && !/^https?:\/\//.test(cc.url)) {
      throw new RaftBadRequestError(`member url must be http(s): ${cc.url}`);
    }
    await this.track(this.raft.proposeConfChange(cc), timeoutMs);
  }

  private track(
    result: ReturnType<Raft['propose']>,
    timeoutMs = OPERATION_TIMEOUT_DEFAULT_MS,
  ): Promise<ProposeOutcome<R>> {
    if (!result.ok) {
      switch (result.reason) {
        case 'notLeader':
          throw this.notLeader();
        case 'transferring':
          throw new LeadershipTransferInProgressError();
        case 'confChangePending':
          throw new ConfChangeInProgressError();
        case 'unknownMember':
          throw new RaftBadRequestError('no such member');
      }
    }
    const promise = this.pending.trackLocal(result.index, result.term, timeoutMs);
    this.kick();
    return promise;
  }

  private scheduleTick(): void {
    if (!this.running) return;
    this.ticker = this.clock.setTimeout(() => {
      if (!this.running) return;
      this.raft.tick();
      if (this.readRound) this.startReadRound();
      this.kick();
      this.scheduleTick();
    }, this.tickMs);
  }

  /** Starts a Ready cycle unless one is running (it loops while there is work). */
  private kick(force = false): void {
    if (this.cycle || this.kickPending || (!this.running && !force)) return;
    if (!this.raft.hasReady() && !this.snapshotter.hasWork()) return;
    // Start on the next turn of the event loop rather than now: every request and message that
    // arrives in this turn (all the sockets one poll returned) joins the same Ready, so they
    // share one log write, one fsync and one frame per peer (group commit, diss. §10.2.1).
    this.kickPending = true;
    this.nextTurn(() => {
      this.kickPending = false;
      this.startCycle(force);
    });
  }

  private startCycle(force: boolean): void {
    if (this.cycle || (!this.running && !force)) return;
    if (!this.raft.hasReady() && !this.snapshotter.hasWork()) return;
    this.cycle = this.runCycles()
      .catch((err) => this.fail(err))
      .finally(() => {
        this.cycle = null;
        // (A snapshot image may have been finished during the cycle: its install is work too.)
        if (this.running && (this.raft.hasReady() || this.snapshotter.hasWork())) this.kick();
      });
  }

  /** A storage or state machine failure: stop rather than risk acting on undurable state. */
  private fail(err: unknown): void {
    if (this.fatal) return;
    this.fatal = err;
    this.running = false;
    this.ticker?.cancel();
    this.logger?.error({ err }, 'raft node stopped after a storage or apply failure');
    this.emit('fatal', err);
  }

  private async runCycles(): Promise<void> {
    while (this.running && (this.raft.hasReady() || this.snapshotter.hasWork())) {
      if (this.raft.hasReady()) await this.runOneReady(this.raft.ready());
      await this.snapshotter.install();
      if (this.running) this.snapshotter.maybeStart(this.appliedIndex);
    }
  }

  private async runOneReady(rd: Ready): Promise<void> {
    // 1. Durable first: the messages below may promise what is written here. A leader's
    // appends are the exception (diss. §10.2.1): they go out while its own write runs, so a
    // commit costs one fsync of latency (the followers', overlapping the leader's), not two in
    // a row. The core counts the leader toward a quorum only for entries `advance` has marked
    // durable, and refuses this order whenever the Ready changes the term or the vote.
    const sendFirst = this.raft.canSendBeforePersist(rd);
    if (sendFirst) this.sendReady(rd);
    this.stats.readies++;
    this.stats.messagesSent += rd.messages.length;
    this.stats.entriesApplied += rd.committedEntries.length;
    // The write's outcome, observed at once (a rejection must not go unhandled during the apply).
    let saved: Promise<{ failure: unknown } | null> | null = null;
    if (rd.snapshot || rd.entries.length > 0 || rd.hardState) {
      if (rd.entries.length > 0) {
        this.stats.logWrites++;
        this.stats.entriesWritten += rd.entries.length;
      }
      saved = this.storage.save({ snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState }).then(
        () => null,
        (failure: unknown) => ({ failure }),
      );
    }
    // Committed entries this node had already made durable in earlier Readies are applied while
    // this Ready's write runs (on the thread pool): their proposers need not wait for an fsync
    // of newer entries, and a follower's acknowledgement below waits for the longer of the
    // write and the apply instead of for both in a row.
    // (etcd hands committed entries to its applier before saving the Ready, for the same reason.)
    const stable = this.raft.log.stabled;
    const splitAt = rd.snapshot ? 0 : countWhile(rd.committedEntries, (e) => e.index <= stable);
    if (splitAt > 0) {
      try {
        await this.applyAndSettle(rd.committedEntries.slice(0, splitAt));
      } catch (err) {
        await saved; // the apply's failure is the one reported
        throw err;
      }
    }
    const outcome = await saved;
    if (outcome) throw outcome.failure;
    // 2. Send.
    if (!sendFirst) this.sendReady(rd);
    // 3. Apply the rest. (Applying behind the Ready loop, as etcd does, measured
    // slower here: the loop then turns faster with fewer entries per Ready, so every entry pays
    // more fsyncs and requests; on a CPU-bound machine the batching is worth more.)
    if (rd.snapshot) {
      await this.sm.restore(rd.snapshot.data, rd.snapshot.meta);
      this.appliedIndex = rd.snapshot.meta.index;
      this.updatePeers();
      this.pending.replacedBySnapshot(rd.snapshot.meta);
    }
    await this.applyAndSettle(splitAt > 0 ? rd.committedEntries.slice(splitAt) : rd.committedEntries);
    for (const rs of rd.readStates) {
      if (this.readRound?.context !== rs.context) continue; // an abandoned round
      for (const id of this.readRound.ids) {
        const r = this.reads.get(id);
        if (r) r.index = rs.index;
      }
      this.readRound = null;
    }
    this.raft.advance(rd);
    if (this.readQueue.length > 0 || this.readRound) this.startReadRound();
    this.settleReads();
    this.settleAppliedWaiters();
    if (rd.softState.leaderId !== this.lastLeader) {
      this.lastLeader = rd.softState.leaderId;
      this.logger?.info({ leader: this.lastLeader, term: this.raft.term }, 'raft leader changed');
      this.emit('leader', this.lastLeader, this.raft.term);
    }
  }

  private async applyAndSettle(entries: Entry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.applyCommitted(entries);
    const last = entries[entries.length - 1] as Entry;
    this.pending.appliedTerm(last.term);
  }

  /** Sends to the membership as of this Ready (a joining node learns addresses here). */
  private sendReady(rd: Ready): void {
    if (rd.snapshot || rd.committedEntries.some((e) => e.type === 'conf')) this.updatePeers();
    if (rd.messages.length > 0) this.transport.send(rd.messages);
  }

  /**
   * Applies committed entries in log order. With `applyBatch`, each run of consecutive 'normal'
   * entries goes to the state machine in one call (bounded by APPLY_BATCH_*_MAX), so a store
   * can make the whole run durable with one write instead of one per entry. No-op and
   * membership entries end a run and are handled by the node in their place in the order.
   */
  private async applyCommitted(entries: Entry[]): Promise<void> {
    const applyBatch = this.sm.applyBatch?.bind(this.sm);
    if (!applyBatch) {
      for (const e of entries) await this.applyEntry(e);
      return;
    }
    let i = 0;
    while (i < entries.length) {
      const first = entries[i] as Entry;
      if (first.type !== 'normal' || first.index <= this.appliedIndex) {
        await this.applyEntry(first);
        i++;
        continue;
      }
      const run: Entry[] = [first];
      let runBytes = first.data.length;
      for (i++; i < entries.length && run.length < APPLY_BATCH_ENTRIES_MAX; i++) {
        const e = entries[i] as Entry;
        if (e.type !== 'normal' || runBytes + e.data.length > APPLY_BATCH_BYTES_MAX) break;
        run.push(e);
        runBytes += e.data.length;
      }
      const unwrapped = run.map((e) => unwrapCommand(e.data));
      const results = await applyBatch(
        run.map((e, k) => ({
          command: (unwrapped[k] as { command: Uint8Array }).command,
          index: e.index,
          term: e.term,
        })),
      );
      if (!Array.isArray(results) || results.length !== run.length) {
        const count = Array.isArray(results) ? results.length : 'no';
        assert(false, `applyBatch returned ${count} results for ${run.length} commands`);
      }
      for (let k = 0; k < run.length; k++)
        this.finishApply(run[k] as Entry, results[k] as R, (unwrapped[k] as { tag: string }).tag);
    }
  }

  private async applyEntry(e: Entry): Promise<void> {
    if (e.index <= this.appliedIndex) return;
    let result: unknown;
    let tag = '';
    if (e.type === 'normal') {
      const unwrapped = unwrapCommand(e.data);
      tag = unwrapped.tag;
      result = await this.sm.apply(unwrapped.command, { index: e.index, term: e.term });
    } else if (e.type === 'conf') {
      const cc = decodeConfChange(e.data);
      this.logger?.info({ change: cc, index: e.index }, 'raft membership changed');
      this.updatePeers();
    }
    this.finishApply(e, result as R, tag);
  }

  /** Marks `e` applied and answers its proposer (if it was proposed here, in that term). */
  private finishApply(e: Entry, result: R, tag: string): void {
    // (The message is built only on failure: this runs once per committed entry.)
    if (e.index <= this.appliedIndex)
      assert(false, `entry ${e.index} applied twice (at ${this.appliedIndex})`);
    this.appliedIndex = e.index;
    this.emit('applied', e.index);
    this.pending.applied(e, result, tag);
  }

  private settleReads(): void {
    for (const [context, r] of this.reads) {
      if (r.index >= 0 && this.appliedIndex >= r.index) {
        this.reads.delete(context);
        r.timer.cancel();
        r.resolve(r.index);
      }
    }
  }

  private settleAppliedWaiters(): void {
    for (let i = this.appliedWaiters.length - 1; i >= 0; i--) {
      const w = this.appliedWaiters[i];
      if (this.appliedIndex >= w.index) {
        this.appliedWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  private updatePeers(): void {
    const peers: Record<NodeId, string> = { ...this.seedPeers };
    for (const m of this.raft.membership.toConfState().members) {
      if (m.id !== this.id && m.url) peers[m.id] = m.url;
    }
    this.transport.setPeers(peers);
  }
}

function countWhile<T>(items: readonly T[], test: (item: T) => boolean): number {
  let n = 0;
  while (n < items.length && test(items[n] as T)) n++;
  return n;
}
