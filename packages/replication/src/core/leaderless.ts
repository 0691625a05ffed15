// Leaderless replication, Dynamo style (DDIA ch. 5, "Leaderless Replication"; DeCandia et al.,
// "Dynamo", SOSP 2007). A pure state machine: the driver feeds it client requests, peer messages
// and ticks, and carries out the Ready it returns.
//
// - Every key has N home replicas (placement.ts). Any node takes a client's request.
// - A write is coordinated by the first live home replica, because only a replica that holds
//   the key's history may mint its next version (dot-store.ts). It applies the write, sends
//   the new state to the other home replicas, and answers once W replicas have it on disk.
// - A read asks the N home replicas, answers with the merge of the first R answers, and then
//   repairs every replica whose answer was older than the merge (read repair).
// - Sloppy quorum: a home replica that is suspected, or has not answered within
//   `sloppyAfterMs`, is replaced by the next member in the key's order, which keeps the state as
//   a hint and hands it over once the home replica is back (hinted handoff).
// - Anti-entropy: every `antiEntropyEveryMs` a replica compares Merkle trees with one peer.
// - Tombstones older than `tombstoneGraceMs` are collected (key-state.ts).
import type { Clock } from '@ddia/common/core';
import { type AeMessage, AntiEntropy } from './anti-entropy.js';
import {
  countRule,
  countsToward,
  dcRule,
  isDcQuorumWord,
  type QuorumRule,
  quorumMet,
  ruleDetail,
} from './dc-quorum.js';
import { applyMutation, type KeyState, type Mutation, mergeMaybe, statesEqual, viewOf } from './key-state.js';
import { homeReplicas, preferenceOrder } from './placement.js';
import {
  type KeyRecord,
  type QuorumSpec,
  type Ready,
  ReadyBuffer,
  type Reply,
  type RequestResult,
  resolveQuorum,
} from './ready.js';
import { ReplicaChores } from './replica-chores.js';
import { ReplicaStore } from './replica-store.js';
import type { NodeId } from './version-vector.js';

export interface LeaderlessConfig {
  id: NodeId;
  /** Every member, this node included. */
  nodes: NodeId[];
  /** Replicas per key. */
  n: number;
  /** Defaults when a request names none. */
  r: QuorumSpec;
  w: QuorumSpec;
  /** A request not answered within this is answered with an error. */
  requestTimeoutMs: number;
  /** A home replica silent this long during a write is replaced by a stand-in. */
  sloppyAfterMs: number;
  pingEveryMs: number;
  suspectAfterMs: number;
  hintRetryMs: number;
  /** 0 turns anti-entropy off (the experiment measures read repair alone). */
  antiEntropyEveryMs: number;
  tombstoneGraceMs: number;
  /** Hint states sent per handoff round, per target. */
  handoffBatchMax: number;
  /**
   * Each member's datacenter (`--dcs`); needed by the local_quorum and each_quorum levels. With
   * it, a write is coordinated by a home replica in this node's datacenter when one is alive.
   */
  dcOf?: ReadonlyMap<NodeId, string>;
}

export const LEADERLESS_DEFAULTS = {
  r: 'quorum',
  w: 'quorum',
  requestTimeoutMs: 2_000,
  sloppyAfterMs: 500,
  pingEveryMs: 250,
  suspectAfterMs: 1_500,
  hintRetryMs: 500,
  antiEntropyEveryMs: 5_000,
  tombstoneGraceMs: 10 * 60_000,
  handoffBatchMax: 256,
} as const satisfies Partial<LeaderlessConfig>;

export type LeaderlessMessage =
  | { type: 'ping' }
  | { type: 'pong' }
  | { type: 'read'; op: number; key: string }
  | { type: 'read-ok'; op: number; state: KeyState | null }
  | {
      type: 'forward';
      op: number;
      key: string;
      mutation: Mutation;
      w: number;
      sloppy: boolean;
      /** A datacenter level, resolved where the client's request arrived (its datacenter is the local one). */
      rule?: QuorumRule;
    }
  | { type: 'forward-result'; op: number; result: RequestResult }
  | { type: 'replicate'; op: number; key: string; state: KeyState; hintFor: NodeId | null }
  | { type: 'replicate-ok'; op: number; from: NodeId; hintFor: NodeId | null }
  | { type: 'repair'; key: string; state: KeyState }
  | { type: 'handoff'; key: string; state: KeyState }
  | { type: 'handoff-ok'; key: string; state: KeyState }
  | AeMessage;

export interface ReadRequest {
  kind: 'read';
  key: string;
  r?: QuorumSpec;
}

