// Single-leader replication step by step on a manual clock and a hand-driven network: the
// synchronous_standby_names rule, catch-up after an outage, a new follower from a snapshot,
// manual failover with an epoch, fencing of the old leader, and statement-based replication's
// non-determinism (DDIA ch. 5, "Leaders and Followers").
import { ManualClock } from '@ddia/common/core';
import { describe, expect, it } from 'vitest';
import type { RequestResult } from '../src/core/ready.js';
import {
  SINGLE_LEADER_DEFAULTS,
  type SingleLeaderConfig,
  type SingleLeaderMessage,
  SingleLeaderNode,
} from '../src/core/single-leader.js';
import { formatSyncRule, parseSyncRule, syncSatisfied } from '../src/core/sync-rule.js';

describe('synchronous_standby_names', () => {
  it('parses ANY, FIRST, bare lists and async like PostgreSQL', () => {
    expect(parseSyncRule('ANY 2 (n2, n3, n4)')).toEqual({
      method: 'any',
      count: 2,
      names: ['n2', 'n3', 'n4'],
    });
    expect(parseSyncRule('FIRST 1 (n2, n3)')).toEqual({ method: 'first', count: 1, names: ['n2', 'n3'] });
    expect(parseSyncRule('2 (a, b)')).toEqual({ method: 'first', count: 2, names: ['a', 'b'] });
    expect(parseSyncRule('n2, n3')).toEqual({ method: 'first', count: 1, names: ['n2', 'n3'] });
    expect(parseSyncRule('')).toBeNull();
    expect(parseSyncRule('async')).toBeNull();
    expect(formatSyncRule(parseSyncRule('any 1 (x)'))).toBe('ANY 1 (x)');
    expect(() => parseSyncRule('ANY 3 (a, b)')).toThrow(/3 of 2/);
    expect(() => parseSyncRule('SOME (a')).toThrow();
  });

  it('FIRST waits for the highest-priority live standbys; ANY for any k', () => {
    const match: Record<string, number> = { n2: 5, n3: 9 };
    const all = () => true;
    expect(syncSatisfied(parseSyncRule('FIRST 1 (n2, n3)')!, 9, (n) => match[n] ?? 0, all)).toBe(false);
    expect(
      syncSatisfied(
        parseSyncRule('FIRST 1 (n2, n3)')!,
        9,
        (n) => match[n] ?? 0,
        (n) => n !== 'n2',
      ),
    ).toBe(true);
    expect(syncSatisfied(parseSyncRule('ANY 1 (n2, n3)')!, 9, (n) => match[n] ?? 0, all)).toBe(true);
    expect(syncSatisfied(parseSyncRule('ANY 2 (n2, n3)')!, 9, (n) => match[n] ?? 0, all)).toBe(false);
  });
});

function threeNodes(overrides: Partial<SingleLeaderConfig> = {}) {
  const clock = new ManualClock(0);
  const ids = ['n1', 'n2', 'n3'];
  const nodes = new Map<string, SingleLeaderNode>();
  const down = new Set<string>();
  const replies = new Map<number, RequestResult>();
  const wall = new Map<string, number>();
  for (const id of ids) {
    const skewed = { nowMs: () => clock.nowMs(), wallMs: () => clock.wallMs() + (wall.get(id) ?? 0) };
    nodes.set(
      id,
      new SingleLeaderNode(
        { ...SINGLE_LEADER_DEFAULTS, id, nodes: ids, initialLeader: 'n1', leaseMs: 500, ...overrides },
        skewed,
      ),
    );
  }
  const node = (id: string) => nodes.get(id) as SingleLeaderNode;
  /** Delivers messages (not to or from nodes that are down) and ticks until quiet. */
  const settle = (rounds = 20) => {
    for (let round = 0; round < rounds; round++) {
      let moved = false;
      for (const [id, n] of nodes) {
        if (down.has(id)) continue;
        n.tick();
        const ready = n.drain();
        for (const reply of ready.replies) replies.set(reply.requestId, reply.result);
        for (const { to, msg } of ready.messages) {
          if (down.has(to)) continue;
          moved = true;
          node(to).step(id, structuredClone(msg) as SingleLeaderMessage);
        }
      }
      clock.advance(SINGLE_LEADER_DEFAULTS.shipEveryMs);
      if (!moved && round > 2) return;
    }
  };
  let nextId = 1;
  const write = (id: string, key: string, value: string | null, sync?: boolean) => {
    const requestId = nextId++;
    node(id).request(requestId, { kind: 'write', key, value, ...(sync === undefined ? {} : { sync }) });
    for (const reply of node(id).drain().replies) replies.set(reply.requestId, reply.result);
    return requestId;
  };
  return { clock, node, down, replies, settle, write, wall };
}

