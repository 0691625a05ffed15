// Datacenter-aware consistency levels (Cassandra's LOCAL_QUORUM and EACH_QUORUM) on the pure
// leaderless core: three datacenters of two nodes, N = 6, messages delivered by hand so that a
// test decides which datacenters a write or a read has reached.
import { describe, expect, it } from 'vitest';
import { dcRule, parseDcs, quorumMet } from '../src/core/dc-quorum.js';
import {
  LEADERLESS_DEFAULTS,
  type LeaderlessMessage,
  LeaderlessNode,
  type LeaderlessRequest,
} from '../src/core/leaderless.js';
import { homeReplicas } from '../src/core/placement.js';
import type { QuorumSpec, RequestResult } from '../src/core/ready.js';

const NODES = ['us1', 'us2', 'eu1', 'eu2', 'ap1', 'ap2'];
const DC_OF = new Map(NODES.map((id) => [id, id.slice(0, 2)]));
const clock = { nowMs: () => 0, wallMs: () => 0 };

/** The cores, a queue of undelivered messages and the answers given to clients. */
function sixNodes(withDcs = true) {
  const nodes = new Map(
    NODES.map((id) => [
      id,
      new LeaderlessNode(
        {
          ...LEADERLESS_DEFAULTS,
          id,
          nodes: NODES,
          n: NODES.length,
          ...(withDcs ? { dcOf: DC_OF } : {}),
        },
        clock,
      ),
    ]),
  );
  const queue: { from: string; to: string; msg: LeaderlessMessage }[] = [];
  const answers = new Map<number, RequestResult>();
  const collect = () => {
    for (const [from, node] of nodes) {
      const ready = node.drain();
      for (const { to, msg } of ready.messages) queue.push({ from, to, msg });
      for (const reply of ready.replies) answers.set(reply.requestId, reply.result);
    }
  };
  /** Delivers every queued message whose link `allow` passes, until none is left to deliver. */
  const deliver = (allow: (from: string, to: string) => boolean) => {
    for (;;) {
      collect();
      const i = queue.findIndex((m) => allow(m.from, m.to));
      if (i < 0) return;
      const [m] = queue.splice(i, 1);
      nodes.get(m!.to)!.step(m!.from, m!.msg);
    }
  };
  let nextId = 1;
  const request = (at: string, req: LeaderlessRequest) => {
    const id = nextId++;
    nodes.get(at)!.request(id, req);
    collect();
    return id;
  };
  return { nodes, answers, deliver, request };
}

const dc = (id: string) => id.slice(0, 2);
const within = (d: string) => (from: string, to: string) => dc(from) === d && dc(to) === d;
const put = (key: string, value: string, w: QuorumSpec): LeaderlessRequest => ({
  kind: 'write',
  key,
  mutation: { op: 'put', value, context: null, type: 'mv' },
  w,
});

/** A key whose first home replica is in `d`, so a plain write is coordinated there. */
function keyFirstIn(d: string): string {
  for (let i = 0; ; i++) if (dc(homeReplicas(`k${i}`, NODES, NODES.length)[0]!) === d) return `k${i}`;
}

describe('datacenter quorum rules', () => {
  it('local_quorum needs a majority of the local datacenter; each_quorum one in every datacenter', () => {
    const local = dcRule('local_quorum', NODES, 'eu', DC_OF);
    const each = dcRule('each_quorum', NODES, 'eu', DC_OF);
    if (typeof local === 'string' || typeof each === 'string') throw new Error('rule refused');
    expect(local.text).toBe('local_quorum(eu: 2)');
    expect(quorumMet(local, ['eu1', 'us1', 'us2', 'ap1'], DC_OF)).toBe(false);
    expect(quorumMet(local, ['eu1', 'eu2'], DC_OF)).toBe(true);
    expect(quorumMet(each, ['us1', 'us2', 'eu1', 'eu2', 'ap1'], DC_OF)).toBe(false);
    expect(quorumMet(each, ['us1', 'us2', 'eu1', 'eu2', 'ap1', 'ap2'], DC_OF)).toBe(true);
    // A key with no replica in the local datacenter cannot be written at local_quorum.
    expect(dcRule('local_quorum', ['us1', 'us2'], 'eu', DC_OF)).toMatch(/no replica .* eu/);
  });

  it('parses --dcs and names what is wrong', () => {
    expect(parseDcs('a=x,b=y', ['a', 'b'])).toEqual(
      new Map([
        ['a', 'x'],
        ['b', 'y'],
      ]),
    );
    expect(parseDcs('a=x', ['a', 'b'])).toBe('no datacenter for b');
    expect(parseDcs('a=x,c=y', ['a', 'b'])).toBe("'c' is not among --peers");
    expect(parseDcs('a=x,a=y', ['a'])).toBe("'a' is named twice");
    expect(parseDcs('a', ['a'])).toMatch(/expected id=datacenter/);
  });
});

