// Time-range seeking: a query over a narrow range opens only the chunks that overlap it (in
// blocks and in the head) and stops decoding a chunk at the first sample past the range.
// The store's `decoded` counters prove it: a select that decoded whole chunks, or chunks
// outside the range, would count thousands of samples where these tests allow a few dozen.
import { describe, expect, it } from 'vitest';
import { decodeChunk } from '../src/core/chunk.js';
import { SAMPLES_PER_CHUNK } from '../src/core/gorilla.js';
import { labelsFromRecord } from '../src/core/labels.js';
import { newMatcher } from '../src/core/matchers.js';
import { MemoryTsdb } from '../src/core/tsdb.js';

const STEP = 15_000;
const CHUNKS = 20;
const N = SAMPLES_PER_CHUNK * CHUNKS;

function build(): MemoryTsdb {
  const db = new MemoryTsdb();
  const labels = labelsFromRecord({ __name__: 'seek_test', job: 'x' });
  for (let i = 0; i < N; i++) db.append(labels, i * STEP, i % 7 === 0 ? i / 3 : i);
  // The first half of the chunks moves into a block; the rest stays in the head.
  const cut = db.cutBlock((N / 2) * STEP);
  if (!cut) throw new Error('no block cut');
  db.addBlock('b', cut.block);
  return db;
}

const sel = [newMatcher('__name__', '=', 'seek_test')];

describe('chunk time-range seeking', () => {
  it('decodes a chunk only up to the first sample past the range', () => {
    const db = new MemoryTsdb();
    const labels = labelsFromRecord({ __name__: 'x' });
    let id = -1;
    for (let i = 0; i < 100; i++) id = db.append(labels, i * STEP, i).id;
    const chunk = db.head.chunks(id, 0, Number.POSITIVE_INFINITY)[0];
    if (!chunk) throw new Error('no chunk');
    const part = decodeChunk(chunk.bytes, 10 * STEP);
    expect(part.timestamps).toEqual(Array.from({ length: 11 }, (_, i) => i * STEP));
    expect(part.values).toEqual(Array.from({ length: 11 }, (_, i) => i));
    expect(decodeChunk(chunk.bytes, -1).timestamps).toEqual([]);
    expect(decodeChunk(chunk.bytes).timestamps.length).toBe(100);
  });

  it.each([
    ['in a block', 3],
    ['in the head', 15],
  ])('a narrow range %s opens one chunk and decodes only up to the range', (_where, chunkNo) => {
    const db = build();
    const first = chunkNo * SAMPLES_PER_CHUNK + 10;
    const minT = first * STEP;
    const maxT = (first + 4) * STEP;
    const [s] = db.select(sel, minT, maxT);
    expect(s?.timestamps).toEqual([0, 1, 2, 3, 4].map((k) => (first + k) * STEP));
    expect(db.decoded.chunks).toBe(1);
    // From the chunk's start to one past maxT: 15 samples, never the chunk's 120 nor the store's 2400.
    expect(db.decoded.samples).toBeLessThanOrEqual(15);
  });

  it('a range across a chunk boundary opens just the two chunks; a full range matches a plain decode', () => {
    const db = build();
    const boundary = 5 * SAMPLES_PER_CHUNK;
    const [s] = db.select(sel, (boundary - 2) * STEP, (boundary + 1) * STEP);
    expect(s?.timestamps.length).toBe(4);
    expect(db.decoded.chunks).toBe(2);
    expect(db.decoded.samples).toBeLessThanOrEqual(SAMPLES_PER_CHUNK + 2);

    const [all] = db.select(sel, 0, N * STEP);
    expect(all?.timestamps.length).toBe(N);
    expect(all?.values[7 * 300]).toBe(700);
    expect(all?.values[N - 1]).toBe(N - 1);
  });

  it('a range outside every chunk opens none', () => {
    const db = build();
    expect(db.select(sel, N * STEP + 1, N * STEP + 10 * STEP)).toEqual([]);
    expect(db.select(sel, -10 * STEP, -1)).toEqual([]);
    expect(db.decoded).toEqual({ chunks: 0, samples: 0 });
  });

  it('selectLatest: the newest sample per series, decoding nothing at or after the head; the same as select otherwise', () => {
    const db = build();
    const marker = labelsFromRecord({ __name__: 'seek_test', job: 'gone' });
    db.append(marker, 5 * STEP, 1);
    db.append(marker, 6 * STEP, Number.NaN, true); // a staleness marker is the newest sample
    const lastOf = (minT: number, maxT: number) =>
      db.select(sel, minT, maxT).map((s) => {
        const i = s.timestamps.length - 1;
        return { t: s.timestamps[i], v: s.values[i], stale: s.stale?.[i] === 1 };
      });
    const latest = (minT: number, maxT: number) =>
      db.selectLatest(sel, minT, maxT).map((s) => {
        expect(s.timestamps).toHaveLength(1);
        return { t: s.timestamps[0], v: s.values[0], stale: s.stale?.[0] === 1 };
      });
    // At or after every series' newest sample: nothing decoded.
    expect(latest(0, (N + 5) * STEP)).toEqual([
      { t: (N - 1) * STEP, v: N - 1, stale: false },
      { t: 6 * STEP, v: Number.NaN, stale: true },
    ]);
    expect(db.decoded).toEqual({ chunks: 0, samples: 0 });
    // Windows that end inside the data (head, block, before a series' newest) or leave it out.
    for (const [minT, maxT] of [
      [0, (N - 2) * STEP],
      [(N / 4) * STEP, (N / 4 + 3) * STEP],
      [5 * STEP, 5 * STEP],
      [N * STEP, (N + 1) * STEP],
      [-2 * STEP, -STEP],
    ] as const) {
      expect(latest(minT, maxT)).toEqual(lastOf(minT, maxT));
    }
  });

  it('selectLatest before the newest sample opens one chunk per series, however many the window spans', () => {
    const db = build();
    // A 10-chunk window ending inside the head's data: only the chunk holding maxT is read.
    const maxT = (N - 30) * STEP;
    const [s] = db.selectLatest(sel, maxT - 10 * SAMPLES_PER_CHUNK * STEP, maxT);
    expect(s?.timestamps).toEqual([maxT]);
    expect(s?.values).toEqual([N - 30]);
    expect(db.decoded.chunks).toBe(1);
    // The newest chunk starting by maxT holds nothing in [minT, maxT]: absent, no older chunk read.
    const gap = new MemoryTsdb();
    const labels = labelsFromRecord({ __name__: 'seek_test' });
    gap.append(labels, 0, 1);
    gap.append(labels, 100 * STEP, 2);
    expect(gap.selectLatest(sel, 10 * STEP, 50 * STEP)).toEqual([]);
    expect(gap.selectLatest(sel, 0, 50 * STEP).map((x) => x.values)).toEqual([[1]]);
  });
});
