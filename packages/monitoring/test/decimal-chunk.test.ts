// Sealed chunks and blocks at rest: the decimal encoding round-trips exactly, sealing never
// changes a sample (whatever the values: NaN, ±Inf, -0, staleness markers fall back to XOR),
// and the bytes go where the bench says they go. Block files: the binary index round-trips,
// format-1 files (JSON index) still open.
import { crc32c, DdiaError } from '@ddia/common/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Block, decodeBlock, encodeBlock } from '../src/core/block-format.js';
import { decodeChunk, sealedBytes } from '../src/core/chunk.js';
import { CHUNK_DECIMAL, encodeDecimalChunk } from '../src/core/decimal-chunk.js';
import { ChunkCorruptError } from '../src/core/errors.js';
import { CHUNK_XOR, ChunkEncoder, SAMPLES_PER_CHUNK } from '../src/core/gorilla.js';
import { labelsFromRecord } from '../src/core/labels.js';
import { newMatcher } from '../src/core/matchers.js';
import { MemoryTsdb } from '../src/core/tsdb.js';

type In = [t: number, v: number | 'stale'];

function xorChunk(samples: readonly In[]): Uint8Array {
  const enc = new ChunkEncoder();
  for (const [t, v] of samples) enc.append(t, v === 'stale' ? Number.NaN : v, v === 'stale');
  return enc.bytes();
}

function samplesOf(bytes: Uint8Array, untilT?: number): In[] {
  const d = decodeChunk(bytes, untilT);
  return d.timestamps.map((t, i) => [t, d.stale?.[i] === 1 ? 'stale' : d.values[i]!]);
}

/** Equal sample by sample, values by Object.is (NaN equals NaN, 0 differs from -0). */
function expectSame(actual: In[], expected: readonly In[]): void {
  expect(actual.map((s) => s[0])).toEqual(expected.map((s) => s[0]));
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i]![1], expected[i]![1]))
      throw new Error(`value ${i}: ${actual[i]![1]} != ${expected[i]![1]}`);
  }
}

const timestamps = (start: number, steps: readonly number[]): number[] => {
  let t = start;
  return steps.map((dt) => (t += dt));
};
const steps = fc.array(
  fc.oneof(
    fc.constant(15_000),
    fc.integer({ min: 14_000, max: 16_000 }),
    fc.integer({ min: 1, max: 2 ** 40 }),
  ),
  { minLength: 1, maxLength: SAMPLES_PER_CHUNK },
);
// One kind per chunk: a chunk mixing 2^50 with 10^-12 has no safe common mantissa, nor do
// differences beyond 2^53 (such chunks stay XOR, which the sealing property covers).
const decimals = fc.oneof(
  fc.array(fc.integer({ min: -(2 ** 50), max: 2 ** 50 })),
  fc.array(fc.integer({ min: -100_000, max: 100_000 }).map((m) => m / 10)),
  fc.array(fc.integer({ min: -(10 ** 9), max: 10 ** 9 }).map((m) => m / 1000)),
  fc.array(fc.integer({ min: 0, max: 99 }).map((m) => m / 1e12)),
);
const anyValue = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }).map((m) => m / 10),
  fc.double(),
  fc.constantFrom<number | 'stale'>(
    Number.NaN,
    'stale',
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    -0,
  ),
);

