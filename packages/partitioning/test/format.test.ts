// FORMAT.md's examples are fixtures: the keys and record bytes the code writes must equal the
// documented ones, so code and document cannot drift apart together.
import { formatFixtures, hex } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { compoundKey } from '../src/core/index.js';
import { builtKey, Layout, localIndexKey, metaKey, outboxKey, sealKey } from '../src/data/layout.js';
import { decodeRecord, encodeRecord } from '../src/data/record.js';

const { fixture, fixtureLines, fixtureBytes } = formatFixtures(new URL('../FORMAT.md', import.meta.url));

describe('FORMAT.md examples', () => {
  it('the keys of partition 26, byte for byte', () => {
    const keys = fixtureLines('keys').map((k) => k.replaceAll('\\0', '\u0000'));
    expect([
      new Layout(() => 'hash').dataKey(26, 'user:42'),
      new Layout(() => 'range').dataKey(26, 'user:42'),
      metaKey(26),
      localIndexKey(26, 'by-city', 'paris', 'user:42'),
      outboxKey(7),
      sealKey(26),
      builtKey('by-city', 26),
    ]).toEqual(keys);
  });

  it('a record: varint version, then the value', () => {
    const documented = fixture('record');
    const value = new TextEncoder().encode('v1');
    expect(hex(encodeRecord(300, value))).toBe(documented);
    const decoded = decodeRecord(fixtureBytes('record'));
    expect(decoded.version).toBe(300);
    expect(Buffer.from(decoded.value)).toEqual(Buffer.from(value));
  });

  it('a compound key: partition key, U+0000, sort key, after the partition prefix', () => {
    const key = new Layout(() => 'hash').dataKey(26, compoundKey('user42', '2026-01-05'));
    expect(hex(Buffer.from(key, 'utf8'))).toBe(fixture('compound'));
  });
});
