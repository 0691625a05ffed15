// Block compression (FORMAT.md "Block trailer"): each data and index block's trailer names its
// type (0 none, 1 raw Snappy, 2 raw DEFLATE, 3 Brotli), so one database may hold tables written
// with any setting. The fixtures pin the bytes: the uncompressed one was written by the table
// builder before compression existed (commit 5e04817) and must still read and be written
// byte for byte with `compression: 'none'`; the Snappy and DEFLATE ones pin the compressed
// layouts (Snappy's from the snappy 7.4.3 package: another Snappy version may choose other
// matches, which would fail the write check but not the read).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uncompressSync } from 'snappy';
import { afterAll, describe, expect, it } from 'vitest';
import { LsmLevel } from '../src/index.js';
import { resolveOptions } from '../src/options.js';
import { Table } from '../src/table.js';
import { TableBuilder } from '../src/table-builder.js';
import type { Compression } from '../src/table-format.js';

const root = mkdtempSync(join(tmpdir(), 'lsm-compression-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** 12 entries, 256-byte blocks, restart every 4, Bloom 10 bits per key (944 bytes). */
const UNCOMPRESSED_HEX = [
  '000e306b6579303030010100000000000076616c756520302076616c756520302076616c756520302076616c75652030',
  '2076616c756520302076616c756520302005093031010200000000000076616c756520312076616c756520312076616c',
  '756520312076616c756520312076616c756520312076616c756520312005093032010300000000000076616c75652032',
  '2076616c756520322076616c756520322076616c756520322076616c756520322076616c756520322005093033010400',
  '000000000076616c756520302076616c756520302076616c756520302076616c756520302076616c756520302076616c',
  '7565203020000e306b6579303034010500000000000076616c756520312076616c756520312076616c75652031207661',
  '6c756520312076616c756520312076616c756520312000000000f50000000200000000bc416463000e306b6579303035',
  '010600000000000076616c756520322076616c756520322076616c756520322076616c756520322076616c7565203220',
  '76616c756520322005093036010700000000000076616c756520302076616c756520302076616c756520302076616c75',
  '6520302076616c756520302076616c756520302005093037010800000000000076616c756520312076616c7565203120',
  '76616c756520312076616c756520312076616c756520312076616c756520312005093038010900000000000076616c75',
  '6520322076616c756520322076616c756520322076616c756520322076616c756520322076616c7565203220000e306b',
  '6579303039010a00000000000076616c756520302076616c756520302076616c756520302076616c756520302076616c',
  '756520302076616c756520302000000000f500000002000000007e11910c000e306b6579303130010b00000000000076',
  '616c756520312076616c756520312076616c756520312076616c756520312076616c756520312076616c756520312005',
  '093031010c00000000000076616c756520322076616c756520322076616c756520322076616c756520322076616c7565',
  '20322076616c7565203220000000000100000000a82aa513a8ee3e6196807827924cb4accd2d2f0700ca90cd3f000e03',
  '6b6579303034010500000000000000c202000e046b6579303039010a000000000000c702c202000e046b657930313101',
  '0c0000000000008e0585010000000014000000290000000300000000b45bd95618030000000000001000000000000000',
  '2d030000000000004e000000000000000c00000000000000444449414c534d31',
].join('');
/** The same entries with `compression: 'snappy'` (421 bytes). */
const SNAPPY_HEX = [
  'c2022c000e306b657930303001010005011c76616c75652030209e080014050930310102053b0d3c00310d3c86080014',
  '0509303201032e3c0000320d3c860800140509303301042e3c0000300d3c86080011f5083401052e410086b100291534',
  '312000000000f5000000020000000163baaf61c2022c000e306b657930303501060005011c76616c75652032209e0800',
  '14050930360107053b0d3c00300d3c860800140509303701082e3c0000310d3c860800140509303801092e3c00a6b400',
  '11f50839010a2e410086b100291534302000000000f500000002000000011e9db1a485012c000e306b6579303130010b',
  '0005011c76616c75652031209e08001405093031010c053b0d3c00320d3c8608001c0000000001000000012b7ec6c7a8',
  'ee3e6196807827924cb4accd2d2f0700ca90cd3f4a2c000e026b65793030340105000901006e11130839010a09121073',
  '6a000e0301260c3131010c091308e2013801092c130000002600000003000000018c2a58401f01000000000000100000',
  '000000000034010000000000003c000000000000000c00000000000000444449414c534d31',
].join('');
/** The same entries with `compression: 'deflate'` (356 bytes). */
const DEFLATE_HEX = [
  '63e033c84ead3430306064640083b2c49cd2540503056269564e0343462664bd8650bd8469564e0323466664bd4650bd',
  '8469564e0363461664bdc4bb9901ea691346566403083b181228860a205d5f19181840fe06000250aacade63e033c84e',
  'ad3430306564630083b2c49cd2540523056269564e0333467664bd0650bd8469564e0373460e64bd8650bd8469564e03',
  '0b464e64bdc4bb9901ea694b462e6403083b181228060a205d5f19181898800c0002725b1d0563e033c84ead34303460',
  'e4660083b2c49cd2540543056269564e0343461e64bd4650bd8469902e4620010002c616e68fa8ee3e6196807827924c',
  'b4accd2d2f0700ca90cd3f63e063ca4ead34303061646580803006a89025231744243a8c818f19a4cad090910722b48d',
  '511bc410666060506360606006720002ff8cbfa8e6000000000000001000000000000000fb0000000000000034000000',
  '000000000c00000000000000444449414c534d31',
].join('');

const key = (i: number) => Buffer.from(`key${String(i).padStart(3, '0')}`);
const val = (i: number) => Buffer.from(`value ${i % 3} `.repeat(6));

function build(compression: Compression): Buffer {
  const b = new TableBuilder({ blockBytes: 256, restartInterval: 4, bloomBitsPerKey: 10, compression });
  for (let i = 0; i < 12; i++) b.add(key(i), i + 1, 1, val(i));
  b.finish();
  return Buffer.concat(b.takeChunks());
}

function readAll(bytes: Buffer, name: string): string[] {
  const path = join(root, name);
  writeFileSync(path, bytes);
  const stats = { bloomChecks: 0, bloomNegatives: 0, dataBlockSearches: 0 };
  const table = Table.open(path, 1, bytes.length, null, stats);
  const out: string[] = [];
  const it = table.iterator(false);
  for (it.seekToFirst(); it.valid(); it.next()) out.push(`${it.key()}@${it.seq()}=${it.value()}`);
  table.close();
  return out;
}

const expected = Array.from({ length: 12 }, (_, i) => `${key(i)}@${i + 1}=${val(i)}`);

describe('block compression', () => {
  it('reads a table written before compression existed, and writes it byte for byte with none', () => {
    const old = Buffer.from(UNCOMPRESSED_HEX, 'hex');
    expect(build('none').toString('hex')).toBe(UNCOMPRESSED_HEX);
    expect(readAll(old, 'old.sst')).toEqual(expected);
  });

  it('writes Snappy blocks as the fixture: type 1 in the trailer, a raw Snappy block before it', () => {
    const bytes = build('snappy');
    expect(bytes.toString('hex')).toBe(SNAPPY_HEX);
    expect(readAll(bytes, 'snappy.sst')).toEqual(expected);
    // The first data block: 322 bytes raw (Snappy's varint length header, c2 02) stored in 110,
    // which Snappy alone decodes back to the raw block; then the trailer's type byte, 1.
    expect(bytes.subarray(0, 2).toString('hex')).toBe('c202');
    const firstStored = 110;
    expect(uncompressSync(bytes.subarray(0, firstStored), { asBuffer: true })).toHaveLength(322);
    expect(bytes[firstStored]).toBe(1);
    const old = Buffer.from(UNCOMPRESSED_HEX, 'hex');
    expect(bytes.length).toBeLessThan(old.length / 2);
  });

  it('writes DEFLATE blocks as the fixture: type 2 in the trailer, checksum over the stored bytes', () => {
    const bytes = build('deflate');
    expect(bytes.toString('hex')).toBe(DEFLATE_HEX);
    expect(readAll(bytes, 'deflate.sst')).toEqual(expected);
    // The first data block's trailer (after its stored bytes) names DEFLATE.
    expect(bytes.indexOf(Buffer.from(UNCOMPRESSED_HEX.slice(0, 64), 'hex'))).toBe(-1);
    const old = Buffer.from(UNCOMPRESSED_HEX, 'hex');
    expect(bytes.length).toBeLessThan(old.length / 2);
  });

  it('round-trips Brotli, and keeps a block uncompressed when it would not save 1/8', () => {
    expect(readAll(build('brotli'), 'brotli.sst')).toEqual(expected);
    const b = new TableBuilder({
      blockBytes: 4096,
      restartInterval: 16,
      bloomBitsPerKey: 0,
      compression: 'deflate',
    });
    // Random bytes do not compress: the block goes out as type 0.
    const noise = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 2654435761) >>> 24));
    b.add(Buffer.from('k'), 1, 1, noise);
    b.finish();
    const bytes = Buffer.concat(b.takeChunks());
    expect(readAll(bytes, 'noise.sst')).toEqual([`k@1=${noise}`]);
    expect(bytes.indexOf(noise)).toBeGreaterThan(0);
  });

  it('a damaged compressed block is a checksum error, not garbage', () => {
    const bytes = build('deflate');
    bytes[10] = (bytes[10]! ^ 0x40) & 0xff;
    expect(() => readAll(bytes, 'bad.sst')).toThrow(/checksum/);
  });

  it('one database mixes tables of every setting; snappy, deflate and brotli shrink the tables', async () => {
    const location = join(root, 'mixed');
    const value = (i: number) =>
      `{"user":${i},"name":"user ${i}","tags":["a","b","c"],"padding":"${'x'.repeat(100)}"}`;
    const sizes: Record<string, number> = {};
    let n = 0;
    for (const compression of ['none', 'snappy', 'deflate', 'brotli'] as const) {
      const db = new LsmLevel(location, { compression });
      await db.open();
      const before = db.stats().bytes.tables;
      await db.batch(
        Array.from({ length: 1000 }, () => ({
          type: 'put' as const,
          key: `k${String(n).padStart(6, '0')}`,
          value: value(n++),
        })),
      );
      await db.flush();
      sizes[compression] = db.stats().bytes.tables - before;
      await db.close();
    }
    // Each flush wrote one table of the same kind of data: compressed ones are far smaller.
    expect(sizes.snappy!).toBeLessThan(sizes.none! / 2);
    expect(sizes.deflate!).toBeLessThan(sizes.none! / 2);
    expect(sizes.brotli!).toBeLessThan(sizes.none! / 2);
    const db = new LsmLevel(location, { compression: 'none' });
    await db.open();
    const all = await db.iterator().all();
    expect(all).toHaveLength(4000);
    expect(all[2500]).toEqual([`k${String(2500).padStart(6, '0')}`, value(2500)]);
    await db.compact();
    expect(await db.get('k001500')).toBe(value(1500));
    await db.close();
  }, 60_000);

  it('refuses an unknown compression', () => {
    expect(() => resolveOptions({ compression: 'lz4' as Compression })).toThrow(/compression must be one of/);
  });
});