export interface WriteRequest {
  kind: 'write';
  key: string;
  mutation: Mutation;
  w?: QuorumSpec;
  /** Use stand-ins for unreachable home replicas (default true). */
  sloppy?: boolean;
}

export type LeaderlessRequest = ReadRequest | WriteRequest;

interface PendingRead {
  requestId: number;
  key: string;
  r: QuorumRule;
  replicas: NodeId[];
  answers: Map<NodeId, KeyState | null>;
  answered: boolean;
  deadlineMs: number;
}

interface PendingWrite {
  requestId: number;
  key: string;
  w: QuorumRule;
  sloppy: boolean;
  state: KeyState;
  /** Home replicas whose copy is on disk, at home or as a hint on a stand-in. */
  covered: Set<NodeId>;
  /** Where each home replica's copy was sent (itself, or a stand-in). */
  sentTo: Map<NodeId, NodeId>;
  answered: boolean;
  startedMs: number;
  deadlineMs: number;
}

interface PendingForward {
  requestId: number;
  deadlineMs: number;
}

export interface LeaderlessStats {
  reads: number;
  writes: number;
  readRepairs: number;
  hintsStored: number;
  hintsHandedOff: number;
  sloppyWrites: number;
  tombstonesCollected: number;
}

export class LeaderlessNode {
  readonly store = new ReplicaStore();
  /** States held for unreachable home replicas: target -> key -> state. */
  readonly hints = new Map<NodeId, Map<string, KeyState>>();
  readonly antiEntropy: AntiEntropy;
  readonly stats: LeaderlessStats = {
    reads: 0,
    writes: 0,
    readRepairs: 0,
    hintsStored: 0,
    hintsHandedOff: 0,
    sloppyWrites: 0,
    tombstonesCollected: 0,
  };
  private readonly out = new ReadyBuffer<LeaderlessMessage>();
  private readonly peers: NodeId[];
  private readonly reads = new Map<number, PendingRead>();
  private readonly writes = new Map<number, PendingWrite>();
  private readonly forwards = new Map<number, PendingForward>();
  private nextOp = 1;
  private readonly chores: ReplicaChores;
  private lastHandoffMs: number;

  constructor(
    readonly config: LeaderlessConfig,
    private readonly clock: Clock,
  ) {
    if (!config.nodes.includes(config.id)) throw new RangeError(`${config.id} is not among the nodes`);
    if (config.n < 1 || config.n > config.nodes.length)
      throw new RangeError(`n must be within 1..${config.nodes.length}`);
    this.peers = config.nodes.filter((node) => node !== config.id);
    const now = clock.nowMs();
    this.lastHandoffMs = now;
    this.antiEntropy = new AntiEntropy(this.store, (key, peer) => {
      const home = this.home(key);
      return home.includes(this.config.id) && home.includes(peer);
    });
    this.chores = new ReplicaChores(config, this.peers, this, this.out, now);
  }

  /** Replays a durable record at start (the driver's recovery). */
  restore(record: KeyRecord): void {
    if (record.kind === 'key') this.store.replace(record.key, record.state);
    else this.setHint(record.target, record.key, record.state);
  }

  /** Records that rebuild this node's durable state on their own (journal compaction). */
  snapshot(): KeyRecord[] {
    const records: KeyRecord[] = [];
    for (const [key, stored] of this.store.entries()) records.push({ kind: 'key', key, state: stored.state });
    for (const [target, held] of this.hints)
      for (const [key, state] of held) records.push({ kind: 'hint', target, key, state });
    return records;
  }

  home(key: string): NodeId[] {
    return homeReplicas(key, this.config.nodes, this.config.n);
  }

  alive(peer: NodeId): boolean {
    return peer === this.config.id || this.chores.alive(peer, this.clock.nowMs());
  }

  drain(): Ready<LeaderlessMessage> {
    const ready = this.out.drain();
    const replies: Reply[] = [];
    for (const reply of ready.replies) {
      const forwarded = this.forwardedBy.get(reply.requestId);
      if (!forwarded) {
        replies.push(reply);
        continue;
      }
      // A write this node coordinated for another node: its answer goes back as a message.
      this.forwardedBy.delete(reply.requestId);
      ready.messages.push({
        to: forwarded.node,
        msg: { type: 'forward-result', op: forwarded.op, result: reply.result },
      });
    }
    return { ...ready, replies };
  }

  request(requestId: number, request: LeaderlessRequest): void {
    if (request.kind === 'read') this.startRead(requestId, request);
    else this.startWrite(requestId, request);
  }

