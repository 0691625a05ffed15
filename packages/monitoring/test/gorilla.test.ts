import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeChunk } from '../src/core/chunk.js';
import { ChunkEncoder } from '../src/core/gorilla.js';
import { alignedScrapeTime } from '../src/core/scrape-samples.js';

/** A sample to encode: a value, or the staleness marker. */
type In = [t: number, v: number | 'stale'];

function roundTrip(samples: In[]): { t: number[]; v: (number | 'stale')[]; bytes: number } {
  const enc = new ChunkEncoder();
  for (const [t, v] of samples) enc.append(t, v === 'stale' ? Number.NaN : v, v === 'stale');
  const bytes = enc.bytes();
  const decoded = decodeChunk(bytes);
  return {
    t: decoded.timestamps,
    v: decoded.values.map((x, i) => (decoded.stale?.[i] === 1 ? 'stale' : x)),
    bytes: bytes.length,
  };
}

// The staleness marker is in the mix: it travels as a flag beside the value (special-values.ts),
// so the property holds however V8 treats NaN payloads (the next describe shows it does not
// keep them).
const specialValue = fc.constantFrom<number | 'stale'>(
  Number.NaN,
  'stale',
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  0,
  -0,
  Number.MIN_VALUE,
  Number.MAX_VALUE,
);
const value = fc.oneof(fc.double(), specialValue, fc.integer({ min: -1000, max: 1000 }));

