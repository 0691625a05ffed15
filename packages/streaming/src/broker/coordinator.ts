// The group coordinator: one core Group state machine per group id, driven by requests and by
// a tick, plus the durable committed offsets. With a single broker, every group's coordinator
// is this broker and its offsets are an OffsetStore; in a cluster, a group's coordinator is the
// leader of its partition of the replicated __consumer_offsets topic (src/cluster/group-offsets.ts)
// and every other broker answers NOT_COORDINATOR.
import type { Clock, Random } from '@ddia/common/core';
import { ErrorCode, Group, type GroupSnapshot, type JoinArgs, type JoinResult } from '../core/index.js';
import type { CommittedOffset } from './offset-store.js';

/** How often session timeouts and rebalance deadlines are checked. */
export const GROUP_TICK_MS = 250;
/** Longest metadata string a commit may carry (Kafka's offset.metadata.max.bytes). */
export const OFFSET_METADATA_BYTES_MAX = 4096;

export interface CommitEntry {
  topic: string;
  partition: number;
  offset: number;
  metadata: string | null;
}

/** Where committed offsets live, and whether this broker coordinates a group now. */
export interface CommittedOffsets {
  /** ErrorCode.NONE when this broker is the group's coordinator and has its offsets loaded. */
  coordinatorError(groupId: string): number;
  /** Makes the offsets durable; resolves with the Kafka error code of the whole commit. */
  commit(
    group: string,
    entries: { topic: string; partition: number; offset: number; metadata: string | null }[],
    nowMs: number,
  ): Promise<number>;
  get(group: string, topic: string, partition: number): CommittedOffset | undefined;
  partitionsOf(group: string): { topic: string; partition: number; committed: CommittedOffset }[];
  groups(): string[];
  forgetTopic(topic: string, nowMs: number): Promise<void>;
  /** Makes a group's stable generation durable where the next coordinator will load it. */
  storeGroup(groupId: string, snapshot: GroupSnapshot, nowMs: number): Promise<number>;
}

