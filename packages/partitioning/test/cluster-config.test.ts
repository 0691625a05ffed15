// The controller's state machine: joins and leaves set targets, moves go freeze -> finish with
// an epoch bump each, and bad commands are refused without changing anything.
import { describe, expect, it } from 'vitest';
import { countsOf } from '../src/core/assignment.js';
import { applyConfigCommand, pendingMoves } from '../src/core/index.js';
import { partitionIndexOf, partitionsForScan } from '../src/core/partitioner.js';
import { N, refusal, run, settle } from './config-steps.js';

describe('controller configuration', () => {
  it('grows from 2 to 3 nodes: a third of the partitions move, each with a freeze and a flip', () => {
    let c = run(null, { op: 'bootstrap', scheme: 'hash', partitions: 12, nodes: [N('n1'), N('n2')] });
    expect(c.epoch).toBe(1);
    expect([
      ...countsOf(
        c.partitions.map((p) => p.owner),
        ['n1', 'n2'],
      ).values(),
    ]).toEqual([6, 6]);
    c = run(c, { op: 'join', ...N('n3') });
    const moving = pendingMoves(c);
    expect(moving.length).toBe(4);
    expect(moving.every((p) => p.target === 'n3')).toBe(true);
    const epoch = c.epoch;
    c = settle(c);
    expect(c.epoch).toBe(epoch + 8);
    expect([
      ...countsOf(
        c.partitions.map((p) => p.owner),
        ['n1', 'n2', 'n3'],
      ).values(),
    ]).toEqual([4, 4, 4]);
  });

  it('a leaving node stays a member until its partitions have moved', () => {
    let c = run(null, { op: 'bootstrap', scheme: 'hash', partitions: 6, nodes: [N('n1'), N('n2'), N('n3')] });
    c = run(c, { op: 'leave', id: 'n2' });
    expect(c.nodes.find((n) => n.id === 'n2')?.state).toBe('leaving');
    c = settle(c);
    expect(c.nodes.map((n) => n.id)).toEqual(['n1', 'n3']);
    expect(c.partitions.every((p) => p.owner !== 'n2')).toBe(true);
  });

  it('refuses what it cannot do, leaving the config as it was', () => {
    const c = run(null, { op: 'bootstrap', scheme: 'hash', partitions: 2, nodes: [N('n1'), N('n2')] });
    const refused = (command: Parameters<typeof refusal>[1]) => refusal(c, command);
    expect(refused({ op: 'join', ...N('n3') })).toBe('too_many_nodes');
    expect(refused({ op: 'join', ...N('n1') })).toBe('node_exists');
    expect(refused({ op: 'leave', id: 'n9' })).toBe('unknown_node');
    expect(refused({ op: 'finish', partition: 0, to: 'n2' })).toBe('stale_move');
    expect(refused({ op: 'freeze', partition: 7, to: 'n2' })).toBe('unknown_partition');
    expect(refused({ op: 'bootstrap', scheme: 'hash', partitions: 2, nodes: [] })).toBe(
      'already_bootstrapped',
    );
    const solo = run(null, { op: 'bootstrap', scheme: 'hash', partitions: 2, nodes: [N('n1')] });
    expect(applyConfigCommand(solo, { op: 'leave', id: 'n1' }).result).toMatchObject({
      ok: false,
      refusal: 'last_node',
    });
  });

  it('an index created online is recorded with its epoch, once', () => {
    const c = run(null, { op: 'bootstrap', scheme: 'hash', partitions: 2, nodes: [N('n1')] });
    const size = { name: 'size', field: 'size', kind: 'local' as const };
    const next = run(c, { op: 'create_index', index: size });
    expect(next.indexes).toEqual([{ ...size, since: 2 }]);
    expect(c.indexes).toBeUndefined();
    const again = applyConfigCommand(next, { op: 'create_index', index: { ...size, kind: 'global' } });
    expect(again.result).toMatchObject({ ok: false, refusal: 'index_exists' });
    expect(again.config).toBe(next);
  });

  it('range partitions split and merge; scans visit only overlapping partitions', () => {
    let c = run(null, { op: 'bootstrap', scheme: 'range', partitions: 2, nodes: [N('n1'), N('n2')] });
    const i = partitionIndexOf(c, 'user:5');
    const id = c.partitions[i]?.id as number;
    c = run(c, { op: 'split', partition: id, at: 'user:5' });
    expect(c.partitions.length).toBe(3);
    expect(partitionIndexOf(c, 'user:5')).toBe(i + 1);
    expect(partitionIndexOf(c, 'user:4')).toBe(i);
    expect(partitionsForScan(c, 'user:6', 'user:7')).toEqual([i + 1]);
    expect(applyConfigCommand(c, { op: 'split', partition: id, at: 'user:9' }).result).toMatchObject({
      ok: false,
      refusal: 'bad_split',
    });
    c = settle(c);
    const left = c.partitions[i];
    const right = c.partitions[i + 1];
    if (left?.owner === right?.owner) {
      c = run(c, { op: 'merge', partition: left?.id as number });
      expect(c.partitions.length).toBe(2);
    }
  });

  it('consistent hashing: a join moves only slots to the new node', () => {
    let c = run(null, {
      op: 'bootstrap',
      scheme: 'consistent-hash',
      partitions: 256,
      nodes: [N('n1'), N('n2'), N('n3')],
    });
    c = run(c, { op: 'join', ...N('n4') });
    const moving = pendingMoves(c);
    expect(moving.every((p) => p.target === 'n4')).toBe(true);
    expect(moving.length).toBeGreaterThan(256 * 0.15);
    expect(moving.length).toBeLessThan(256 * 0.35);
  });

  it('replicas: followers at bootstrap, fail_over promotes an in-sync follower, adds and drops', () => {
    let c = run(null, {
      op: 'bootstrap',
      scheme: 'hash',
      partitions: 6,
      nodes: [N('n1'), N('n2'), N('n3')],
      replicas: 3,
    });
    expect(c.replicas).toBe(3);
    for (const p of c.partitions) {
      expect(p.replicas).toHaveLength(2);
      expect(new Set([p.owner, ...(p.replicas ?? [])]).size).toBe(3);
    }
    const p0 = c.partitions[0] as (typeof c.partitions)[number];
    const [f1, f2] = p0.replicas as [string, string];
    // Only an in-sync follower of the named owner can take over.
    expect(applyConfigCommand(c, { op: 'fail_over', partition: 0, from: f1, to: f2 }).result).toMatchObject({
      ok: false,
      refusal: 'bad_replica',
    });
    const dead = p0.owner;
    c = run(c, { op: 'fail_over', partition: 0, from: dead, to: f1 });
    const after = c.partitions[0] as (typeof c.partitions)[number];
    expect(after).toMatchObject({ owner: f1, target: f1, frozen: false, replicas: [] });
    // Followers come back one at a time, never the owner, never past R copies.
    expect(applyConfigCommand(c, { op: 'add_replica', partition: 0, node: f1, owner: f1 }).result.ok).toBe(
      false,
    );
    expect(applyConfigCommand(c, { op: 'add_replica', partition: 0, node: f2, owner: dead }).result.ok).toBe(
      false,
    );
    c = run(c, { op: 'add_replica', partition: 0, node: f2, owner: f1 });
    c = run(c, { op: 'add_replica', partition: 0, node: dead, owner: f1 });
    expect(applyConfigCommand(c, { op: 'add_replica', partition: 0, node: 'n9', owner: f1 }).result.ok).toBe(
      false,
    );
    expect(c.partitions[0]?.replicas).toEqual([f2, dead]);
    c = run(c, { op: 'drop_replica', partition: 0, node: dead });
    expect(c.partitions[0]?.replicas).toEqual([f2]);
    // A leaving node stops following at once; a finished move keeps the other followers.
    c = run(c, { op: 'leave', id: f2 });
    expect(c.partitions.every((p) => !(p.replicas ?? []).includes(f2))).toBe(true);
    c = settle(c);
    for (const p of c.partitions) {
      expect(p.replicas ?? []).not.toContain(p.owner);
      expect(c.nodes.find((n) => n.id === p.owner)?.state).toBe('active');
    }
  });
});
