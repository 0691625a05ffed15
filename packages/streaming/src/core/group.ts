// The consumer-group coordinator's state machine for one group, Kafka's "classic" rebalance
// protocol, kept pure: requests and ticks go in, responses come out through `deliver`.
//
//   Empty --join--> PreparingRebalance --all joined / rebalance timeout--> CompletingRebalance
//   CompletingRebalance --leader's SyncGroup--> Stable --join/leave/session expiry--> PreparingRebalance
//
// The broker only keeps membership and a generation number; which member reads which
// partition is decided by the leader client's assignor (range, round-robin) and passed
// through SyncGroup as opaque bytes. A generation fences zombies: a member still acting on an
// old generation gets ILLEGAL_GENERATION and must rejoin (DDIA ch. 8, "fencing tokens").
import { ErrorCode } from './error-codes.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface Protocol {
  name: string;
  metadata: Uint8Array;
}

export interface Member {
  memberId: string;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: Protocol[];
  assignment: Uint8Array;
  /** When the member was last heard from (any request), on the coordinator's clock. */
  lastSeenMs: number;
}

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolName: string;
  leader: string;
  memberId: string;
  members: { memberId: string; groupInstanceId: string | null; metadata: Uint8Array }[];
}

export interface JoinArgs {
  memberId: string;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: Protocol[];
  /** KIP-394 (JoinGroup v4+): a first join gets MEMBER_ID_REQUIRED; older clients get their id
   *  in the answer to the join itself. */
  memberIdRequired: boolean;
}

/** What a coordinator persists of a group in a stable generation (Kafka's GroupMetadata record
 *  in __consumer_offsets), so that the next coordinator after a failover carries the same
 *  generation and members on instead of starting a new group at generation 0. */
export interface GroupSnapshot {
  generationId: number;
  protocolType: string;
  protocolName: string;
  leaderId: string;
  members: Omit<Member, 'lastSeenMs'>[];
}

/** Where a parked request's answer goes: the shell maps it back to a connection. */
export type Reply<T> = (result: T) => void;

export const SESSION_TIMEOUT_MIN_MS = 1_000;
export const SESSION_TIMEOUT_MAX_MS = 300_000;
const EMPTY = new Uint8Array(0);
const NO_GENERATION = -1;

export class Group {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType = '';
  protocolName = '';
  leaderId = '';
  readonly members = new Map<string, Member>();
  /** Ids handed out with MEMBER_ID_REQUIRED, not yet joined, with the time they were issued. */
  private readonly pendingIds = new Map<string, number>();
  private readonly pendingJoins = new Map<string, Reply<JoinResult>>();
  private readonly pendingSyncs = new Map<string, Reply<{ errorCode: number; assignment: Uint8Array }>>();
  private rebalanceDeadlineMs = 0;

  constructor(
    readonly groupId: string,
    /** A fresh member id, unique for the life of the broker's data (the shell adds randomness). */
    private readonly newMemberId: (clientId: string) => string,
  ) {}

  /** A group loaded by a new coordinator: Stable in its stored generation with its members,
   *  each given a whole session from `nowMs` to reach the new coordinator (Kafka does the same
   *  on loading); a member that does not come back expires as usual and a rebalance follows. */
  static restore(
    groupId: string,
    newMemberId: (clientId: string) => string,
    snapshot: GroupSnapshot,
    nowMs: number,
  ): Group {
    const group = new Group(groupId, newMemberId);
    group.generationId = snapshot.generationId;
    group.protocolType = snapshot.protocolType;
    if (snapshot.members.length === 0) return group;
    group.state = 'Stable';
    group.protocolName = snapshot.protocolName;
    group.leaderId = snapshot.leaderId;
    for (const m of snapshot.members) group.members.set(m.memberId, { ...m, lastSeenMs: nowMs });
    return group;
  }

  /** The stable generation to persist; null while a rebalance is under way. */
  snapshot(): GroupSnapshot | null {
    if (this.state !== 'Stable' && this.state !== 'Empty') return null;
    return {
      generationId: this.generationId,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      leaderId: this.leaderId,
      members: [...this.members.values()].map(({ lastSeenMs: _, ...m }) => m),
    };
  }

