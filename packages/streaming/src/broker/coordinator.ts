// The group coordinator: one core Group state machine per group id, driven by requests and by
// a tick, plus the durable committed offsets. With a single broker, every group's coordinator
// is this broker and its offsets are an OffsetStore; in a cluster, a group's coordinator is the
// leader of its partition of the replicated __consumer_offsets topic (src/cluster/group-offsets.ts)
// and every other broker answers NOT_COORDINATOR.
import type { Clock, Random } from '@ddia/common/core';
import { ErrorCode, Group, type JoinArgs, type JoinResult } from '../core/index.js';
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
}

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
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

  private group(groupId: string): Group {
    let group = this.groups.get(groupId);
    if (!group) {
      group = new Group(groupId, (clientId) => `${clientId}-${this.incarnation}-${++this.memberCounter}`);
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
      group.unload(ErrorCode.NOT_COORDINATOR);
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

  sync(
    groupId: string,
    generationId: number,
    memberId: string,
    assignments: { memberId: string; assignment: Uint8Array }[],
  ): Promise<{ errorCode: number; assignment: Uint8Array }> {
    const refused = this.offsets.coordinatorError(groupId);
    if (refused !== ErrorCode.NONE)
      return Promise.resolve({ errorCode: refused, assignment: new Uint8Array(0) });
    const group = this.groups.get(groupId);
    if (!group)
      return Promise.resolve({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: new Uint8Array(0) });
    return new Promise((resolve) =>
      group.sync(generationId, memberId, assignments, this.clock.nowMs(), resolve),
    );
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
    return group.leave(memberId, this.clock.nowMs());
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
    for (const group of this.groups.values()) group.tick(now);
  }
}