describe('decimal chunks', () => {
  it('round-trip decimals exactly, whole and up to any time (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 45), max: 2 ** 45 }), steps, decimals, (start, dts, vs) => {
        const ts = timestamps(start, dts);
        const samples: In[] = ts.map((t, i) => [t, vs[i % Math.max(1, vs.length)] ?? 0]);
        const bytes = encodeDecimalChunk(
          ts,
          samples.map((s) => s[1] as number),
        );
        expect(bytes?.[0]).toBe(CHUNK_DECIMAL);
        expectSame(samplesOf(bytes!), samples);
        const cut = ts[Math.floor(ts.length / 2)]!;
        expectSame(
          samplesOf(bytes!, cut),
          samples.filter((s) => s[0] <= cut),
        );
      }),
    );
  });

  it('sealing keeps every sample of any chunk, staleness markers and NaN payloads included (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 45), max: 2 ** 45 }),
        steps,
        fc.array(anyValue),
        (start, dts, vs) => {
          const samples: In[] = timestamps(start, dts).map((t, i) => [
            t,
            vs[i % Math.max(1, vs.length)] ?? 1.5,
          ]);
          const xor = xorChunk(samples);
          const sealed = sealedBytes(xor);
          expect(sealed.length).toBeLessThanOrEqual(xor.length);
          expectSame(samplesOf(sealed), samples);
          expect(decodeChunk(sealed).stale).toEqual(decodeChunk(xor).stale);
        },
      ),
    );
  });

  it('refuses what no decimal of at most 15 places writes exactly: NaN, ±Inf, -0, 1/3, 2^60', () => {
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, -0, 1 / 3, 2 ** 60])
      expect(encodeDecimalChunk([1, 2], [1, v])).toBeNull();
    expect(encodeDecimalChunk([1, 2], [0.1, 1e-15])).not.toBeNull();
    // π's shortest decimal has 15 places: exact, though no smaller than XOR.
    expect(encodeDecimalChunk([1, 2], [Math.PI, 1])).not.toBeNull();
  });

  it('costs what the bench data needs: 0 bits for a regular timestamp, a few for a decimal step', () => {
    let rng = 7;
    const next = () => (rng = (Math.imul(rng, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const n = SAMPLES_PER_CHUNK;
    const regular = Array.from({ length: n }, (_, i) => 1_700_000_000_000 + i * 15_000);
    const jittered = regular.map((t) => t + Math.floor(next() * 2000) - 1000);
    let v = 20;
    const gauge = regular.map(() => (v = Math.round((v + (next() - 0.5)) * 10) / 10));
    const constant = regular.map(() => 7);
    const size = (ts: number[], vs: number[]) => {
      const xor = xorChunk(ts.map((t, i) => [t, vs[i]!]));
      return { xor: xor.length, sealed: sealedBytes(xor).length };
    };
    // A constant series on regular scrapes: header, first sample and two empty frames.
    expect(size(regular, constant).sealed).toBeLessThan(20);
    // A one-decimal random walk: XOR pays ~45 bits a sample, the mantissa's step 4.
    const walk = size(regular, gauge);
    expect(walk.xor / n).toBeGreaterThan(5);
    expect(walk.sealed / n).toBeLessThan(0.75);
    // ±1 s of jitter: 12 bits a timestamp where Gorilla's delta-of-delta takes 16.
    expect(size(jittered, gauge).sealed / n).toBeLessThan(2.3);
  });

  it('refuses damage with ChunkCorruptError: truncation, an unknown encoding', () => {
    const bytes = encodeDecimalChunk([1000, 2000, 3000], [1.5, 2.5, 4])!;
    expect(() => decodeChunk(bytes.subarray(0, bytes.length - 2))).toThrow(ChunkCorruptError);
    const unknown = Uint8Array.from(bytes);
    unknown[0] = 9;
    expect(() => decodeChunk(unknown)).toThrow(ChunkCorruptError);
    // The class common's errorClass builds: named, a DdiaError with the catalogue's code.
    const error = new ChunkCorruptError('chunk 3 is short');
    expect(error).toBeInstanceOf(DdiaError);
    expect([error.name, error.message, error.code]).toEqual([
      'ChunkCorruptError',
      'chunk 3 is short',
      'DDIA_ERR_MONITORING_CHUNK_CORRUPT',
    ]);
    expect(error.toProblem().status).toBe(500);
  });
});

describe('block files', () => {
  function cut(): Block {
    const db = new MemoryTsdb();
    for (let s = 0; s < 3; s++) {
      const labels = labelsFromRecord({ __name__: 'm', instance: `node-${s}`, 'quote"': 'ü\n' });
      for (let i = 0; i < 2 * SAMPLES_PER_CHUNK + 5; i++)
        db.append(labels, -60_000 + i * 15_000, s === 1 ? i / 3 : i);
    }
    return db.cutBlock(Number.POSITIVE_INFINITY)!.block;
  }

  it('round-trip through the binary index: labels, chunk ranges, counts and bytes', () => {
    const block = cut();
    const encodings = block.series.map((s) => s.chunks[0]!.bytes[0]);
    expect(encodings).toEqual([CHUNK_DECIMAL, CHUNK_XOR, CHUNK_DECIMAL]);
    const again = decodeBlock(encodeBlock(block));
    expect(again.minT).toBe(-60_000);
    expect(again).toEqual(block);
    const db = new MemoryTsdb();
    db.addBlock('b', again);
    const [s] = db.select([newMatcher('instance', '=', 'node-1')], -60_000, 0);
    expect(s?.values).toEqual([0, 1 / 3, 2 / 3, 1, 4 / 3]);
  });

  it('opens a format-1 file (JSON index, chunks without an encoding byte)', () => {
    const block = cut();
    const chunks: Uint8Array[] = [];
    let offset = 0;
    const series = block.series.map((s) => ({
      labels: s.labels,
      chunks: s.chunks.map((c) => {
        const xor = decodeChunk(c.bytes);
        const v1 = xorChunk(xor.timestamps.map((t, i) => [t, xor.values[i]!])).subarray(1);
        chunks.push(v1);
        offset += v1.length;
        return [c.minT, c.maxT, c.count, offset - v1.length, v1.length];
      }),
    }));
    const index = new TextEncoder().encode(JSON.stringify({ minT: block.minT, maxT: block.maxT, series }));
    const body = new Uint8Array(12 + index.length + offset + 4);
    body.set(new TextEncoder().encode('DDIATSB1'));
    new DataView(body.buffer).setUint32(8, index.length);
    body.set(index, 12);
    let at = 12 + index.length;
    for (const c of chunks) {
      body.set(c, at);
      at += c.length;
    }
    new DataView(body.buffer).setUint32(at, crc32c(body.subarray(0, at)));
    const old = decodeBlock(body);
    expect(old.series.map((s) => s.labels)).toEqual(block.series.map((s) => s.labels));
    for (let i = 0; i < block.series.length; i++) {
      for (let j = 0; j < block.series[i]!.chunks.length; j++) {
        expect(decodeChunk(old.series[i]!.chunks[j]!.bytes)).toEqual(
          decodeChunk(block.series[i]!.chunks[j]!.bytes),
        );
      }
    }
  });

  it('refuses a flipped byte (checksum) and a file that is not a block', () => {
    const bytes = encodeBlock(cut());
    const flipped = Uint8Array.from(bytes);
    flipped[40]! ^= 1;
    expect(() => decodeBlock(flipped)).toThrow(/checksum/);
    expect(() => decodeBlock(new TextEncoder().encode('hello'))).toThrow(/bad magic/);
  });
});
