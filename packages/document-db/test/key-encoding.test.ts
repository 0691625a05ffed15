import { Binary, Decimal128, Long, MaxKey, MinKey, ObjectId, Timestamp } from 'bson';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareBytes, encodeValue } from '../src/core/key-encoding.js';
import { compareValues } from '../src/core/values.js';
import { RUNS, value } from './support/arbitraries.js';

const sign = (n: number) => Math.sign(n);

const bsonValue = fc.oneof(
  value,
  fc.double(),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.date({ noInvalidDate: true }),
  fc.uint8Array({ maxLength: 12, minLength: 12 }).map((b) => new ObjectId(b)),
  fc.uint8Array({ maxLength: 4 }).map((b) => new Binary(b)),
  fc.boolean(),
  fc.integer().map((n) => Long.fromNumber(n)),
  fc.tuple(fc.nat(), fc.nat()).map(([t, i]) => new Timestamp({ t, i })),
  fc.constantFrom(new MinKey(), new MaxKey()),
);

describe('order-preserving key encoding', () => {
  it('byte order of encodings equals BSON comparison order, ascending and descending', () => {
    fc.assert(
      fc.property(bsonValue, bsonValue, (a, b) => {
        const expected = compareValues(a, b);
        expect(sign(compareBytes(encodeValue(a), encodeValue(b)))).toBe(expected);
        expect(sign(compareBytes(encodeValue(a, -1), encodeValue(b, -1)))).toBe(-expected || 0);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('numeric types compare across representations (int, double, Long, Decimal128)', () => {
    expect(compareBytes(encodeValue(Long.fromNumber(5)), encodeValue(5))).toBe(0);
    expect(compareBytes(encodeValue(Decimal128.fromString('2.5')), encodeValue(2.5))).toBe(0);
    expect(compareBytes(encodeValue(-0), encodeValue(0))).toBe(0);
    expect(sign(compareBytes(encodeValue(Number.NaN), encodeValue(-Infinity)))).toBe(-1);
  });
});
