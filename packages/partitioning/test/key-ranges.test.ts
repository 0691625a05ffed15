import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  findRange,
  initialRanges,
  type KeyRange,
  mergeRanges,
  rangeContains,
  rangesCoverAll,
  splitRanges,
} from '../src/core/key-ranges.js';

describe('key ranges: split and merge keep the key space covered', () => {
  it('pre-split ranges cover everything and find every key', () => {
    const ranges = initialRanges(16);
    expect(rangesCoverAll(ranges)).toBe(true);
    expect(findRange(ranges, '')).toBe(0);
    expect(findRange(ranges, '\u00ff\u00ff')).toBe(15);
    expect(rangeContains(ranges[findRange(ranges, 'user:1')] as KeyRange, 'user:1')).toBe(true);
  });

  it('any sequence of splits and merges leaves sorted, contiguous ranges that hold each key exactly once', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ split: fc.string({ minLength: 1, maxLength: 4 }) }),
            fc.record({ merge: fc.nat() }),
          ),
          {
            maxLength: 40,
          },
        ),
        fc.array(fc.string({ maxLength: 5 }), { minLength: 1, maxLength: 20 }),
        (steps, keys) => {
          let ranges = initialRanges(4);
          for (const step of steps) {
            if ('split' in step) {
              const i = findRange(ranges, step.split);
              const r = ranges[i] as KeyRange;
              if (step.split > r.start) ranges = splitRanges(ranges, i, step.split);
            } else if (ranges.length > 1) {
              ranges = mergeRanges(ranges, step.merge % (ranges.length - 1));
            }
            expect(rangesCoverAll(ranges)).toBe(true);
          }
          for (const key of keys) {
            const holders = ranges.filter((r) => rangeContains(r, key));
            expect(holders.length).toBe(1);
            expect(ranges[findRange(ranges, key)]).toBe(holders[0]);
          }
        },
      ),
    );
  });
});
