// The group coordinator's state machine, pure: requests and ticks on a clock we move by hand.
import { ManualClock, SeededRandom } from '@ddia/common/core';
import { describe, expect, it } from 'vitest';
import { type CommittedOffsets, GroupCoordinator } from '../src/broker/coordinator.js';
import {
  decodeGroupEntry,
  decodeOffsetEntry,
  ErrorCode,
  encodeGroupEntry,
  Group,
  type GroupSnapshot,
  type JoinResult,
} from '../src/core/index.js';

const SESSION_MS = 10_000;
const REBALANCE_MS = 30_000;
const te = new TextEncoder();

function newGroup() {
  let n = 0;
  return new Group('g', (clientId) => `${clientId}-${++n}`);
}

/** Joins with an empty id, takes the MEMBER_ID_REQUIRED id, joins again; returns the parked result. */
function join(group: Group, clientId: string, nowMs: number, memberId = '') {
  const results: JoinResult[] = [];
  const args = {
    memberId,
    clientId,
    clientHost: '127.0.0.1',
    sessionTimeoutMs: SESSION_MS,
    rebalanceTimeoutMs: REBALANCE_MS,
    protocolType: 'consumer',
    protocols: [{ name: 'RoundRobinAssigner', metadata: te.encode(clientId) }],
    memberIdRequired: true,
  };
  if (memberId === '') {
    group.join(args, nowMs, (r) => results.push(r));
    expect(results[0]!.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    args.memberId = results[0]!.memberId;
    results.length = 0;
  }
  group.join(args, nowMs, (r) => results.push(r));
  return { memberId: args.memberId, results };
}

function sync(
  group: Group,
  generationId: number,
  memberId: string,
  nowMs: number,
  assignments: [string, string][] = [],
) {
  const out: { errorCode: number; assignment: Uint8Array }[] = [];
  group.sync(
    generationId,
    memberId,
    assignments.map(([m, a]) => ({ memberId: m, assignment: te.encode(a) })),
    nowMs,
    (r) => out.push(r),
  );
  return out;
}

describe('consumer group state machine', () => {
  it('JoinGroup before v4: a first join without an id is given one and joins at once', () => {
    const group = newGroup();
    const results: JoinResult[] = [];
    group.join(
      {
        memberId: '',
        clientId: 'old',
        clientHost: '',
        sessionTimeoutMs: SESSION_MS,
        rebalanceTimeoutMs: REBALANCE_MS,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: te.encode('') }],
        memberIdRequired: false,
      },
      0,
      (r) => results.push(r),
    );
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, memberId: 'old-1' });
    expect(results[0]!.leader).toBe('old-1');
  });

  it('KIP-394: a first join gets MEMBER_ID_REQUIRED, an invented id is refused', () => {
    const group = newGroup();
    const { memberId, results } = join(group, 'c', 0);
    expect(results[0]).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, leader: memberId });
    expect(results[0]!.members).toHaveLength(1);
    const stranger: JoinResult[] = [];
    group.join(
      {
        memberId: 'made-up',
        clientId: 'x',
        clientHost: '',
        sessionTimeoutMs: SESSION_MS,
        rebalanceTimeoutMs: 1,
        protocolType: 'consumer',
        protocols: [{ name: 'RoundRobinAssigner', metadata: te.encode('') }],
        memberIdRequired: true,
      },
      0,
      (r) => stranger.push(r),
    );
    expect(stranger[0]!.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('a second member triggers a rebalance; the first learns it from its heartbeat and rejoins', () => {
    const group = newGroup();
    const a = join(group, 'a', 0);
    expect(sync(group, 1, a.memberId, 0, [[a.memberId, 'all']])[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(group.state).toBe('Stable');
    const b = join(group, 'b', 100);
    expect(b.results).toHaveLength(0); // parked until everyone rejoins
    expect(group.state).toBe('PreparingRebalance');
    expect(group.heartbeat(1, a.memberId, 200)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const again = join(group, 'a', 300, a.memberId);
    expect(group.state).toBe('CompletingRebalance');
    expect(again.results[0]).toMatchObject({ generationId: 2, leader: a.memberId });
    expect(again.results[0]!.members).toHaveLength(2); // the leader sees everyone's subscription
    expect(b.results[0]!.members).toHaveLength(0);
    // The follower's sync waits for the leader's assignment.
    const bSync = sync(group, 2, b.memberId, 400);
    expect(bSync).toHaveLength(0);
    sync(group, 2, a.memberId, 400, [
      [a.memberId, 'p0'],
      [b.memberId, 'p1'],
    ]);
    expect(new TextDecoder().decode(bSync[0]!.assignment)).toBe('p1');
    expect(group.heartbeat(2, b.memberId, 500)).toBe(ErrorCode.NONE);
    // A zombie from generation 1 is fenced.
    expect(group.heartbeat(1, b.memberId, 500)).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(group.checkCommit(1, a.memberId, 500)).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(group.checkCommit(2, a.memberId, 500)).toBe(ErrorCode.NONE);
  });

  it('a silent member is removed after its session timeout, and the rest rebalance', () => {
    const group = newGroup();
    const a = join(group, 'a', 0);
    const b = join(group, 'b', 0);
    join(group, 'a', 0, a.memberId);
    sync(group, 2, a.memberId, 0, []);
    sync(group, 2, b.memberId, 0);
    expect(group.state).toBe('Stable');
    for (let t = 1000; t <= SESSION_MS + 1000; t += 1000) {
      expect(group.heartbeat(2, a.memberId, t)).not.toBe(ErrorCode.UNKNOWN_MEMBER_ID);
      group.tick(t);
    }
    expect(group.members.has(b.memberId)).toBe(false);
    expect(group.state).toBe('PreparingRebalance');
    const rejoin = join(group, 'a', SESSION_MS + 1500, a.memberId);
    expect(rejoin.results[0]).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 3 });
  });

  it('a member that does not rejoin within the rebalance timeout is dropped from the generation', () => {
    const group = newGroup();
    const a = join(group, 'a', 0);
    sync(group, 1, a.memberId, 0, []);
    const b = join(group, 'b', 1000);
    group.tick(1000 + REBALANCE_MS + 1);
    expect(b.results[0]).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 2, leader: b.memberId });
    expect(group.members.has(a.memberId)).toBe(false);
  });

  it('a member dead during a rebalance is dropped at its session timeout, not the rebalance timeout', () => {
    // A kill -9'd member neither rejoins nor heartbeats: the new member's join must not wait
    // the whole rebalance timeout for it (Kafka's coordinator expires sessions meanwhile too).
    const group = newGroup();
    const a = join(group, 'a', 0);
    sync(group, 1, a.memberId, 0, []);
    const b = join(group, 'b', 1000); // a is now expected to rejoin, but it is dead
    group.tick(SESSION_MS);
    expect(b.results).toEqual([]); // a's session has not expired yet
    group.tick(SESSION_MS + 1);
    expect(b.results[0]).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 2, leader: b.memberId });
    expect(group.members.has(a.memberId)).toBe(false);
    expect(SESSION_MS + 1).toBeLessThan(1000 + REBALANCE_MS);
  });

  it('the last member leaving empties the group', () => {
    const group = newGroup();
    const a = join(group, 'a', 0);
    sync(group, 1, a.memberId, 0, []);
    expect(group.leave(a.memberId, 10)).toBe(ErrorCode.NONE);
    expect(group.state).toBe('Empty');
    expect(group.leave(a.memberId, 10)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(group.checkCommit(-1, '', 20)).toBe(ErrorCode.NONE);
  });
});