const NO_ASSIGNMENT = new Uint8Array(0);

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  /** Per group, the generation written (or being written) by storeGroup, and that write. */
  private readonly stored = new Map<string, { group: Group; generationId: number; write: Promise<number> }>();
  private memberCounter = 0;
  /** Distinguishes member ids handed out by different runs of the broker. */
  private readonly incarnation: string;

  constructor(
    public offsets: CommittedOffsets,
    private readonly clock: Clock,
    random: Random,
  ) {
    this.incarnation = random.int(0, 0xffffffff).toString(16);
  }

  private readonly newMemberId = (clientId: string) =>
    `${clientId}-${this.incarnation}-${++this.memberCounter}`;

  private group(groupId: string): Group {
    let group = this.groups.get(groupId);
    if (!group) {
      group = new Group(groupId, this.newMemberId);
      this.groups.set(groupId, group);
    }
    return group;
  }

  find(groupId: string): Group | undefined {
    return this.groups.get(groupId);
  }

  /** Forgets the membership of the groups `moved` names (their coordinator is elsewhere now, or
   *  is this broker afresh): requests parked in them are told NOT_COORDINATOR. */
  unloadGroups(moved: (groupId: string) => boolean): void {
    for (const [id, group] of this.groups) {
      if (!moved(id)) continue;
      this.groups.delete(id);
      this.stored.delete(id);
      group.unload(ErrorCode.NOT_COORDINATOR);
    }
  }

  /** Groups a new coordinator read from its offsets partition: their generation goes on. */
  restoreGroups(snapshots: Map<string, GroupSnapshot>): void {
    const nowMs = this.clock.nowMs();
    for (const [id, snapshot] of snapshots) {
      const group = Group.restore(id, this.newMemberId, snapshot, nowMs);
      this.groups.set(id, group);
      const write = Promise.resolve(ErrorCode.NONE);
      this.stored.set(id, { group, generationId: snapshot.generationId, write });
    }
  }

  join(groupId: string, args: JoinArgs): Promise<JoinResult> {
    const refused = groupId === '' ? ErrorCode.INVALID_GROUP_ID : this.offsets.coordinatorError(groupId);
    if (refused !== ErrorCode.NONE) {
      return Promise.resolve({
        errorCode: refused,
        generationId: -1,
        protocolName: '',
        leader: '',
        memberId: args.memberId,
        members: [],
      });
    }
    return new Promise((resolve) => this.group(groupId).join(args, this.clock.nowMs(), resolve));
  }

  async sync(
    groupId: string,
    generationId: number,
    memberId: string,
    assignments: { memberId: string; assignment: Uint8Array }[],
  ): Promise<{ errorCode: number; assignment: Uint8Array }> {
    const refused = this.offsets.coordinatorError(groupId);
    if (refused !== ErrorCode.NONE) return { errorCode: refused, assignment: NO_ASSIGNMENT };
    const group = this.groups.get(groupId);
    if (!group) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: NO_ASSIGNMENT };
    const result = await new Promise<{ errorCode: number; assignment: Uint8Array }>((resolve) =>
      group.sync(generationId, memberId, assignments, this.clock.nowMs(), resolve),
    );
    if (result.errorCode !== ErrorCode.NONE) return result;
    const errorCode = await this.store(groupId, group);
    return errorCode === ErrorCode.NONE ? result : { errorCode, assignment: NO_ASSIGNMENT };
  }

  /** As Kafka, a member learns its assignment only once the generation is durable where the
   *  next coordinator will load it; the members of one generation share one write. */
  private store(groupId: string, group: Group): Promise<number> {
    const snapshot = group.snapshot();
    if (!snapshot) return Promise.resolve(ErrorCode.REBALANCE_IN_PROGRESS);
    const done = this.stored.get(groupId);
    if (done?.group === group && done.generationId === snapshot.generationId) return done.write;
    const write = this.offsets.storeGroup(groupId, snapshot, this.clock.wallMs());
    this.stored.set(groupId, { group, generationId: snapshot.generationId, write });
    return write;
  }

  heartbeat(groupId: string, generationId: number, memberId: string): number {
    const refused = this.offsets.coordinatorError(groupId);
    if (refused !== ErrorCode.NONE) return refused;
    const group = this.groups.get(groupId);
    if (!group) return ErrorCode.UNKNOWN_MEMBER_ID;
    return group.heartbeat(generationId, memberId, this.clock.nowMs());
  }

  leave(groupId: string, memberId: string): number {
    const refused = this.offsets.coordinatorError(groupId);
    if (refused !== ErrorCode.NONE) return refused;
    const group = this.groups.get(groupId);
    if (!group) return ErrorCode.UNKNOWN_MEMBER_ID;
    const errorCode = group.leave(memberId, this.clock.nowMs());
    this.storeIfEmptied(groupId, group);
    return errorCode;
  }

  /** A group whose last member left or expired is written as empty in its new generation (as
   *  Kafka does), so that a new coordinator neither restores departed members nor an older
   *  generation. In the background: nobody waits on it. */
  private storeIfEmptied(groupId: string, group: Group): void {
    // Generation 0: the group never had a member (a first join told MEMBER_ID_REQUIRED).
    if (group.state !== 'Empty' || group.generationId === 0) return;
    if (this.stored.get(groupId)?.generationId === group.generationId) return;
    void this.store(groupId, group).catch(() => ErrorCode.COORDINATOR_NOT_AVAILABLE);
  }

  /** Checks the member and generation, then makes the offsets durable. Errors are per request. */
  async commit(
    groupId: string,
    generationId: number,
    memberId: string,
    entries: CommitEntry[],
  ): Promise<number> {
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const refused = this.offsets.coordinatorError(groupId);
    if (refused !== ErrorCode.NONE) return refused;
    const group = this.groups.get(groupId);
    if (generationId >= 0 || group) {
      const check = group
        ? group.checkCommit(generationId, memberId, this.clock.nowMs())
        : ErrorCode.ILLEGAL_GENERATION;
      if (check !== ErrorCode.NONE) return check;
    }
    return this.offsets.commit(groupId, entries, this.clock.wallMs());
  }

  committed(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(groupId, topic, partition);
  }

  /** Every group known: with members, or with committed offsets only. */
  groupIds(): string[] {
    const ids = new Set([...this.groups.keys(), ...this.offsets.groups()]);
    return [...ids].sort();
  }

  tick(): void {
    const now = this.clock.nowMs();
    for (const [id, group] of this.groups) {
      group.tick(now);
      this.storeIfEmptied(id, group);
    }
  }
}
