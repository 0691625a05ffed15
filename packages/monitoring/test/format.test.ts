// FORMAT.md's WAL examples are fixtures: the bytes the encoders write must equal the documented
// ones byte for byte and decode back, so code and document cannot drift apart together.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeWalRecord, encodeSamplesRecord, encodeSeriesRecord } from '../src/core/wal-record.js';

const doc = readFileSync(new URL('../FORMAT.md', import.meta.url), 'utf8');
/** The bytes of the fenced block after `<!-- fixture: name -->`; `#` starts a comment. */
const fixture = (name: string): string => {
  const block = new RegExp(`<!-- fixture: ${name} -->\\n\`\`\`text\\n([\\s\\S]*?)\`\`\``).exec(doc)?.[1];
  if (block === undefined) throw new Error(`FORMAT.md has no fixture ${name}`);
  return block.replace(/#.*$/gm, '').split(/\s+/).filter(Boolean).join(' ');
};
const bytesOf = (name: string) => new Uint8Array(Buffer.from(fixture(name).replaceAll(' ', ''), 'hex'));
const hex = (bytes: Uint8Array) =>
  Buffer.from(bytes)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');

describe('FORMAT.md WAL records, byte for byte', () => {
  it('SERIES: up{job="kv"} as id 5', () => {
    const labels: [string, string][] = [
      ['__name__', 'up'],
      ['job', 'kv'],
    ];
    expect(hex(encodeSeriesRecord(5, labels))).toBe(fixture('wal-series'));
    expect(decodeWalRecord(bytesOf('wal-series'))).toEqual({ kind: 'series', id: 5, labels });
  });

  it('SAMPLES: a value and a staleness marker', () => {
    const samples = [
      { id: 5, t: 1000, value: 1 },
      { id: 5, t: 2000, value: Number.NaN, stale: true },
    ];
    expect(hex(encodeSamplesRecord(samples))).toBe(fixture('wal-samples'));
    const decoded = decodeWalRecord(bytesOf('wal-samples'));
    expect(decoded.kind).toBe('samples');
    const [first, second] = (
      decoded as { samples: { id: number; t: number; value: number; stale?: boolean }[] }
    ).samples;
    expect(first).toMatchObject({ id: 5, t: 1000, value: 1 });
    expect(second).toMatchObject({ id: 5, t: 2000, stale: true });
  });
});
