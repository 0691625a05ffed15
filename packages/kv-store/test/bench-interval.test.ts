// The bench's confidence interval of the median (bench/interval.ts): the order statistics it
// picks and the confidence it claims, checked against the binomial sums worked by hand.
import { describe, expect, it } from 'vitest';
import { medianInterval } from '../bench/interval.js';

describe('medianInterval', () => {
  it('gives min..max at 93.75 % for five rounds (1 - 2/32)', () => {
    expect(medianInterval([5, 1, 4, 2, 3])).toEqual({ median: 3, low: 1, high: 5, confidence: 1 - 2 / 32 });
  });

  it('narrows to the 2nd smallest and 2nd largest for ten rounds (1 - 2 * 11/1024 >= 0.9)', () => {
    const m = medianInterval([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(m).toMatchObject({ median: 5.5, low: 2, high: 9 });
    expect(m.confidence).toBeCloseTo(1 - (2 * 11) / 1024, 12);
  });

  it('claims what it can for too few rounds, and nothing for one', () => {
    expect(medianInterval([2, 1, 3])).toEqual({ median: 2, low: 1, high: 3, confidence: 0.75 });
    expect(medianInterval([7])).toEqual({ median: 7, low: 7, high: 7, confidence: 0 });
    expect(Number.isNaN(medianInterval([]).median)).toBe(true);
  });
});
