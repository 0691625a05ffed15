import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lowerBound, upperBound } from '../src/core/index.js';

describe('lowerBound and upperBound on an ascending array', () => {
  it('count the values below and at most x, duplicates and ends included', () => {
    const a = [1, 2, 2, 2, 5];
    expect([0, 1, 2, 3, 5, 6].map((x) => lowerBound(a, x))).toEqual([0, 0, 1, 4, 4, 5]);
    expect([0, 1, 2, 3, 5, 6].map((x) => upperBound(a, x))).toEqual([0, 1, 4, 4, 5, 5]);
    expect(lowerBound([], 1)).toBe(0);
    expect(upperBound(new Float64Array([0.5, 1.5]), 1)).toBe(1);
  });

  it('agree with a linear count on any sorted array', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -20, max: 20 })), fc.integer({ min: -25, max: 25 }), (xs, x) => {
        const sorted = [...xs].sort((p, q) => p - q);
        expect(lowerBound(sorted, x)).toBe(sorted.filter((v) => v < x).length);
        expect(upperBound(sorted, x)).toBe(sorted.filter((v) => v <= x).length);
      }),
    );
  });
});
