// FORMAT.md's example run is a fixture: the bytes encodeRun writes must equal the documented
// ones byte for byte, and decodeRun must read them back, so code and document cannot drift.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeRun, encodeRun } from '../src/runs.js';

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
  const pairs = [
    ['a', '1'],
    ['bé', '22'],
  ] as const;

  it('a sorted run of two pairs', () => {
    expect(hex(encodeRun(pairs))).toBe(fixture('run'));
    expect([...decodeRun(Buffer.from(fixture('run').replaceAll(' ', ''), 'hex'))]).toEqual(pairs);
  });

  it('a run cut inside a record is refused, not read short', () => {
    const whole = Buffer.from(fixture('run').replaceAll(' ', ''), 'hex');
    expect(() => [...decodeRun(whole.subarray(0, whole.length - 1))]).toThrow(/truncated run: value/);
  });
});