describe('single-leader replication', () => {
  it('asynchronous: the leader answers at once; followers apply the log in order', () => {
    const c = threeNodes();
    c.settle();
    const id = c.write('n1', 'x', '1');
    expect(c.replies.get(id)).toMatchObject({ ok: true, detail: { position: 1, sync: false } });
    expect(c.node('n2').data.get('x')).toBeUndefined(); // not shipped yet: a stale read
    c.settle();
    expect(c.node('n2').data.get('x')).toBe('1');
    expect(c.node('n3').position).toBe(1);
  });

  it('synchronous: the answer waits for the standby; with it down the write times out on the leader', () => {
    const c = threeNodes({ syncStandbys: parseSyncRule('FIRST 1 (n2)'), syncTimeoutMs: 300 });
    c.settle();
    const id = c.write('n1', 'x', '1');
    expect(c.replies.has(id)).toBe(false);
    c.settle();
    expect(c.replies.get(id)).toMatchObject({ ok: true, detail: { sync: true } });
    c.down.add('n2');
    const late = c.write('n1', 'y', '2');
    c.settle();
    expect(c.replies.get(late)).toMatchObject({ ok: false, error: 'syncTimeout' });
  });

  it('writes taken together ship in one append per follower; a standby-confirmed answer is marked to go at once', () => {
    const c = threeNodes({ syncStandbys: parseSyncRule('ANY 1 (n2, n3)') });
    c.settle();
    const n1 = c.node('n1');
    for (let i = 0; i < 5; i++) n1.request(100 + i, { kind: 'write', key: `g${i}`, value: 'v' });
    const ready = n1.drain();
    expect(ready.persist).toHaveLength(5);
    const appends = ready.messages.filter((m) => m.msg.type === 'append');
    expect(appends.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
    for (const { msg } of appends) expect(msg).toMatchObject({ entries: { length: 5 } });
    const toN2 = appends.find((m) => m.to === 'n2')?.msg as SingleLeaderMessage;
    c.node('n2').step('n1', structuredClone(toN2));
    const ack = c.node('n2').drain();
    expect(ack.persist).toHaveLength(5);
    expect(ack.messages).toHaveLength(1); // one ack for the five
    n1.step('n2', structuredClone(ack.messages[0]?.msg as SingleLeaderMessage));
    const answers = n1.drain().replies;
    expect(answers.map((r) => r.requestId)).toEqual([100, 101, 102, 103, 104]);
    // The leader shipped them only once durable, and n2 confirmed them durable: these answers
    // wait for nothing queued on the leader's disk since.
    for (const r of answers)
      expect(r).toMatchObject({ now: true, result: { ok: true, detail: { sync: true } } });
    // An asynchronous answer claims the leader's own disk: it waits for its persist.
    n1.request(200, { kind: 'write', key: 'a', value: 'v', sync: false });
    const local = n1.drain();
    expect(local.persist).toHaveLength(1);
    expect(local.replies).toEqual([{ requestId: 200, result: expect.objectContaining({ ok: true }) }]);
  });

  it('a follower back from an outage catches up from its position; a far-behind one gets a snapshot', () => {
    const c = threeNodes({ logRetainEntries: 5 });
    c.settle();
    c.down.add('n3');
    for (let i = 0; i < 3; i++) c.write('n1', `k${i}`, `v${i}`);
    c.settle();
    c.down.delete('n3');
    c.settle();
    expect(c.node('n3').position).toBe(3);
    c.down.add('n3');
    for (let i = 3; i < 20; i++) c.write('n1', `k${i}`, `v${i}`);
    c.settle();
    // Lag is reported for a follower behind the retained log too (its next entry is gone).
    c.clock.advance(700);
    const lag = c
      .node('n1')
      .status()
      .followers.find((f) => f.id === 'n3');
    expect(lag).toMatchObject({ lagEntries: 17 });
    expect(lag?.lagMs).toBeGreaterThan(0);
    c.down.delete('n3');
    c.settle();
    expect(c.node('n3').position).toBe(20);
    expect(c.node('n3').status().snapshotPosition).toBeGreaterThan(3);
    expect(c.node('n3').data.get('k19')).toBe('v19');
  });

  it('manual failover: a new epoch; the old leader is fenced, steps down and loses its unreplicated write', () => {
    const c = threeNodes();
    c.settle();
    c.write('n1', 'a', '1');
    c.settle();
    c.down.add('n1'); // the leader is cut off, but still running
    const lost = c.write('n1', 'b', 'acknowledged-then-lost');
    expect(c.replies.get(lost)).toMatchObject({ ok: true });
    const promote = 99;
    c.node('n2').request(promote, { kind: 'promote' });
    c.node('n2').drain();
    c.settle();
    // The old leader's lease has run out: it refuses writes now (fencing).
    const refused = c.write('n1', 'c', 'x');
    expect(c.replies.get(refused)).toMatchObject({ ok: false, error: 'fenced' });
    const fresh = c.write('n2', 'd', '4');
    expect(c.replies.get(fresh)).toMatchObject({ ok: true, detail: { epoch: 2 } });
    c.down.delete('n1');
    c.settle(40);
    expect(c.node('n1').status()).toMatchObject({ role: 'follower', epoch: 2, leader: 'n2' });
    expect(c.node('n1').data.get('b')).toBeUndefined();
    expect(c.node('n1').data.get('d')).toBe('4');
    expect(c.node('n1').entriesDiscarded).toBe(1);
  });

  it('statement-based replication: now() gives each replica its own value; row-based ships the value', () => {
    const statement = threeNodes({ replicationFormat: 'statement' });
    statement.wall.set('n2', 1234);
    statement.settle();
    statement.write('n1', 'created', 'now()');
    statement.settle();
    expect(statement.node('n1').data.get('created')).not.toBe(statement.node('n2').data.get('created'));
    const row = threeNodes();
    row.settle();
    row.write('n1', 'created', 'now()');
    row.settle();
    expect(row.node('n2').data.get('created')).toBe(row.node('n1').data.get('created'));
  });

  it('session read: a follower holds a read for a position it has not reached, then answers', () => {
    const c = threeNodes();
    c.settle();
    c.write('n1', 'x', '1');
    c.node('n2').request(7, { kind: 'read', key: 'x', minPosition: 1 });
    expect(c.node('n2').drain().replies).toEqual([]);
    c.settle();
    expect(c.replies.get(7)).toMatchObject({ ok: true, view: { values: ['1'] } });
  });
});