  join(args: JoinArgs, nowMs: number, reply: Reply<JoinResult>): void {
    const fail = (errorCode: number, memberId = args.memberId) =>
      reply({ errorCode, generationId: NO_GENERATION, protocolName: '', leader: '', memberId, members: [] });
    if (args.sessionTimeoutMs < SESSION_TIMEOUT_MIN_MS || args.sessionTimeoutMs > SESSION_TIMEOUT_MAX_MS) {
      fail(ErrorCode.INVALID_SESSION_TIMEOUT);
      return;
    }
    if (args.protocols.length === 0 || (this.state !== 'Empty' && args.protocolType !== this.protocolType)) {
      fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
      return;
    }
    if (this.state !== 'Empty' && !this.supportsCommonProtocol(args.protocols)) {
      fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
      return;
    }
    if (args.memberId === '') {
      // KIP-394: hand out an id and have the client come back with it, so that a member
      // whose first response was lost does not leave a ghost member behind.
      const memberId = this.newMemberId(args.clientId);
      this.pendingIds.set(memberId, nowMs);
      if (args.memberIdRequired) {
        fail(ErrorCode.MEMBER_ID_REQUIRED, memberId);
        return;
      }
      args = { ...args, memberId };
    }
    const known = this.members.get(args.memberId);
    if (!known && !this.pendingIds.has(args.memberId)) {
      fail(ErrorCode.UNKNOWN_MEMBER_ID);
      return;
    }
    this.pendingIds.delete(args.memberId);
    if (this.state === 'Empty') this.protocolType = args.protocolType;
    const member: Member = {
      memberId: args.memberId,
      clientId: args.clientId,
      clientHost: args.clientHost,
      sessionTimeoutMs: args.sessionTimeoutMs,
      rebalanceTimeoutMs: args.rebalanceTimeoutMs,
      protocols: args.protocols,
      assignment: known?.assignment ?? EMPTY,
      lastSeenMs: nowMs,
    };
    this.members.set(member.memberId, member);
    this.pendingJoins.get(member.memberId)?.({
      errorCode: ErrorCode.UNKNOWN_MEMBER_ID,
      generationId: NO_GENERATION,
      protocolName: '',
      leader: '',
      memberId: member.memberId,
      members: [],
    });
    this.pendingJoins.set(member.memberId, reply);
    if (this.state !== 'PreparingRebalance') this.prepareRebalance(nowMs);
    this.maybeCompleteJoin(nowMs);
  }

