// The pure parts of hot-key detection, salting and term partitioning.
import { describe, expect, it } from 'vitest';
import {
  applyConfigCommand,
  HotKeyTracker,
  logicalKeyOf,
  mergeHotKeys,
  parseIndexSpecs,
  partitionIndexOf,
  postingKey,
  saltedKeys,
  slotOf,
  termsOf,
} from '../src/core/index.js';
import type { Config } from './config-steps.js';

describe('hot key detection (decayed per-key rate)', () => {
  it('ranks the key with the most recent requests first, and forgets old bursts', () => {
    const tracker = new HotKeyTracker(1_000, 10);
    for (let t = 0; t < 1_000; t += 10) tracker.record('celebrity', t);
    for (let t = 0; t < 1_000; t += 100) tracker.record('normal', t);
    const [first, second] = tracker.top(2, 1_000);
    expect(first?.key).toBe('celebrity');
    // 100 requests/s sustained: the decayed estimate is near it (the window is still warming up).
    expect(first?.perSecond).toBeGreaterThan(40);
    expect(first?.perSecond).toBeLessThan(110);
    expect(second?.key).toBe('normal');
    // Ten half-lives later the burst is forgotten.
    expect(tracker.top(1, 11_000)[0]?.perSecond).toBeLessThan(0.2);
  });

  it("across nodes: sums every node's rates per key and folds salted sub-keys into their key", () => {
    // Each node only sees its own partitions' keys: "views" is hot on n2 alone, "likes" is
    // salted so no node sees much of it, yet together it is the hottest key of all.
    const perNode = [
      {
        node: 'n1',
        keys: [
          { key: 'likes#salt0', perSecond: 4 },
          { key: 'a', perSecond: 1 },
        ],
      },
      {
        node: 'n2',
        keys: [
          { key: 'views', perSecond: 6 },
          { key: 'likes#salt3', perSecond: 5 },
        ],
      },
      {
        node: 'n3',
        keys: [
          { key: 'likes#salt5', perSecond: 4 },
          { key: 'a', perSecond: 1 },
        ],
      },
    ];
    const { total, keys } = mergeHotKeys(perNode, 10);
    expect(total).toBe(21);
    expect(keys.map((k) => k.key)).toEqual(['likes', 'views', 'a']);
    expect(keys[0]).toMatchObject({ perSecond: 13, subKeys: 3, nodes: { n1: 4, n2: 5, n3: 4 } });
    expect(keys[0]?.share).toBeCloseTo(13 / 21);
    // A key moved between owners mid-window is reported by both; the sum is its rate.
    expect(keys[2]).toMatchObject({ perSecond: 2, nodes: { n1: 1, n3: 1 } });
    expect(mergeHotKeys(perNode, 1).keys).toHaveLength(1);
    expect(logicalKeyOf('a#salt')).toBe('a#salt');
    expect(logicalKeyOf('x#salt12')).toBe('x');
  });

  it('tracks a bounded number of keys', () => {
    const tracker = new HotKeyTracker(1_000, 5);
    for (let i = 0; i < 100; i++) tracker.record('hot', i);
    for (let i = 0; i < 1_000; i++) tracker.record(`cold${i}`, 100 + i);
    expect(tracker.top(100, 1_100).length).toBeLessThanOrEqual(10);
    expect(tracker.top(1, 1_100)[0]?.key).toBe('hot');
  });

  it('salting spreads one key over sub-keys on different hash partitions', () => {
    const subKeys = saltedKeys('likes', 8);
    expect(new Set(subKeys.map((k) => slotOf(k, 8))).size).toBeGreaterThan(3);
  });
});

describe('secondary index terms and term partitioning', () => {
  it('parses --indexes and refuses bad declarations', () => {
    expect(parseIndexSpecs('color=color:local, make=make:global')).toEqual([
      { name: 'color', field: 'color', kind: 'local' },
      { name: 'make', field: 'make', kind: 'global' },
    ]);
    expect(parseIndexSpecs('')).toEqual([]);
    expect(() => parseIndexSpecs('color=color:sideways')).toThrow(/local\|global/);
    expect(() => parseIndexSpecs('a=x:local,a=y:global')).toThrow(/twice/);
    expect(() => parseIndexSpecs('bad name=x:local')).toThrow();
  });

  it('extracts terms from JSON objects only', () => {
    const specs = parseIndexSpecs('color=color:local,year=year:global');
    const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    expect([...termsOf(specs, enc({ color: 'red', year: 2020 }))]).toEqual([
      ['color', 'red'],
      ['year', '2020'],
    ]);
    expect(termsOf(specs, enc(['red'])).size).toBe(0);
    expect(termsOf(specs, enc({ color: { nested: 1 } })).size).toBe(0);
    expect(termsOf(specs, new TextEncoder().encode('not json')).size).toBe(0);
    expect(termsOf(specs, null).size).toBe(0);
  });

  it("every posting of a term lands in the term's partition, whatever document it points at (Figure 6-5)", () => {
    const { config } = applyConfigCommand(null, {
      op: 'bootstrap',
      scheme: 'hash',
      partitions: 64,
      nodes: [{ id: 'n1', url: 'http://x' }],
    });
    const partitionOf = (key: string) => partitionIndexOf(config as Config, key);
    const docs = Array.from({ length: 50 }, (_, i) => `car${i}`);
    expect(new Set(docs.map((d) => partitionOf(postingKey('make', 'ford', d)))).size).toBe(1);
    // ...while the documents themselves are spread (that is why a local index must scatter).
    expect(new Set(docs.map(partitionOf)).size).toBeGreaterThan(20);
    // Different terms spread over partitions too.
    const terms = Array.from({ length: 50 }, (_, i) => `make${i}`);
    expect(new Set(terms.map((t) => partitionOf(postingKey('make', t, 'car1')))).size).toBeGreaterThan(20);
  });
});