describe('Gorilla chunks', () => {
  it('round-trip any increasing timestamps, any float values and staleness markers (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 45), max: 2 ** 45 }),
        fc.array(fc.tuple(fc.oneof(fc.constant(15_000), fc.integer({ min: 0, max: 2 ** 40 })), value), {
          minLength: 1,
          maxLength: 200,
        }),
        (start, steps) => {
          let t = start;
          const samples: In[] = steps.map(([dt, v]) => {
            t += dt;
            return [t, v];
          });
          const out = roundTrip(samples);
          expect(out.t).toEqual(samples.map((s) => s[0]));
          for (let i = 0; i < samples.length; i++) {
            // Object.is: NaN equals NaN, 0 differs from -0, 'stale' only equals 'stale'.
            if (!Object.is(out.v[i], samples[i]![1])) {
              throw new Error(`value ${i}: ${out.v[i]} != ${samples[i]![1]}`);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps the staleness marker apart from an ordinary NaN, in Prometheus bit pattern', () => {
    const enc = new ChunkEncoder();
    enc.append(1000, Number.NaN, true);
    const bytes = enc.bytes();
    // 3-byte header (encoding, count), 8-byte timestamp, then the value's 8 bytes: 0x7ff0000000000002.
    expect(Buffer.from(bytes.subarray(11, 19)).toString('hex')).toBe('7ff0000000000002');
    const out = roundTrip([
      [0, Number.NaN],
      [15_000, 'stale'],
      [30_000, Number.NaN],
    ]);
    expect(out.v).toEqual([Number.NaN, 'stale', Number.NaN]);
  });

  it('finds staleness markers after the decoder is optimized (the bug a NaN payload had)', () => {
    // 120-sample chunks, every 7th sample stale, decoded 3,000 times: TurboFan optimizes
    // decodeChunk long before the end, which is when a payload kept in number[] was lost.
    const enc = new ChunkEncoder();
    for (let i = 0; i < 120; i++) enc.append(i * 15_000, i % 5 === 0 ? Number.NaN : i, i % 7 === 3);
    const bytes = enc.bytes();
    for (let round = 0; round < 3000; round++) {
      const d = decodeChunk(bytes);
      for (let i = 0; i < 120; i++) {
        if ((d.stale?.[i] === 1) !== (i % 7 === 3)) throw new Error(`round ${round}, sample ${i}`);
      }
    }
  });
});

describe('V8 and NaN payloads (why staleness is a flag)', () => {
  // Prometheus's marker, built from bits; what V8 keeps of it depends on where it is stored.
  const view = new DataView(new ArrayBuffer(8));
  const marker = (): number => {
    view.setUint32(0, 0x7ff00000);
    view.setUint32(4, 2);
    return view.getFloat64(0);
  };
  const bits = (x: number): string => {
    view.setFloat64(0, x);
    return view.getBigUint64(0).toString(16);
  };
  function fill(store: number[] | Float64Array): void {
    for (let i = 0; i < store.length; i++) store[i] = i % 3 === 0 ? marker() : i + 0.5;
  }

  it('loses the payload in a number[] once optimized, keeps it in a Float64Array here', () => {
    const seenArray = new Set<string>();
    const seenTyped = new Set<string>();
    for (let round = 0; round < 20_000; round++) {
      const a: number[] = new Array(30);
      fill(a);
      seenArray.add(bits(a[3]!));
      const f = new Float64Array(30);
      fill(f);
      seenTyped.add(bits(f[3]!));
    }
    // Measured on Node 20 (V8 11.3): the plain array shows 7ff8000000000002 (quiet bit set)
    // and, after optimization, 7ff8000000000000 (payload gone). The typed array kept the exact
    // bits here, but ECMAScript lets an engine store any NaN there too (SetValueInBuffer), so
    // the code relies on neither.
    expect([...seenArray].some((b) => b !== '7ff0000000000002')).toBe(true);
    console.log(`number[]: ${[...seenArray].join(', ')} | Float64Array: ${[...seenTyped].join(', ')}`);
  });
});

describe('Gorilla chunks: counters and sizes', () => {
  it('round-trips counter resets and irregular scrape intervals', () => {
    const samples: In[] = [];
    let t = 1_700_000_000_000;
    let c = 0;
    for (let i = 0; i < 120; i++) {
      t += i % 17 === 0 ? 61_234 : 15_000 + (i % 3) - 1;
      c = i === 60 ? 3 : c + (i % 5);
      samples.push([t, c]);
    }
    const out = roundTrip(samples);
    expect(out.t).toEqual(samples.map((s) => s[0]));
    expect(out.v).toEqual(samples.map((s) => s[1]));
  });

  it('spends about one bit per sample on regular timestamps and a constant value', () => {
    const samples: In[] = Array.from({ length: 120 }, (_, i): In => [i * 15_000, 42]);
    const out = roundTrip(samples);
    // Header + first sample = 19 bytes, then 2 bits per sample, then the 17-bit first delta.
    expect(out.bytes).toBeLessThanOrEqual(19 + Math.ceil((119 * 2 + 20) / 8));
  });
});

describe('Gorilla bytes per sample (the paper reports 1.37)', () => {
  it('measures realistic series: counters, gauges with few digits, jittered 15 s scrapes', () => {
    let rng = 12345;
    const next = () => (rng = (Math.imul(rng, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const kinds: Record<string, (i: number, prev: number) => number> = {
      'idle counter': (_i, p) => p,
      'busy counter': (_i, p) => p + Math.floor(next() * 50),
      'gauge (2 digits)': () => Math.round(next() * 10000) / 100,
      'float gauge': () => next(),
    };
    const results: Record<string, number> = {};
    let totalBytes = 0;
    let totalSamples = 0;
    for (const [kind, step] of Object.entries(kinds)) {
      let bytes = 0;
      let samples = 0;
      for (let series = 0; series < 20; series++) {
        const enc = new ChunkEncoder();
        let t = 1_700_000_000_000 + series;
        let v = 0;
        for (let i = 0; i < 120; i++) {
          // Most scrapes land exactly on time; a few are a millisecond or two late.
          t += next() < 0.9 ? 15_000 : 15_000 + Math.floor(next() * 4) - 2;
          v = step(i, v);
          enc.append(t, v);
        }
        bytes += enc.bytes().length;
        samples += 120;
      }
      results[kind] = bytes / samples;
      totalBytes += bytes;
      totalSamples += samples;
    }
    console.log(
      'bytes/sample:',
      Object.entries(results)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(', '),
      `| mixed ${(totalBytes / totalSamples).toFixed(2)}`,
    );
    expect(results['idle counter']).toBeLessThan(1);
    expect(results['gauge (2 digits)']).toBeGreaterThan(results['busy counter']!);
    expect(totalBytes / totalSamples).toBeLessThan(5);
  });
});

describe('scrape timestamps aligned within 2 ms (Prometheus 2.41+)', () => {
  it('stores a scrape within the tolerance at its slot, one further off as it came', () => {
    expect(alignedScrapeTime(null, 15_000, 1_003)).toBe(1_003);
    expect(alignedScrapeTime(1_000, 15_000, 16_002)).toBe(16_000);
    expect(alignedScrapeTime(1_000, 15_000, 15_998)).toBe(16_000);
    expect(alignedScrapeTime(1_000, 15_000, 16_003)).toBe(16_003);
    expect(alignedScrapeTime(1_000, 15_000, 15_997)).toBe(15_997);
  });

  it('turns a steady series with 0-2 ms of scrape jitter from about 2 into under 0.5 bytes per sample', () => {
    let rng = 99;
    const jitter = () => (rng = (Math.imul(rng, 1103515245) + 12345) >>> 0) % 3;
    const raw = new ChunkEncoder();
    const aligned = new ChunkEncoder();
    let previous: number | null = null;
    for (let i = 0; i < 120; i++) {
      const t = 1_700_000_000_000 + i * 15_000 + jitter();
      raw.append(t, 7);
      previous = alignedScrapeTime(previous, 15_000, t);
      aligned.append(previous, 7);
    }
    const rawPerSample = raw.bytes().length / 120;
    const alignedPerSample = aligned.bytes().length / 120;
    expect(rawPerSample).toBeGreaterThan(1.5);
    expect(alignedPerSample).toBeLessThan(0.5);
  });
});