describe('a group carried to a new coordinator (its record in __consumer_offsets)', () => {
  it('the loaded group goes on in the stored generation with its members and assignments; the next rebalance is the generation after', () => {
    const old = newGroup();
    const a = join(old, 'a', 0);
    const gen = a.results[0]!.generationId;
    expect(sync(old, gen, a.memberId, 0, [[a.memberId, 'p0']])[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(newGroup().snapshot()?.members).toEqual([]);
    const b = join(old, 'b', 1);
    old.tick(1); // a learns of the rebalance from its heartbeat and rejoins
    join(old, 'a', 2, a.memberId);
    const gen2 = b.results[0]!.generationId;
    expect(gen2).toBe(gen + 1);
    expect(old.snapshot()).toBeNull(); // mid-rebalance: nothing to persist yet
    sync(old, gen2, b.memberId, 3);
    sync(old, gen2, a.memberId, 3, [
      [a.memberId, 'p0'],
      [b.memberId, 'p1'],
    ]);
    // Through the record's bytes, as the new coordinator reads it.
    const record = encodeGroupEntry({ group: 'g', snapshot: old.snapshot() }, 0, 0);
    const loaded = decodeGroupEntry(record)!;
    expect(decodeOffsetEntry(record)).toBeNull();
    const moved = Group.restore('g', (c) => `${c}-new`, loaded.snapshot!, 100_000);
    expect(moved.state).toBe('Stable');
    expect(moved.generationId).toBe(gen2);
    expect(moved.heartbeat(gen2, b.memberId, 100_001)).toBe(ErrorCode.NONE);
    expect(moved.checkCommit(gen2, a.memberId, 100_001)).toBe(ErrorCode.NONE);
    expect(new TextDecoder().decode(sync(moved, gen2, b.memberId, 100_002)[0]!.assignment)).toBe('p1');
    // A member that does not reach the new coordinator expires; the survivor's rejoin is the next generation.
    moved.tick(100_001 + SESSION_MS + 1);
    const again = join(moved, 'b', 100_001 + SESSION_MS + 2, b.memberId);
    expect(again.results[0]!.generationId).toBe(gen2 + 1);
    expect([...moved.members.keys()]).toEqual([b.memberId]);
  });
});

describe('the coordinator writes a group where the next coordinator will load it', () => {
  it('each stable generation once, before SyncGroup answers; the group again when its last member leaves', async () => {
    const clock = new ManualClock();
    const stores: GroupSnapshot[] = [];
    let releaseStore: () => void = () => {};
    const offsets: CommittedOffsets = {
      coordinatorError: () => ErrorCode.NONE,
      commit: async () => ErrorCode.NONE,
      get: () => undefined,
      partitionsOf: () => [],
      groups: () => [],
      forgetTopic: async () => {},
      storeGroup: (_group, snapshot) => {
        stores.push(snapshot);
        return new Promise((resolve) => {
          releaseStore = () => resolve(ErrorCode.NONE);
        });
      },
    };
    const coordinator = new GroupCoordinator(offsets, clock, new SeededRandom(1));
    const args = {
      memberId: '',
      clientId: 'a',
      clientHost: '127.0.0.1',
      sessionTimeoutMs: SESSION_MS,
      rebalanceTimeoutMs: REBALANCE_MS,
      protocolType: 'consumer',
      protocols: [{ name: 'RoundRobinAssigner', metadata: te.encode('a') }],
      memberIdRequired: true,
    };
    const first = await coordinator.join('g', args);
    const joined = await coordinator.join('g', { ...args, memberId: first.memberId });
    let answered = false;
    const synced = coordinator
      .sync('g', joined.generationId, joined.memberId, [
        { memberId: joined.memberId, assignment: te.encode('p0') },
      ])
      .then((r) => {
        answered = true;
        return r;
      });
    await new Promise((resolve) => setImmediate(resolve));
    expect(stores.map((s) => [s.generationId, s.members.length])).toEqual([[joined.generationId, 1]]);
    expect(answered, 'SyncGroup waits for the write').toBe(false);
    releaseStore();
    expect((await synced).errorCode).toBe(ErrorCode.NONE);
    // A second SyncGroup of the same generation does not write again.
    await coordinator.sync('g', joined.generationId, joined.memberId, []);
    expect(stores).toHaveLength(1);
    expect(coordinator.leave('g', joined.memberId)).toBe(ErrorCode.NONE);
    coordinator.tick();
    expect(stores.map((s) => [s.generationId, s.members.length])).toEqual([
      [joined.generationId, 1],
      [joined.generationId + 1, 0],
    ]);
  });
});
