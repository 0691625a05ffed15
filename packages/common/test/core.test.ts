import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AssertionError,
  assert,
  CorruptionError,
  corruptionClass,
  crc32c,
  DdiaError,
  encodeVarint,
  errorClass,
  ManualClock,
  maskCrc,
  pooledBytes,
  readVarint,
  SeededRandom,
  unmaskCrc,
  VarintError,
  varintLength,
  writeFileAtomic,
} from '@ddia/common';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

describe('assert', () => {
  it('throws AssertionError with the message', () => {
    expect(() => assert(false, 'broken invariant')).toThrow(AssertionError);
    expect(() => assert(1 + 1 === 2)).not.toThrow();
  });
});

describe('pooledBytes', () => {
  it('hands out plain Uint8Arrays that share slabs, not an ArrayBuffer each', () => {
    // 20 x 300 bytes fit in one 8 KiB slab, or in two where the first was nearly used up.
    const arrays = Array.from({ length: 20 }, (_, i) => pooledBytes(300).fill(i));
    for (const a of arrays) {
      expect(a).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(a)).toBe(false);
      expect(a.length).toBe(300);
    }
    expect(new Set(arrays.map((a) => a.buffer)).size).toBeLessThanOrEqual(2);
    // Slices never overlap: each still holds what was written into it.
    for (const [i, a] of arrays.entries()) expect(a.every((x) => x === i)).toBe(true);
  });

  it('gives a large request its own buffer', () => {
    const big = pooledBytes(64 * 1024);
    expect(big.length).toBe(64 * 1024);
    expect(big.byteOffset).toBe(0);
    expect(big.buffer.byteLength).toBe(64 * 1024);
  });
});

describe('crc32c', () => {
  it('matches the standard check value and masks reversibly', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (crc) => unmaskCrc(maskCrc(crc)) === crc));
    expect(maskCrc(0)).not.toBe(0);
  });
});

describe('varint', () => {
  it('round-trips every safe non-negative integer and has the LEB128 length', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        const bytes = encodeVarint(n);
        expect(bytes.length).toBe(varintLength(n));
        expect(readVarint(bytes, 0)).toEqual({ value: n, next: bytes.length });
      }),
    );
    expect([...encodeVarint(300)]).toEqual([0xac, 0x02]);
  });
  it('reports truncated input and bad values with a named error', () => {
    expect(() => readVarint(new Uint8Array([0x80, 0x80]), 0)).toThrow(VarintError);
    expect(() => encodeVarint(-1)).toThrow(VarintError);
    const tooBig = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]); // 2^56 - 1
    expect(() => readVarint(tooBig, 0)).toThrow(/larger than 2\^53/);
  });
});

describe('SeededRandom', () => {
  it('replays the same sequence from the same seed', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const seqA = Array.from({ length: 100 }, () => a.int(0, 1000));
    const seqB = Array.from({ length: 100 }, () => b.int(0, 1000));
    expect(seqA).toEqual(seqB);
    expect(new Set(seqA).size).toBeGreaterThan(50);
    expect(seqA).not.toEqual(Array.from({ length: 100 }, () => new SeededRandom(43).int(0, 1000)));
  });
  it('stays within bounds and is roughly uniform', () => {
    const r = new SeededRandom(1);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 40_000; i++) counts[r.int(0, 3)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(9_000);
  });
});

describe('ManualClock', () => {
  it('fires timers in due order only when advanced', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b'), 20);
    clock.setTimeout(() => fired.push('a'), 10);
    const c = clock.setTimeout(() => fired.push('c'), 15);
    c.cancel();
    clock.advance(9);
    expect(fired).toEqual([]);
    clock.advance(11);
    expect(fired).toEqual(['a', 'b']);
    expect(clock.nowMs()).toBe(20);
    expect(() => clock.advance(-1)).toThrow(RangeError);
  });
});

describe('writeFileAtomic', () => {
  it('replaces contents and leaves no temp file behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ddia-atomic-'));
    try {
      const path = join(dir, 'CURRENT');
      await writeFileAtomic(path, 'one');
      await writeFileAtomic(path, 'two');
      expect(await readFile(path, 'utf8')).toBe('two');
      expect(await readdir(dir)).toEqual(['CURRENT']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('errorClass and corruptionClass', () => {
  const spec = { code: 'DDIA_ERR_TEST_GONE', status: 410, title: 'Gone for good', retriable: false };

  it('names the class, keeps the package base for instanceof, and answers the catalogue entry', () => {
    class PackageError extends DdiaError {
      override name = 'PackageError';
    }
    class GoneError extends errorClass('GoneError', spec, PackageError) {}
    const withDetail = new GoneError('key k expired', { key: 'k' });
    expect(withDetail).toBeInstanceOf(PackageError);
    expect(withDetail).toBeInstanceOf(DdiaError);
    expect(withDetail.name).toBe('GoneError');
    expect(withDetail.toProblem()).toMatchObject({
      status: 410,
      code: 'DDIA_ERR_TEST_GONE',
      detail: 'key k expired',
      key: 'k',
    });
    // Without a detail the message is the entry's title.
    expect(new GoneError().message).toBe('Gone for good');
  });

  it('gives a corruption error its code, file and offset in the message', () => {
    class CorruptThingError extends corruptionClass('CorruptThingError', 'DDIA_ERR_TEST_CORRUPT', 'thing') {}
    const error = new CorruptThingError('/d/000001.thing', 42, 'bad checksum');
    expect(error).toBeInstanceOf(CorruptionError);
    expect(error.name).toBe('CorruptThingError');
    expect(error).toMatchObject({ code: 'DDIA_ERR_TEST_CORRUPT', file: '/d/000001.thing', offset: 42 });
    expect(error.message).toBe('corrupt thing /d/000001.thing at byte offset 42: bad checksum');
  });
});