  /** The rule a request's R or W stands for on this key; a string says why it cannot be had. */
  private quorum(spec: QuorumSpec | undefined, fallback: QuorumSpec, home: NodeId[]): QuorumRule | string {
    const chosen = spec ?? fallback;
    if (isDcQuorumWord(chosen)) {
      const dcOf = this.config.dcOf;
      const localDc = dcOf?.get(this.config.id);
      if (!dcOf || localDc === undefined) return `${chosen} needs every member's datacenter (--dcs)`;
      return dcRule(chosen, home, localDc, dcOf);
    }
    return countRule(Math.min(this.config.n, Math.max(1, resolveQuorum(chosen, this.config.n))));
  }

  private met(rule: QuorumRule, replicas: Iterable<NodeId>): boolean {
    return quorumMet(rule, replicas, this.config.dcOf ?? new Map());
  }

  private startRead(requestId: number, request: ReadRequest): void {
    this.stats.reads++;
    const replicas = this.home(request.key);
    const r = this.quorum(request.r, this.config.r, replicas);
    if (typeof r === 'string') {
      this.out.fail(requestId, 'badRequest', r);
      return;
    }
    const op = this.nextOp++;
    const now = this.clock.nowMs();
    this.reads.set(op, {
      requestId,
      key: request.key,
      r,
      replicas,
      answers: new Map(),
      answered: false,
      deadlineMs: now + this.config.requestTimeoutMs,
    });
    for (const replica of replicas) {
      if (replica === this.config.id) this.onReadAnswer(op, replica, this.store.get(request.key) ?? null);
      else this.out.send(replica, { type: 'read', op, key: request.key });
    }
  }

  private onReadAnswer(op: number, from: NodeId, state: KeyState | null): void {
    const read = this.reads.get(op);
    if (!read || read.answers.has(from) || !read.replicas.includes(from)) return;
    read.answers.set(from, state);
    if (!read.answered && this.met(read.r, this.counted(read))) {
      read.answered = true;
      const counted = this.counted(read);
      let merged: KeyState | undefined;
      for (const replica of counted) merged = mergeMaybe(merged, read.answers.get(replica) ?? undefined);
      this.out.reply(read.requestId, {
        ok: true,
        view: merged ? viewOf(merged) : null,
        detail: { replicas: counted, r: ruleDetail(read.r) },
      });
    }
    if (read.answers.size === read.replicas.length) this.finishRead(op, read);
  }

  /** The replicas that answered and count toward R (a local_quorum read: its own datacenter's). */
  private counted(read: PendingRead): NodeId[] {
    const dcOf = this.config.dcOf ?? new Map<NodeId, string>();
    return [...read.answers.keys()].filter((replica) => countsToward(read.r, replica, dcOf));
  }

  private mergedAnswer(read: PendingRead): KeyState | undefined {
    let merged: KeyState | undefined;
    for (const state of read.answers.values()) merged = mergeMaybe(merged, state ?? undefined);
    return merged;
  }

  /** Read repair (DDIA ch. 5): every replica that answered with less than the merge gets it. */
  /** A read or write whose deadline came before R or W replicas answered. */
  private failQuorum(
    requestId: number,
    count: number,
    rule: QuorumRule,
    name: 'R' | 'W',
    counted: 'answered' | 'acknowledged',
  ): void {
    this.out.fail(requestId, 'quorumNotReached', `${count} of ${name}=${rule.text} replicas ${counted}`, {
      [counted]: count,
      required: ruleDetail(rule),
    });
  }

  private finishRead(op: number, read: PendingRead): void {
    this.reads.delete(op);
    const merged = this.mergedAnswer(read);
    if (!merged) return;
    for (const [replica, state] of read.answers) {
      if (statesEqual(state ?? undefined, merged)) continue;
      this.stats.readRepairs++;
      if (replica === this.config.id) this.mergeLocal(read.key, merged);
      else this.out.send(replica, { type: 'repair', key: read.key, state: merged });
    }
  }

