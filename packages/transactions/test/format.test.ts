// FORMAT.md's examples are fixtures: the bytes the code writes must equal the documented ones
// byte for byte, so encoder, decoder and document cannot drift apart together.
import { formatFixtures, hex } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { decodeWalRecord, encodeWalRecord, type WalRecord } from '../src/engine/wal-record.js';

const { fixture, fixtureBytes } = formatFixtures(new URL('../FORMAT.md', import.meta.url));

describe('FORMAT.md examples, byte for byte', () => {
  it.each<[string, WalRecord]>([
    [
      'wal-commit',
      {
        type: 'commit',
        txId: 7,
        writes: [
          { table: 't', key: '1', row: { id: 1, n: 'é' } },
          { table: 't', key: '"x"', row: null },
        ],
      },
    ],
    ['wal-commit-prepared', { type: 'commit-prepared', gid: 'c-e2-3' }],
  ])('the WAL record %s', (name, record) => {
    expect(hex(encodeWalRecord(record))).toBe(fixture(name));
    const bytes = fixtureBytes(name);
    expect(decodeWalRecord(bytes)).toEqual(record);
  });
});
