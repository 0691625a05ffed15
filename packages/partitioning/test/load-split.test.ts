// Load-based splits and merges across owners, as pure rules: the decayed per-partition rate and
// the split point taken from sampled requests (core/partition-load.ts), the splitter's merge and
// colocation candidates, and the controller's `colocate` command that brings two small
// neighbours on different nodes together so that they can merge.
import { describe, expect, it } from 'vitest';
import { colocatablePairs, mergeablePairs, shouldMerge } from '../src/controller/splitter.js';
import {
  compoundKey,
  countsOf,
  LOAD_HALF_LIFE_MS,
  LOAD_SAMPLE_KEYS,
  LOAD_SAMPLE_MIN,
  loadSplitPoint,
  type PartitionInfo,
  PartitionLoad,
  pendingMoves,
} from '../src/core/index.js';
import { type Config, N, refusal, run, settle } from './config-steps.js';

const key = (i: number) => `k${String(i).padStart(3, '0')}`;

describe('per-partition load', () => {
  it('measures a steady rate, decays when it stops, and starts afresh when forgotten', () => {
    const load = new PartitionLoad();
    // 200 requests/s to partition 1 for 10 s (5 half-lives), one every 5 ms.
    for (let t = 0; t < 10_000; t += 5) load.record(1, key(t % 7), t);
    expect(load.perSecond(1, 10_000)).toBeGreaterThan(180);
    expect(load.perSecond(1, 10_000)).toBeLessThan(210);
    expect(load.perSecond(2, 10_000)).toBe(0);
    // Four half-lives without requests: a sixteenth.
    expect(load.perSecond(1, 10_000 + 4 * LOAD_HALF_LIFE_MS)).toBeLessThan(210 / 16);
    expect(load.sample(1)).toHaveLength(LOAD_SAMPLE_KEYS); // the last 256 requests
    expect(load.sample(1)).toEqual([...load.sample(1)].sort());
    load.forget(1);
    expect(load.perSecond(1, 10_000)).toBe(0);
    expect(load.sample(1)).toEqual([]);
  });

  it('splits a hot range at the median of its requests, not of its keys', () => {
    const load = new PartitionLoad();
    // 100 keys k000..k099; requests go to k090..k099 only, 1,000/s for 8 s (4 half-lives).
    for (let t = 0; t < 8_000; t++) load.record(0, key(90 + (t % 10)), t);
    const perSecond = load.perSecond(0, 8_000);
    expect(perSecond).toBeGreaterThan(900);
    const at = loadSplitPoint(perSecond, load.sample(0), 500);
    expect(at).toBe(key(95)); // the size median would be k050
    expect(loadSplitPoint(perSecond, load.sample(0), 0)).toBeNull(); // --split-rps 0: off
    expect(loadSplitPoint(perSecond, load.sample(0), perSecond + 1)).toBeNull(); // under the limit
    expect(loadSplitPoint(perSecond, load.sample(0).slice(0, LOAD_SAMPLE_MIN - 1), 500)).toBeNull();
  });

  it('does not split one hot key (or one partition key with many sort keys): salting is for that', () => {
    const load = new PartitionLoad();
    for (let t = 0; t < 2_000; t++) load.record(0, 'likes', t);
    expect(loadSplitPoint(load.perSecond(0, 2_000), load.sample(0), 10)).toBeNull();
    const rows = new PartitionLoad();
    for (let t = 0; t < 2_000; t++) rows.record(0, compoundKey('user1', `s${t % 50}`), t);
    expect(loadSplitPoint(rows.perSecond(0, 2_000), rows.sample(0), 10)).toBeNull();
  });

  it('a small but hot pair does not merge; a small and cold one does', () => {
    expect(shouldMerge(10, 100, 400, 1000)).toBe(false); // hot: 400 >= 1000 / 4
    expect(shouldMerge(10, 100, 200, 1000)).toBe(true);
    expect(shouldMerge(10, 100, 400, 0)).toBe(true); // load splitting off: size alone
    expect(shouldMerge(30, 100, 0, 1000)).toBe(false); // too many keys
    expect(shouldMerge(24, 100)).toBe(true); // under a quarter of --split-keys
    expect(shouldMerge(25, 100)).toBe(false);
    expect(shouldMerge(0, 0)).toBe(false); // --split-keys 0: never
  });
});

