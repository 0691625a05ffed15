// FORMAT.md's WAL examples are fixtures: the bytes the encoders write must equal the documented
// ones byte for byte and decode back, so code and document cannot drift apart together.
import { formatFixtures, hex } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { decodeChunk } from '../src/core/chunk.js';
import { encodeDecimalChunk } from '../src/core/decimal-chunk.js';
import { decodeWalRecord, encodeSamplesRecord, encodeSeriesRecord } from '../src/core/wal-record.js';

const { fixture, fixtureBytes } = formatFixtures(new URL('../FORMAT.md', import.meta.url));

describe('FORMAT.md WAL records, byte for byte', () => {
  it('SERIES: up{job="kv"} as id 5', () => {
    const labels: [string, string][] = [
      ['__name__', 'up'],
      ['job', 'kv'],
    ];
    expect(hex(encodeSeriesRecord(5, labels))).toBe(fixture('wal-series'));
    expect(decodeWalRecord(fixtureBytes('wal-series'))).toEqual({ kind: 'series', id: 5, labels });
  });

  it('SAMPLES: a value and a staleness marker', () => {
    const samples = [
      { id: 5, t: 1000, value: 1 },
      { id: 5, t: 2000, value: Number.NaN, stale: true },
    ];
    expect(hex(encodeSamplesRecord(samples))).toBe(fixture('wal-samples'));
    const decoded = decodeWalRecord(fixtureBytes('wal-samples'));
    expect(decoded.kind).toBe('samples');
    const [first, second] = (
      decoded as { samples: { id: number; t: number; value: number; stale?: boolean }[] }
    ).samples;
    expect(first).toMatchObject({ id: 5, t: 1000, value: 1 });
    expect(second).toMatchObject({ id: 5, t: 2000, stale: true });
  });
});

describe('FORMAT.md decimal chunk, byte for byte', () => {
  it('four tenths at 15 s steps', () => {
    const timestamps = [15_000, 30_000, 45_000, 60_000];
    const values = [0.5, 0.7, 0.6, 0.9];
    expect(hex(encodeDecimalChunk(timestamps, values)!)).toBe(fixture('decimal-chunk'));
    expect(decodeChunk(fixtureBytes('decimal-chunk'))).toEqual({ timestamps, values, stale: null });
  });
});
