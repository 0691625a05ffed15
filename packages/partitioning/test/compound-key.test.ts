// Compound keys (partition key + sort key): the stored key sorts as the pair does, in JavaScript
// string order (scans merge with it) and in UTF-8 byte order (the store's), and under every
// scheme only the partition key chooses the partition; a range split never lands inside one
// partition key's sort keys.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigMachine, encodeConfigCommand } from '../src/controller/config-machine.js';
import { splitPoint } from '../src/controller/splitter.js';
import { compoundKey, partitionIndexOf, SCHEMES, sortKeyRange, splitCompoundKey } from '../src/core/index.js';
import type { Config } from './config-steps.js';

/** Non-empty strings without U+0000 of valid UTF-16: near-boundary characters often, and any
 *  character (astral ones as surrogate pairs: UTF-16 and UTF-8 orders differ there) otherwise. */
const char = fc.oneof(
  fc.constantFrom('a', 'b', '\u0001', '\u007f', '\u00ff', '\uffff', '\u{1f600}'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
);
const part = fc.string({ unit: char, minLength: 1, maxLength: 6 }).filter((s) => !s.includes('\u0000'));

const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);
const jsOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byteOrder = (a: string, b: string) =>
  sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));

describe('compound key encoding', () => {
  it('sorts as (partition key, sort key) in string order and in UTF-8 byte order', () => {
    fc.assert(
      fc.property(part, part, part, part, (pk1, sk1, pk2, sk2) => {
        const a = compoundKey(pk1, sk1);
        const b = compoundKey(pk2, sk2);
        for (const order of [jsOrder, byteOrder]) {
          const pair = order(pk1, pk2) !== 0 ? order(pk1, pk2) : order(sk1, sk2);
          expect(order(a, b)).toBe(pair);
        }
        expect(splitCompoundKey(a)).toEqual({ partitionKey: pk1, sortKey: sk1 });
      }),
      { numRuns: 500 },
    );
  });

  it("a partition key's sort-key range holds exactly its sort keys in [start, end), and no plain key", () => {
    fc.assert(
      fc.property(part, part, part, part, fc.option(part), (pk, other, sk, from, to) => {
        const { start, end } = sortKeyRange(pk, from, to);
        for (const order of [jsOrder, byteOrder]) {
          const inside = (k: string) => order(k, start) >= 0 && order(k, end) < 0;
          const wanted = order(sk, from) >= 0 && (to === null || order(sk, to) < 0);
          expect(inside(compoundKey(pk, sk))).toBe(wanted);
          expect(inside(pk)).toBe(false);
          if (other !== pk) expect(inside(compoundKey(other, sk))).toBe(false);
          expect(inside(`${pk}${other}`)).toBe(false);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('plain keys and reserved keys are not compound', () => {
    expect(splitCompoundKey('user:42')).toBeNull();
    expect(splitCompoundKey('\u0000g\u0000by-city\u0000paris\u0000user:42')).toBeNull();
    expect(() => compoundKey('a\u0000b', 'c')).toThrow();
    expect(() => compoundKey('a', '')).toThrow();
  });
});

function configOf(scheme: (typeof SCHEMES)[number]): Config {
  const machine = new ConfigMachine();
  const result = machine.apply(
    encodeConfigCommand({
      op: 'bootstrap',
      scheme,
      partitions: 16,
      nodes: [
        { id: 'n1', url: 'http://n1' },
        { id: 'n2', url: 'http://n2' },
      ],
    }),
  );
  expect(result.ok).toBe(true);
  return machine.config as Config;
}

describe('only the partition key chooses the partition', () => {
  it.each(SCHEMES)('%s: every sort key of a partition key is where the partition key is', (scheme) => {
    const config = configOf(scheme);
    fc.assert(
      fc.property(part, fc.array(part, { minLength: 1, maxLength: 20 }), (pk, sortKeys) => {
        const home = partitionIndexOf(config, pk);
        for (const sk of sortKeys) expect(partitionIndexOf(config, compoundKey(pk, sk))).toBe(home);
      }),
      { numRuns: 500 },
    );
    // And the partition keys themselves spread (the hash is of the partition key, not constant).
    const homes = new Set(Array.from({ length: 200 }, (_, i) => partitionIndexOf(config, `user${i}`)));
    expect(homes.size).toBeGreaterThan(scheme === 'range' ? 0 : 8);
  });

  it('a range split point is a partition key: no partition key is cut in two', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(part, fc.option(part)), { minLength: 2, maxLength: 60 }),
        fc.integer({ min: 1, max: 40 }),
        (pairs, limit) => {
          const keys = [...new Set(pairs.map(([pk, sk]) => (sk === null ? pk : compoundKey(pk, sk))))].sort(
            jsOrder,
          );
          const at = splitPoint(keys, limit);
          if (at === null) return;
          const pkOf = (k: string) => splitCompoundKey(k)?.partitionKey ?? k;
          expect(at > pkOf(keys[0] as string)).toBe(true);
          // Every key of one partition key is on one side of the split.
          for (const key of keys) {
            const left = key < at;
            for (const peer of keys) if (pkOf(peer) === pkOf(key)) expect(peer < at).toBe(left);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
