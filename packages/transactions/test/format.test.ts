// FORMAT.md's examples are fixtures: the bytes the code writes must equal the documented ones
// byte for byte, so encoder, decoder and document cannot drift apart together.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeWalRecord, encodeWalRecord, type WalRecord } from '../src/engine/wal-record.js';

const doc = readFileSync(new URL('../FORMAT.md', import.meta.url), 'utf8');
/** The bytes of the fenced block after `<!-- fixture: name -->`; `#` starts a comment. */
const fixture = (name: string): string => {
  const block = new RegExp(`<!-- fixture: ${name} -->\\n\`\`\`text\\n([\\s\\S]*?)\`\`\``).exec(doc)?.[1];
  if (block === undefined) throw new Error(`FORMAT.md has no fixture ${name}`);
  return block.replace(/#.*$/gm, '').split(/\s+/).filter(Boolean).join(' ');
};
const hex = (bytes: Uint8Array) =>
  Buffer.from(bytes)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');

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
    const bytes = new Uint8Array(Buffer.from(fixture(name).replaceAll(' ', ''), 'hex'));
    expect(decodeWalRecord(bytes)).toEqual(record);
  });
});