  private startWrite(requestId: number, request: WriteRequest): void {
    const sloppy = request.sloppy ?? true;
    const home = this.home(request.key);
    const w = this.quorum(request.w, this.config.w, home);
    if (typeof w === 'string') {
      this.out.fail(requestId, 'badRequest', w);
      return;
    }
    // Cassandra coordinates in the client's datacenter; here only a home replica may mint the
    // key's next version, so: a live home replica in this node's datacenter, else the first live.
    const localDc = this.config.dcOf?.get(this.config.id);
    const coordinator =
      home.find(
        (replica) =>
          this.alive(replica) && this.config.dcOf?.get(replica) === localDc && localDc !== undefined,
      ) ?? home.find((replica) => this.alive(replica));
    if (!coordinator) {
      this.out.fail(
        requestId,
        'noCoordinator',
        `no home replica of '${request.key}' (${home.join(', ')}) is reachable`,
      );
      return;
    }
    if (coordinator === this.config.id) {
      this.coordinateWrite(requestId, request.key, request.mutation, w, sloppy);
      return;
    }
    const op = this.nextOp++;
    this.forwards.set(op, { requestId, deadlineMs: this.clock.nowMs() + this.config.requestTimeoutMs });
    const count = ruleDetail(w);
    this.out.send(coordinator, {
      type: 'forward',
      op,
      key: request.key,
      mutation: request.mutation,
      w: typeof count === 'number' ? count : 0,
      sloppy,
      ...(typeof count === 'number' ? {} : { rule: w }),
    });
  }

  /** Runs a write as the key's coordinating replica; `requestId` is a local request or a forward. */
  private coordinateWrite(
    requestId: number,
    key: string,
    mutation: Mutation,
    w: QuorumRule,
    sloppy: boolean,
  ): void {
    this.stats.writes++;
    let state: KeyState;
    try {
      state = applyMutation(this.store.get(key), mutation, this.config.id, this.clock.wallMs());
    } catch (error) {
      this.out.fail(requestId, 'typeMismatch', (error as Error).message);
      return;
    }
    this.mergeLocal(key, state);
    const merged = this.store.get(key) as KeyState;
    const op = this.nextOp++;
    const now = this.clock.nowMs();
    const write: PendingWrite = {
      requestId,
      key,
      w,
      sloppy,
      state: merged,
      covered: new Set([this.config.id]),
      sentTo: new Map([[this.config.id, this.config.id]]),
      answered: false,
      startedMs: now,
      deadlineMs: now + this.config.requestTimeoutMs,
    };
    this.writes.set(op, write);
    for (const replica of this.home(key)) {
      if (replica === this.config.id) continue;
      if (this.alive(replica) || !sloppy) this.sendReplica(op, write, replica, replica);
      else this.sendToStandIn(op, write, replica);
    }
    this.checkWrite(op, write);
  }

  private sendReplica(op: number, write: PendingWrite, target: NodeId, via: NodeId): void {
    write.sentTo.set(target, via);
    this.out.send(via, {
      type: 'replicate',
      op,
      key: write.key,
      state: write.state,
      hintFor: via === target ? null : target,
    });
  }

  /** Sloppy quorum: the next live member outside the home set that is not yet standing in. */
  private sendToStandIn(op: number, write: PendingWrite, target: NodeId): boolean {
    const home = this.home(write.key);
    const busy = new Set(write.sentTo.values());
    const standIn = preferenceOrder(write.key, this.config.nodes).find(
      (node) => !home.includes(node) && !busy.has(node) && this.alive(node),
    );
    if (!standIn) return false;
    this.stats.sloppyWrites++;
    this.sendReplica(op, write, target, standIn);
    return true;
  }

  private checkWrite(op: number, write: PendingWrite): void {
    if (write.answered || !this.met(write.w, write.covered)) return;
    write.answered = true;
    const hinted = [...write.sentTo].filter(([target, via]) => target !== via && write.covered.has(target));
    this.out.reply(write.requestId, {
      ok: true,
      view: viewOf(write.state),
      detail: {
        acks: write.covered.size,
        w: ruleDetail(write.w),
        hinted: hinted.map(([target, via]) => `${target}@${via}`),
      },
    });
    if (write.covered.size === this.config.n) this.writes.delete(op);
  }

