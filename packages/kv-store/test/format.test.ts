// FORMAT.md's examples are fixtures: the bytes the code writes must equal the documented ones
// byte for byte, so encoder, decoder and document cannot drift apart together.
import { formatFixtures, hex } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeCommand } from '../src/store/command.js';
import { decodeEntry, encodeEntry } from '../src/store/layout.js';
import { decodeSnapshot, SnapshotWriter } from '../src/store/snapshot.js';

const { fixture, fixtureBytes } = formatFixtures(new URL('../FORMAT.md', import.meta.url));
const text = (s: string) => new TextEncoder().encode(s);
const entry = { modRevision: 9, createRevision: 4, writes: 2, value: text('v1') };

describe('FORMAT.md examples, byte for byte', () => {
  it('§1 a conditional put with a session', () => {
    const command = {
      op: 'put',
      key: text('k'),
      value: text('v1'),
      condition: { kind: 'version', version: 7 },
      session: { clientId: 'c1', seq: 300 },
    } as const;
    expect(hex(encodeCommand(command))).toBe(fixture('command-put'));
    expect(decodeCommand(fixtureBytes('command-put'))).toEqual(command);
  });

  it('§1 an unconditional delete without a session', () => {
    const command = { op: 'delete', key: text('k'), condition: { kind: 'none' } } as const;
    expect(hex(encodeCommand(command))).toBe(fixture('command-delete'));
  });

  it('§2 an entry record', () => {
    expect(hex(encodeEntry(entry))).toBe(fixture('entry'));
    expect(decodeEntry(fixtureBytes('entry'))).toEqual(entry);
  });

  it('§3 a snapshot image with one data record', () => {
    const writer = new SnapshotWriter({ appliedIndex: 12, appliedTerm: 3, revision: 9 });
    writer.add({ kind: 1, key: text('k'), value: encodeEntry(entry) });
    const image = writer.finish();
    expect(hex(image)).toBe(fixture('snapshot'));
    expect(decodeSnapshot(image).meta).toMatchObject({ appliedIndex: 12, appliedTerm: 3, revision: 9 });
  });
});
