// FORMAT.md's example run is a fixture: the bytes encodeRun writes must equal the documented
// ones byte for byte, and decodeRun must read them back, so code and document cannot drift.
import { formatFixtures, hex } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { decodeRun, encodeRun } from '../src/runs.js';

const { fixture, fixtureBytes } = formatFixtures(new URL('../FORMAT.md', import.meta.url));

describe('FORMAT.md examples, byte for byte', () => {
  const pairs = [
    ['a', '1'],
    ['bé', '22'],
  ] as const;

  it('a sorted run of two pairs', () => {
    expect(hex(encodeRun(pairs))).toBe(fixture('run'));
    expect([...decodeRun(Buffer.from(fixtureBytes('run')))]).toEqual(pairs);
  });

  it('a run cut inside a record is refused, not read short', () => {
    const whole = Buffer.from(fixtureBytes('run'));
    expect(() => [...decodeRun(whole.subarray(0, whole.length - 1))]).toThrow(/truncated run: value/);
  });
});
