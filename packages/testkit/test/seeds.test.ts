import { describe, expect, it } from 'vitest';
import { longRun, replaySeed, testSeeds } from '../src/seeds.js';

describe('testSeeds', () => {
  it('runs the short sweep by default, the long one under DDIA_LONG=1, one seed under DDIA_SEED', () => {
    expect(testSeeds({ short: 3, long: 5 }, {})).toEqual([1, 2, 3]);
    expect(testSeeds({ short: 3, long: 5 }, { DDIA_LONG: '1' })).toEqual([1, 2, 3, 4, 5]);
    expect(testSeeds({ short: 3, long: 5 }, { DDIA_SEED: '42', DDIA_LONG: '1' })).toEqual([42]);
    expect(longRun({ DDIA_LONG: '0' })).toBe(false);
    expect(replaySeed({ DDIA_SEED: '' })).toBeNull();
  });

  it('refuses a DDIA_SEED that is not an integer, naming it', () => {
    expect(() => testSeeds({ short: 1, long: 1 }, { DDIA_SEED: 'seven' })).toThrow(/DDIA_SEED.*'seven'/);
  });
});
