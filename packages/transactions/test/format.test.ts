// FORMAT.md's examples are fixtures: the bytes the code writes must equal the documented ones
// byte for byte, so encoder, decoder and document cannot drift apart together.
import { formatFixtures, hex } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { decodeCheckpointFile, encodeCheckpointFile } from '../src/durability/checkpoint.js';
import type { CheckpointImage } from '../src/engine/checkpoint-image.js';
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

describe('FORMAT.md checkpoint example, byte for byte', () => {
  it('a checkpoint file: framed like a log record, JSON image inside', () => {
    const image: CheckpointImage = {
      walIndex: 42,
      tables: [{ name: 't', primaryKey: 'id', rows: [{ id: 1, n: 'é' }] }],
      prepared: [{ gid: 'c-e2-3', writes: [{ table: 't', key: '2', row: { id: 2 } }] }],
    };
    expect(hex(encodeCheckpointFile(image))).toBe(fixture('checkpoint'));
    expect(decodeCheckpointFile('checkpoint', fixtureBytes('checkpoint'))).toEqual(image);
  });
});