describe('LOCAL_QUORUM vs EACH_QUORUM vs QUORUM on the leaderless core', () => {
  it('a local_quorum write is acknowledged inside its datacenter; each_quorum waits for every datacenter', () => {
    const c = sixNodes();
    // The key's first home replica is in ap: the write must still be coordinated in us.
    const key = keyFirstIn('ap');
    const local = c.request('us1', put(key, 'v1', 'local_quorum'));
    c.deliver(within('us'));
    expect(c.answers.get(local)).toMatchObject({ ok: true, detail: { w: 'local_quorum(us: 2)' } });
    const each = c.request('us1', put(`${key}-each`, 'v1', 'each_quorum'));
    c.deliver((from, to) => dc(from) !== 'ap' && dc(to) !== 'ap');
    expect(c.answers.get(each)).toBeUndefined();
    c.deliver(() => true);
    expect(c.answers.get(each)).toMatchObject({ ok: true, detail: { acks: 6 } });
  });

  it('quorum (4 of 6) crosses to one more datacenter; local_quorum does not count remote acks', () => {
    const c = sixNodes();
    const key = keyFirstIn('us');
    const quorum = c.request('us1', put(key, 'v1', 'quorum'));
    c.deliver(within('us'));
    expect(c.answers.get(quorum)).toBeUndefined();
    c.deliver((from, to) => dc(from) !== 'ap' && dc(to) !== 'ap');
    expect(c.answers.get(quorum)).toMatchObject({ ok: true, detail: { w: 4 } });
    // us2 is cut off from everyone: five acknowledgements, but only one of them in us.
    const local = c.request('us1', put(`${key}-2`, 'v1', 'local_quorum'));
    c.deliver((from, to) => from !== 'us2' && to !== 'us2');
    expect(c.answers.get(local)).toBeUndefined();
  });

  it('a local_quorum read answers from its own datacenter even when a remote replica is newer', () => {
    const c = sixNodes();
    const key = keyFirstIn('us');
    c.request('us1', put(key, 'new', 'local_quorum'));
    c.deliver(within('us'));
    // eu has not seen the write; ap has (and answers first): local_quorum in eu still misses it.
    c.deliver((from, to) => dc(from) === 'us' && dc(to) === 'ap');
    c.deliver(within('ap'));
    const stale = c.request('eu1', { kind: 'read', key, r: 'local_quorum' });
    c.deliver((from, to) => (dc(from) === 'ap' && to === 'eu1') || (from === 'eu1' && dc(to) === 'ap'));
    expect(c.answers.get(stale)).toBeUndefined();
    c.deliver(within('eu'));
    expect(c.answers.get(stale)).toMatchObject({
      ok: true,
      view: null,
      detail: { r: 'local_quorum(eu: 2)' },
    });
    // The write is now on us1, us2, ap1, ap2: any 4 of the 6 answers of a quorum read include one.
    const fresh = c.request('eu1', { kind: 'read', key, r: 'quorum' });
    c.deliver(() => true);
    expect(c.answers.get(fresh)).toMatchObject({ ok: true, view: { values: ['new'] } });
  });

  it('a datacenter level without --dcs is a bad request, not a hang', () => {
    const c = sixNodes(false);
    const id = c.request('us1', put('k', 'v', 'local_quorum'));
    expect(c.answers.get(id)).toMatchObject({ ok: false, error: 'badRequest' });
    const read = c.request('us1', { kind: 'read', key: 'k', r: 'each_quorum' });
    expect(c.answers.get(read)).toMatchObject({ ok: false, error: 'badRequest' });
  });
});