  step(from: NodeId, msg: LeaderlessMessage): void {
    if (this.chores.heard(from, msg, this.clock.nowMs())) return;
    switch (msg.type) {
      case 'read':
        this.out.send(from, { type: 'read-ok', op: msg.op, state: this.store.get(msg.key) ?? null });
        return;
      case 'read-ok':
        this.onReadAnswer(msg.op, from, msg.state);
        return;
      case 'forward': {
        // The forwarding node's op id travels back with the result; locally it is a request.
        const localId = -this.nextOp++;
        this.forwardedBy.set(localId, { node: from, op: msg.op });
        this.coordinateWrite(localId, msg.key, msg.mutation, msg.rule ?? countRule(msg.w), msg.sloppy);
        return;
      }
      case 'forward-result': {
        const forward = this.forwards.get(msg.op);
        if (!forward) return;
        this.forwards.delete(msg.op);
        this.out.reply(forward.requestId, msg.result);
        return;
      }
      case 'replicate':
        if (msg.hintFor === null || msg.hintFor === this.config.id) this.mergeLocal(msg.key, msg.state);
        else this.storeHint(msg.hintFor, msg.key, msg.state);
        this.out.send(from, { type: 'replicate-ok', op: msg.op, from: this.config.id, hintFor: msg.hintFor });
        return;
      case 'replicate-ok': {
        const write = this.writes.get(msg.op);
        if (!write) return;
        const target = msg.hintFor ?? from;
        if (write.sentTo.get(target) !== from) return;
        write.covered.add(target);
        this.checkWrite(msg.op, write);
        return;
      }
      case 'repair':
      case 'handoff':
        this.mergeLocal(msg.key, msg.state);
        if (msg.type === 'handoff')
          this.out.send(from, { type: 'handoff-ok', key: msg.key, state: msg.state });
        return;
      case 'handoff-ok': {
        const held = this.hints.get(from)?.get(msg.key);
        // Drop the hint only if nothing newer arrived for it while the handoff was in flight.
        if (held && statesEqual(held, msg.state)) {
          this.setHint(from, msg.key, null);
          this.out.persist({ kind: 'hint', target: from, key: msg.key, state: null });
          this.stats.hintsHandedOff++;
        }
        return;
      }
      case 'ae-level':
      case 'ae-keys': {
        const { answer, changed } = this.antiEntropy.handle(from, msg);
        for (const key of changed)
          this.out.persist({ kind: 'key', key, state: this.store.get(key) as KeyState });
        if (answer) this.out.send(from, answer);
        return;
      }
    }
  }

  /** Forwarded writes answer the forwarding node instead of a local client. */
  private readonly forwardedBy = new Map<number, { node: NodeId; op: number }>();

  /** Moves time: pings, request deadlines, sloppy stand-ins, handoff, anti-entropy, GC. */
  tick(): void {
    const now = this.clock.nowMs();
    this.chores.ping(now);
    for (const [op, read] of this.reads) {
      if (now < read.deadlineMs) continue;
      if (!read.answered) this.failQuorum(read.requestId, read.answers.size, read.r, 'R', 'answered');
      this.finishRead(op, read);
    }
    for (const [op, write] of this.writes) {
      if (now >= write.deadlineMs) {
        this.writes.delete(op);
        if (!write.answered)
          this.failQuorum(write.requestId, write.covered.size, write.w, 'W', 'acknowledged');
        continue;
      }
      if (write.sloppy && now - write.startedMs >= this.config.sloppyAfterMs) {
        for (const target of this.home(write.key)) {
          if (write.covered.has(target) || write.sentTo.get(target) !== target) continue;
          this.sendToStandIn(op, write, target);
        }
      }
    }
    for (const [op, forward] of this.forwards) {
      if (now < forward.deadlineMs) continue;
      this.forwards.delete(op);
      this.out.fail(forward.requestId, 'noCoordinator', 'the coordinating replica did not answer in time');
    }
    if (now - this.lastHandoffMs >= this.config.hintRetryMs) {
      this.lastHandoffMs = now;
      for (const [target, held] of this.hints) {
        if (!this.alive(target)) continue;
        let sent = 0;
        for (const [key, state] of held) {
          if (sent++ >= this.config.handoffBatchMax) break;
          this.out.send(target, { type: 'handoff', key, state });
        }
      }
    }
    this.stats.tombstonesCollected += this.chores.background(now, this.clock.wallMs());
  }

  private mergeLocal(key: string, state: KeyState): void {
    if (this.store.merge(key, state))
      this.out.persist({ kind: 'key', key, state: this.store.get(key) as KeyState });
  }

  private storeHint(target: NodeId, key: string, state: KeyState): void {
    const merged = mergeMaybe(this.hints.get(target)?.get(key), state) as KeyState;
    this.setHint(target, key, merged);
    this.stats.hintsStored++;
    this.out.persist({ kind: 'hint', target, key, state: merged });
  }

  private setHint(target: NodeId, key: string, state: KeyState | null): void {
    let held = this.hints.get(target);
    if (!held) this.hints.set(target, (held = new Map()));
    if (state) held.set(key, state);
    else held.delete(key);
    if (held.size === 0) this.hints.delete(target);
  }

  hintCount(): number {
    let count = 0;
    for (const held of this.hints.values()) count += held.size;
    return count;
  }
}
