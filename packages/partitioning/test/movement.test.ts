// DDIA ch. 6 "How not to do it: hash mod N": growing from N to N+1 nodes under hash mod N moves
// about N/(N+1) of the keys; a fixed number of partitions and consistent hashing move about the
// ideal 1/(N+1). Measured on 20,000 keys.
import { describe, expect, it } from 'vitest';
import { HashRing } from '../src/core/consistent-hash.js';
import { hashKey } from '../src/core/hash.js';
import { measureMovement } from '../src/core/movement.js';

const KEYS = Array.from({ length: 20_000 }, (_, i) => `user:${i}`);
const OPTIONS = { partitions: 256, vnodes: 128 };

describe('keys moved when a node joins (4 -> 5 nodes; ideal 1/5)', () => {
  const before = ['n1', 'n2', 'n3', 'n4'];
  const after = [...before, 'n5'];

  it('hash mod N moves almost everything', () => {
    const r = measureMovement('mod-n', KEYS, before, after, OPTIONS);
    expect(r.idealFraction).toBeCloseTo(0.2);
    // Theory: a key stays only if hash mod 4 == hash mod 5: 4 of every 20 residues -> 80 % move.
    expect(r.movedFraction).toBeGreaterThan(0.75);
  });

  it('a fixed number of partitions moves within 10 % of the ideal', () => {
    const r = measureMovement('fixed-partitions', KEYS, before, after, OPTIONS);
    expect(Math.abs(r.movedFraction - r.idealFraction) / r.idealFraction).toBeLessThan(0.1);
  });

  it('consistent hashing with vnodes moves about the ideal, and only to the new node', () => {
    const r = measureMovement('consistent-hash', KEYS, before, after, OPTIONS);
    // Arc lengths vary with few tokens; 128 vnodes keep the new node's share near 1/5.
    expect(Math.abs(r.movedFraction - r.idealFraction) / r.idealFraction).toBeLessThan(0.25);
    const oldRing = new HashRing(before, 128);
    const newRing = new HashRing(after, 128);
    for (const key of KEYS.slice(0, 2_000)) {
      const from = oldRing.ownerOfKey(key);
      const to = newRing.ownerOfKey(key);
      if (from !== to) expect(to).toBe('n5');
    }
  });

  it("a leave moves only the leaver's keys under fixed partitions", () => {
    const r = measureMovement('fixed-partitions', KEYS, after, before, OPTIONS);
    expect(Math.abs(r.movedFraction - r.idealFraction) / r.idealFraction).toBeLessThan(0.1);
  });
});

describe('hash', () => {
  it('is stable and spreads keys evenly over 16 buckets', () => {
    expect(hashKey('hello')).toBe(hashKey('hello'));
    const buckets = new Array(16).fill(0);
    for (const key of KEYS) buckets[hashKey(key) % 16]++;
    const mean = KEYS.length / 16;
    for (const b of buckets) expect(Math.abs(b - mean) / mean).toBeLessThan(0.1);
  });

  it('vnodes even out a ring: 128 tokens per node spread load far better than 1', () => {
    const spread = (vnodes: number) => {
      const ring = new HashRing(['a', 'b', 'c', 'd'], vnodes);
      const counts = new Map<string, number>();
      for (const key of KEYS) counts.set(ring.ownerOfKey(key), (counts.get(ring.ownerOfKey(key)) ?? 0) + 1);
      const values = [...counts.values()];
      return (Math.max(...values) - Math.min(...values)) / (KEYS.length / 4);
    };
    expect(spread(128)).toBeLessThan(spread(1));
    expect(spread(128)).toBeLessThan(0.35);
  });
});