  sync(
    generationId: number,
    memberId: string,
    assignments: { memberId: string; assignment: Uint8Array }[],
    nowMs: number,
    reply: Reply<{ errorCode: number; assignment: Uint8Array }>,
  ): void {
    const member = this.members.get(memberId);
    if (!member) {
      reply({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY });
      return;
    }
    if (generationId !== this.generationId) {
      reply({ errorCode: ErrorCode.ILLEGAL_GENERATION, assignment: EMPTY });
      return;
    }
    member.lastSeenMs = nowMs;
    if (this.state === 'PreparingRebalance') {
      reply({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
      return;
    }
    if (this.state === 'Stable') {
      reply({ errorCode: ErrorCode.NONE, assignment: member.assignment });
      return;
    }
    this.pendingSyncs.set(memberId, reply);
    if (memberId === this.leaderId) {
      for (const m of this.members.values()) m.assignment = EMPTY;
      for (const a of assignments) {
        const target = this.members.get(a.memberId);
        if (target) target.assignment = a.assignment;
      }
      this.state = 'Stable';
      for (const [id, waiting] of this.pendingSyncs) {
        waiting({ errorCode: ErrorCode.NONE, assignment: this.members.get(id)?.assignment ?? EMPTY });
      }
      this.pendingSyncs.clear();
    }
  }

  heartbeat(generationId: number, memberId: string, nowMs: number): number {
    const member = this.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    member.lastSeenMs = nowMs;
    if (generationId !== this.generationId) return ErrorCode.ILLEGAL_GENERATION;
    // The member learns of a rebalance from its heartbeat and rejoins.
    if (this.state === 'PreparingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  leave(memberId: string, nowMs: number): number {
    if (this.pendingIds.delete(memberId)) return ErrorCode.NONE;
    if (!this.members.has(memberId)) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.removeMember(memberId, nowMs);
    return ErrorCode.NONE;
  }

  /** Whether an offset commit from this member and generation may be accepted. */
  checkCommit(generationId: number, memberId: string, nowMs: number): number {
    if (generationId < 0) {
      // A commit outside group management, allowed only while no members are managed.
      return this.members.size === 0 ? ErrorCode.NONE : ErrorCode.ILLEGAL_GENERATION;
    }
    const member = this.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    member.lastSeenMs = nowMs;
    if (generationId !== this.generationId) return ErrorCode.ILLEGAL_GENERATION;
    if (this.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  /** Expires silent members and finishes a rebalance whose stragglers ran out of time. */
  tick(nowMs: number): void {
    for (const [id, issuedMs] of this.pendingIds) {
      if (nowMs - issuedMs > SESSION_TIMEOUT_MAX_MS) this.pendingIds.delete(id);
    }
    if (this.state === 'PreparingRebalance' && nowMs >= this.rebalanceDeadlineMs) {
      // Members that did not rejoin within the rebalance timeout are out of the generation.
      for (const id of [...this.members.keys()]) if (!this.pendingJoins.has(id)) this.members.delete(id);
      this.maybeCompleteJoin(nowMs);
      return;
    }
    // Session expiry applies during a rebalance too (as in Kafka's coordinator): a member that
    // died (kill -9) neither rejoins nor heartbeats, and the others' join completes after its
    // session timeout instead of after the longest rebalance timeout of the group.
    for (const member of [...this.members.values()]) {
      // A member parked in JoinGroup or SyncGroup is alive by definition.
      if (this.pendingJoins.has(member.memberId) || this.pendingSyncs.has(member.memberId)) continue;
      if (nowMs - member.lastSeenMs > member.sessionTimeoutMs) this.removeMember(member.memberId, nowMs);
    }
  }

  /** The group moved to another coordinator: every parked join and sync is answered `errorCode`. */
  unload(errorCode: number): void {
    const noJoin = { errorCode, generationId: NO_GENERATION, protocolName: '', leader: '', members: [] };
    for (const [memberId, reply] of this.pendingJoins) reply({ ...noJoin, memberId });
    for (const reply of this.pendingSyncs.values()) reply({ errorCode, assignment: EMPTY });
    this.pendingJoins.clear();
    this.pendingSyncs.clear();
    this.members.clear();
    this.state = 'Dead';
  }

  get isEmpty(): boolean {
    return this.members.size === 0 && this.pendingJoins.size === 0;
  }

  private removeMember(memberId: string, nowMs: number): void {
    this.members.delete(memberId);
    this.pendingJoins.delete(memberId);
    const sync = this.pendingSyncs.get(memberId);
    this.pendingSyncs.delete(memberId);
    sync?.({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    if (this.members.size === 0 && this.pendingJoins.size === 0) {
      this.toEmpty();
      return;
    }
    if (this.state === 'PreparingRebalance') this.maybeCompleteJoin(nowMs);
    else this.prepareRebalance(nowMs);
  }

  private toEmpty(): void {
    this.state = 'Empty';
    this.generationId += 1;
    this.leaderId = '';
    this.protocolName = '';
    for (const waiting of this.pendingSyncs.values()) {
      waiting({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
    }
    this.pendingSyncs.clear();
  }

  private prepareRebalance(nowMs: number): void {
    // Members waiting for their assignment must rejoin: the membership they were assigned for is gone.
    for (const waiting of this.pendingSyncs.values()) {
      waiting({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
    }
    this.pendingSyncs.clear();
    this.state = 'PreparingRebalance';
    let timeoutMs = 0;
    for (const m of this.members.values()) timeoutMs = Math.max(timeoutMs, m.rebalanceTimeoutMs);
    this.rebalanceDeadlineMs = nowMs + timeoutMs;
  }

  private maybeCompleteJoin(nowMs: number): void {
    if (this.state !== 'PreparingRebalance') return;
    for (const id of this.members.keys()) if (!this.pendingJoins.has(id)) return;
    if (this.members.size === 0) {
      this.toEmpty();
      return;
    }
    this.generationId += 1;
    this.state = 'CompletingRebalance';
    if (!this.members.has(this.leaderId)) this.leaderId = this.members.keys().next().value!;
    this.protocolName = this.chooseProtocol();
    const members = [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: null,
      metadata: m.protocols.find((p) => p.name === this.protocolName)!.metadata,
    }));
    for (const [id, reply] of this.pendingJoins) {
      const member = this.members.get(id)!;
      member.lastSeenMs = nowMs;
      reply({
        errorCode: ErrorCode.NONE,
        generationId: this.generationId,
        protocolName: this.protocolName,
        leader: this.leaderId,
        memberId: id,
        // Only the leader gets the members' subscriptions: it runs the assignor.
        members: id === this.leaderId ? members : [],
      });
    }
    this.pendingJoins.clear();
  }

  private supportsCommonProtocol(protocols: Protocol[]): boolean {
    const names = new Set(protocols.map((p) => p.name));
    for (const m of this.members.values()) {
      if (!m.protocols.some((p) => names.has(p.name))) return false;
    }
    return true;
  }

  /** The first of the leader's preferred protocols that every member supports. */
  private chooseProtocol(): string {
    const leader = this.members.get(this.leaderId)!;
    for (const p of leader.protocols) {
      let everyone = true;
      for (const m of this.members.values())
        if (!m.protocols.some((q) => q.name === p.name)) everyone = false;
      if (everyone) return p.name;
    }
    return leader.protocols[0]!.name;
  }
}
