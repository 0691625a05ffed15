// FORMAT.md's examples are fixtures: the bytes the code writes must equal the documented ones
// byte for byte, so encoder, decoder and document cannot drift apart together.
import { formatFixtures, hex } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { wrapCommand } from '../src/driver/proposal-tag.js';
import {
  decodeEntryRecord,
  decodeSnapshotFile,
  encodeEntryRecord,
  encodeSnapshotFile,
} from '../src/storage/file-storage.js';

const { fixture, fixtureBytes } = formatFixtures(new URL('../FORMAT.md', import.meta.url));
const text = (s: string) => new TextEncoder().encode(s);

describe('FORMAT.md examples, byte for byte', () => {
  it('a log record of a normal entry proposed on the leader, and of a no-op', () => {
    const normal = { index: 5, term: 300, type: 'normal', data: wrapCommand(text('set')) } as const;
    expect(hex(encodeEntryRecord(normal))).toBe(fixture('entry-normal'));
    expect(decodeEntryRecord(5, fixtureBytes('entry-normal'))).toEqual(normal);
    const noop = { index: 6, term: 3, type: 'noop', data: new Uint8Array(0) } as const;
    expect(hex(encodeEntryRecord(noop))).toBe(fixture('entry-noop'));
    expect(decodeEntryRecord(6, fixtureBytes('entry-noop'))).toEqual(noop);
  });

  it("a forwarded proposal's envelope", () => {
    expect(hex(wrapCommand(text('x'), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9)))).toBe(
      fixture('envelope-forwarded'),
    );
  });

  it('snapshot.bin', () => {
    const snapshot = {
      meta: { index: 2, term: 1, conf: { members: [{ id: 'n1', voter: true }] } },
      data: text('s'),
    };
    expect(hex(encodeSnapshotFile(snapshot))).toBe(fixture('snapshot-file'));
    expect(decodeSnapshotFile('snapshot.bin', fixtureBytes('snapshot-file'))).toEqual(snapshot);
  });
});
