// Reading FORMAT.md's byte examples: the words of the named block only, comments dropped, and
// hex / fromHex spelling bytes the way the blocks do.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { formatFixtures, fromHex, hex } from '../src/format-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'format-fixture-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const path = join(dir, 'FORMAT.md');
writeFileSync(
  path,
  [
    '# A format',
    '',
    '<!-- fixture: pair -->',
    '```text',
    '02 00     # length 2, little-endian',
    '',
    '6b   ff   # "k", then 0xff',
    '```',
    '',
    '<!-- fixture: keys -->',
    '```text',
    'h:001a:user:42   # a data key',
    '  m:26',
    '```',
    '',
    '```text',
    '99 99',
    '```',
  ].join('\n'),
);

describe('formatFixtures', () => {
  const { fixture, fixtureLines, fixtureBytes } = formatFixtures(pathToFileURL(path));

  it('reads the named block: comments dropped, words joined by one space', () => {
    expect(fixture('pair')).toBe('02 00 6b ff');
    expect(fixtureLines('pair')).toEqual(['02 00', '6b ff']);
    expect(fixtureLines('keys')).toEqual(['h:001a:user:42', 'm:26']);
    expect(fixtureBytes('pair')).toEqual(Uint8Array.of(0x02, 0x00, 0x6b, 0xff));
    expect(formatFixtures(path).fixture('keys')).toBe('h:001a:user:42 m:26');
  });

  it('throws for a block that is not there, or bytes that are not hex', () => {
    expect(() => fixture('pai')).toThrow('FORMAT.md has no fixture pai');
    expect(() => fixtureBytes('keys')).toThrow(/not a hex byte: "h:001a:user:42"/);
  });
});

describe('hex and fromHex', () => {
  it('spell bytes as FORMAT.md does, and back', () => {
    expect(hex(Uint8Array.of(0x0a, 0x1b, 0xff))).toBe('0a 1b ff');
    expect(hex(new Uint8Array(0))).toBe('');
    expect(fromHex('0a 1B\n ff')).toEqual(Uint8Array.of(0x0a, 0x1b, 0xff));
    expect(fromHex('')).toEqual(new Uint8Array(0));
    expect(() => fromHex('0a 1')).toThrow(/not a hex byte: "1"/);
  });
});
