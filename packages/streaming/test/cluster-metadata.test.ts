// The cluster metadata state machine (src/core/cluster-metadata.ts): the two rules that keep
// acknowledged acks=all records through a leader failover — ISR changes only from the current
// leader in its current epoch, elections only of ISR members — and the controller's choice.
import { describe, expect, it } from 'vitest';
import { ClusterMetadata, electionsFor, type MetadataCommand } from '../src/core/cluster-metadata.js';

function cluster(): ClusterMetadata {
  const m = new ClusterMetadata();
  for (const id of [1, 2, 3])
    m.apply({ op: 'register', broker: { id, host: '127.0.0.1', kafkaPort: 9090 + id } });
  expect(m.apply({ op: 'createTopic', name: 't', partitions: 3, configs: {}, replicas: [3, 1, 2] })).toEqual({
    ok: true,
  });
  return m;
}

describe('cluster metadata', () => {
  it('spreads partition leaders round-robin over the replicas, epoch 0, full ISR', () => {
    const m = cluster();
    expect(m.topic('t')!.partitions.map((p) => p.leader)).toEqual([1, 2, 3]);
    expect(m.partition('t', 0)).toEqual({ replicas: [1, 2, 3], leader: 1, leaderEpoch: 0, isr: [1, 2, 3] });
    expect(m.apply({ op: 'createTopic', name: 't', partitions: 1, configs: {}, replicas: [1] }).ok).toBe(
      false,
    );
  });

  it('an ISR change is taken only from the current leader in its current epoch', () => {
    const m = cluster();
    const shrink: Extract<MetadataCommand, { op: 'alterIsr' }> = {
      op: 'alterIsr',
      topic: 't',
      partition: 0,
      leader: 1,
      leaderEpoch: 0,
      isr: [1, 2],
    };
    expect(m.apply({ ...shrink, leader: 2 }).ok).toBe(false); // not the leader
    expect(m.apply({ ...shrink, isr: [2, 3] }).ok).toBe(false); // the leader must stay in
    expect(m.apply(shrink).ok).toBe(true);
    expect(m.partition('t', 0)!.isr).toEqual([1, 2]);
    // An election moves the epoch: the deposed leader's late shrink to itself is fenced.
    expect(m.apply({ op: 'elect', topic: 't', partition: 0, leaderEpoch: 0, leader: 2 }).ok).toBe(true);
    expect(m.partition('t', 0)).toMatchObject({ leader: 2, leaderEpoch: 1, isr: [2] });
    expect(m.apply({ ...shrink, isr: [1] }).ok).toBe(false);
  });

  it('elects only ISR members; a stale election (old epoch) is refused', () => {
    const m = cluster();
    m.apply({ op: 'alterIsr', topic: 't', partition: 0, leader: 1, leaderEpoch: 0, isr: [1, 2] });
    expect(m.apply({ op: 'elect', topic: 't', partition: 0, leaderEpoch: 0, leader: 3 }).ok).toBe(false); // unclean
    expect(m.apply({ op: 'elect', topic: 't', partition: 0, leaderEpoch: 0, leader: 2 }).ok).toBe(true);
    expect(m.apply({ op: 'elect', topic: 't', partition: 0, leaderEpoch: 0, leader: 2 }).ok).toBe(false); // stale
  });

  it('the controller elects a live ISR member, goes offline when none is alive, and comes back with one', () => {
    const m = cluster();
    m.apply({ op: 'alterIsr', topic: 't', partition: 0, leader: 1, leaderEpoch: 0, isr: [1, 3] });
    let alive = new Set([2, 3]);
    const first = electionsFor(m, (id) => alive.has(id));
    expect(first).toEqual([{ op: 'elect', topic: 't', partition: 0, leaderEpoch: 0, leader: 3 }]);
    for (const c of first) m.apply(c);
    expect(m.partition('t', 0)).toMatchObject({ leader: 3, isr: [3] });
    // 3 dies too: partition 0 has no live ISR member (2 is alive but not in sync): offline.
    alive = new Set([2]);
    const second = electionsFor(m, (id) => alive.has(id));
    expect(second.find((c) => c.partition === 0)).toMatchObject({ leader: -1 });
    for (const c of second) m.apply(c);
    expect(m.partition('t', 0)).toMatchObject({ leader: -1, isr: [3] });
    expect(electionsFor(m, (id) => alive.has(id)).filter((c) => c.partition === 0)).toEqual([]);
    alive = new Set([2, 3]);
    const third = electionsFor(m, (id) => alive.has(id)).filter((c) => c.partition === 0);
    expect(third).toEqual([{ op: 'elect', topic: 't', partition: 0, leaderEpoch: 2, leader: 3 }]);
  });

  it('an image round-trips (the Raft snapshot)', () => {
    const m = cluster();
    m.apply({ op: 'elect', topic: 't', partition: 1, leaderEpoch: 0, leader: 3 });
    expect(ClusterMetadata.fromImage(JSON.parse(JSON.stringify(m.image()))).image()).toEqual(m.image());
  });
});