describe('merging across owners', () => {
  const part = (id: number, owner: string, extra: Partial<PartitionInfo> = {}): PartitionInfo => ({
    id,
    owner,
    target: owner,
    frozen: false,
    since: 1,
    ...extra,
  });

  it('candidates: resting neighbours, on one owner (merge) or with the right one elsewhere (colocate)', () => {
    const parts = [
      part(0, 'n1'),
      part(1, 'n1'),
      part(2, 'n1', { target: 'n2' }), // moving
      part(3, 'n1', { replicas: ['n3'] }),
      part(4, 'n1', { replicas: ['n2'] }), // other followers: the merge keeps those of both
      part(5, 'n1'),
      part(6, 'n2'),
      part(7, 'n2', { frozen: true }),
      part(8, 'n1'),
    ];
    expect(mergeablePairs(parts, 'n1')).toEqual([0, 3, 4]);
    expect(colocatablePairs(parts, 'n1')).toEqual([5]); // 7-8: 7 is frozen; 1-2: 2 is moving
    expect(colocatablePairs(parts, 'n2')).toEqual([]); // n2 proposes only for a left one it owns
  });

  /** 2 nodes, range scheme, 2 pre-split ranges, then k100 splits off the first: n1 holds the
   *  first two, n2 the last. */
  function threeRanges(): Config {
    const c = run(null, { op: 'bootstrap', scheme: 'range', partitions: 2, nodes: [N('n1'), N('n2')] });
    const p0 = c.partitions[0] as PartitionInfo;
    return settle(run(c, { op: 'split', partition: p0.id, at: 'k100' }));
  }

  it('colocate moves the half whose owner holds more; the merge then balances the counts again', () => {
    let c = threeRanges();
    expect(c.partitions.map((p) => p.owner)).toEqual(['n1', 'n1', 'n2']);
    const [, middle, last] = c.partitions as [PartitionInfo, PartitionInfo, PartitionInfo];
    c = run(c, { op: 'colocate', partition: middle.id });
    // n1 holds two, n2 one: the middle one (n1's) goes to n2; nothing else moves.
    expect(pendingMoves(c).map((p) => [p.id, p.owner, p.target])).toEqual([[middle.id, 'n1', 'n2']]);
    c = settle(c);
    expect(c.partitions.map((p) => p.owner)).toEqual(['n1', 'n2', 'n2']);
    expect(mergeablePairs(c.partitions, 'n2')).toEqual([1]);
    c = run(c, { op: 'merge', partition: middle.id });
    expect(c.partitions.map((p) => [p.id, p.owner, p.range])).toEqual([
      [0, 'n1', { start: '', end: 'k100' }],
      [middle.id, 'n2', { start: 'k100', end: null }],
    ]);
    expect(pendingMoves(c)).toEqual([]);
    expect(last.id).not.toBe(middle.id);
    expect([
      ...countsOf(
        c.partitions.map((p) => p.owner),
        ['n1', 'n2'],
      ).values(),
    ]).toEqual([1, 1]);
  });

  it("with equal counts the right one moves to the left one's owner", () => {
    let c = run(null, { op: 'bootstrap', scheme: 'range', partitions: 4, nodes: [N('n1'), N('n2')] });
    const owners = c.partitions.map((p) => p.owner);
    const i = owners.findIndex((o, j) => j + 1 < owners.length && o !== owners[j + 1]);
    const left = c.partitions[i] as PartitionInfo;
    const right = c.partitions[i + 1] as PartitionInfo;
    c = run(c, { op: 'colocate', partition: left.id });
    expect(pendingMoves(c).map((p) => [p.id, p.target])).toEqual([[right.id, left.owner]]);
  });

  it('refuses: same owner, a move pending, fewer partitions than nodes, a moving half, no right neighbour', () => {
    const c = threeRanges();
    const [first, middle, last] = c.partitions as [PartitionInfo, PartitionInfo, PartitionInfo];
    expect(refusal(c, { op: 'colocate', partition: first.id })).toBe('bad_split'); // both on n1
    expect(refusal(c, { op: 'colocate', partition: last.id })).toBe('unknown_partition');
    const pending = run(c, { op: 'colocate', partition: middle.id });
    expect(refusal(pending, { op: 'colocate', partition: middle.id })).toBe('bad_split');
    const two = run(null, { op: 'bootstrap', scheme: 'range', partitions: 2, nodes: [N('n1'), N('n2')] });
    expect(refusal(two, { op: 'colocate', partition: (two.partitions[0] as PartitionInfo).id })).toBe(
      'too_many_nodes',
    );
    const hash = run(null, { op: 'bootstrap', scheme: 'hash', partitions: 4, nodes: [N('n1'), N('n2')] });
    expect(refusal(hash, { op: 'colocate', partition: 0 })).toBe('unknown_partition');
  });
});
