import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorruptLogError, Log, LogClosedError, LogIndexError } from '@ddia/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

// Every behaviour holds whether appends are written on the thread pool or inline, and with
// zero-filled room kept ahead of the end (preallocateBytes) or not.
const VARIANTS: { name: string; io: 'pool' | 'inline'; preallocateBytes: number }[] = [
  { name: 'pool writes', io: 'pool', preallocateBytes: 0 },
  { name: 'inline writes', io: 'inline', preallocateBytes: 0 },
  { name: 'inline writes, preallocated', io: 'inline', preallocateBytes: 4096 },
];
describe.each(VARIANTS)('Log ($name)', ({ io, preallocateBytes }) => {
  const open = (options: Parameters<typeof Log.open>[0]) => Log.open({ io, preallocateBytes, ...options });
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ddia-log-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('appends, reads back by index and survives reopen', async () => {
    const log = await open({ dir, firstIndex: 1 });
    expect(await log.append(enc('a'))).toBe(1);
    expect(await log.appendBatch([enc('b'), enc('c')])).toBe(2);
    expect(log.nextIndex).toBe(4);
    expect(dec(await log.read(2))).toBe('b');
    await log.close();
    const again = await open({ dir });
    expect(again.firstIndex).toBe(1);
    expect(again.nextIndex).toBe(4);
    expect((await again.readRange(1, 4)).map(dec)).toEqual(['a', 'b', 'c']);
    expect(again.recovery.tornTailBytes).toBe(0);
    await again.close();
  });

  it('shares one fsync between concurrent appends under group commit', async () => {
    const log = await open({ dir, fsync: 'group' });
    const appends = Array.from({ length: 200 }, (_, i) => log.append(enc(`r${i}`)));
    const indexes = await Promise.all(appends);
    expect(indexes).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(log.stats.fsyncs).toBeLessThan(20);
    expect(log.stats.fsyncs).toBeGreaterThan(0);
    await log.close();
  });

  it('fsyncs every append under the always policy', async () => {
    const log = await open({ dir, fsync: 'always' });
    await Promise.all(Array.from({ length: 10 }, (_, i) => log.append(enc(`r${i}`))));
    expect(log.stats.fsyncs).toBe(10);
    await log.close();
  });

  it('syncs only the appends that ask for it under the never policy, sharing one fdatasync', async () => {
    const log = await open({ dir, fsync: 'never' });
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(enc(`n${i}`))));
    expect(log.stats.fsyncs).toBe(0);
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(enc(`s${i}`), { sync: i % 2 === 0 })));
    expect(log.stats.fsyncs).toBeGreaterThan(0);
    expect(log.stats.fsyncs).toBeLessThanOrEqual(3);
    await log.close();
  });

  it('rolls segments and reads across them', async () => {
    const log = await open({ dir, segmentBytesMax: 100 });
    for (let i = 0; i < 50; i++) await log.append(enc(`record-${i}`));
    expect(log.stats.segments).toBeGreaterThan(3);
    const all: string[] = [];
    for await (const { index, record } of log.entries()) all.push(`${index}:${dec(record)}`);
    expect(all).toHaveLength(50);
    expect(all[49]).toBe('49:record-49');
    await log.close();
    const again = await open({ dir, segmentBytesMax: 100 });
    expect(dec(await again.read(37))).toBe('record-37');
    await again.close();
  });

  it('truncates a suffix, including across segments, and appends after it', async () => {
    const log = await open({ dir, segmentBytesMax: 64 });
    for (let i = 0; i < 30; i++) await log.append(enc(`v${i}`));
    await log.truncateSuffix(12);
    expect(log.nextIndex).toBe(12);
    expect(await log.append(enc('new12'))).toBe(12);
    await log.close();
    const again = await open({ dir, segmentBytesMax: 64 });
    expect(again.nextIndex).toBe(13);
    expect(dec(await again.read(11))).toBe('v11');
    expect(dec(await again.read(12))).toBe('new12');
    await expect(again.read(13)).rejects.toBeInstanceOf(LogIndexError);
    await again.close();
  });

  it('drops a prefix by whole segments and resets to a new index', async () => {
    const log = await open({ dir, segmentBytesMax: 64 });
    for (let i = 0; i < 30; i++) await log.append(enc(`v${i}`));
    await log.dropPrefix(20);
    expect(log.firstIndex).toBeGreaterThan(0);
    expect(log.firstIndex).toBeLessThanOrEqual(20);
    await expect(log.read(0)).rejects.toBeInstanceOf(LogIndexError);
    expect(dec(await log.read(20))).toBe('v20');
    await log.reset(1000);
    expect(log.firstIndex).toBe(1000);
    expect(await log.append(enc('x'))).toBe(1000);
    await log.close();
    const again = await open({ dir });
    expect(again.firstIndex).toBe(1000);
    expect(again.nextIndex).toBe(1001);
    await again.close();
  });

  it('reads records that are still queued for writing', async () => {
    const log = await open({ dir });
    const pending = log.append(enc('soon'));
    expect(dec(await log.read(0))).toBe('soon');
    await pending;
    await log.close();
  });

  it('cuts a torn tail on open', async () => {
    const log = await open({ dir });
    for (let i = 0; i < 5; i++) await log.append(enc(`record-${i}`));
    const dataBytes = log.stats.bytes;
    await log.close();
    const [segment] = await readdir(dir);
    const path = join(dir, segment!);
    const bytes = await readFile(path);
    // The last record's final bytes never reached the disk: the file ends early, or (when
    // preallocated) holds the zeros that were there before.
    const torn = Buffer.from(bytes).fill(0, dataBytes - 3, dataBytes);
    await writeFile(path, preallocateBytes > 0 ? torn : torn.subarray(0, dataBytes - 3));
    const again = await open({ dir });
    expect(again.nextIndex).toBe(4);
    expect(again.recovery.tornTailBytes).toBeGreaterThan(0);
    expect(await again.append(enc('after'))).toBe(4);
    await again.close();
    const reopened = await open({ dir });
    expect((await reopened.readRange(0, 5)).map(dec)).toEqual([
      'record-0',
      'record-1',
      'record-2',
      'record-3',
      'after',
    ]);
    expect(reopened.recovery.tornTailBytes).toBe(0);
    await reopened.close();
  });

  it('refuses a flipped byte in the middle, naming file and offset', async () => {
    const log = await open({ dir });
    for (let i = 0; i < 10; i++) await log.append(enc(`record-number-${i}`));
    const recordBytes = log.stats.bytes / 10;
    await log.close();
    const [segment] = await readdir(dir);
    const path = join(dir, segment!);
    const bytes = await readFile(path);
    bytes[recordBytes * 3 + 15] ^= 0x40; // inside the payload of record 3
    await writeFile(path, bytes);
    const opened = Log.open({ dir });
    await expect(opened).rejects.toBeInstanceOf(CorruptLogError);
    await expect(opened).rejects.toThrow(new RegExp(`${segment}.*offset ${recordBytes * 3}`));
  });

  it('refuses a damaged length field in the middle', async () => {
    const log = await open({ dir });
    for (let i = 0; i < 10; i++) await log.append(enc(`record-number-${i}`));
    const recordBytes = log.stats.bytes / 10;
    await log.close();
    const [segment] = await readdir(dir);
    const path = join(dir, segment!);
    const bytes = await readFile(path);
    bytes[recordBytes * 4] ^= 0x01;
    await writeFile(path, bytes);
    await expect(Log.open({ dir })).rejects.toBeInstanceOf(CorruptLogError);
    await expect(Log.open({ dir })).rejects.toMatchObject({
      code: 'DDIA_ERR_LOG_CORRUPT_RECORD',
      offset: expect.any(Number),
    });
  });

  it('refuses a damaged sealed segment even at its end', async () => {
    const log = await open({ dir, segmentBytesMax: 64 });
    for (let i = 0; i < 20; i++) await log.append(enc(`v${i}`));
    await log.close();
    const [first] = (await readdir(dir)).sort();
    const path = join(dir, first!);
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 1));
    await expect(Log.open({ dir, segmentBytesMax: 64 })).rejects.toBeInstanceOf(CorruptLogError);
  });

  it('reads the newer record after a truncate gave its index away, even while the old write runs', async () => {
    const log = await open({ dir });
    for (let i = 0; i < 5; i++) await log.append(enc(`v${i}`));
    const old = log.append(enc('A'));
    const truncated = log.truncateSuffix(5);
    const newer = log.append(enc('B'));
    expect(dec(await log.read(5))).toBe('B');
    await old;
    expect(dec(await log.read(5))).toBe('B');
    await truncated;
    expect(dec(await log.read(5))).toBe('B');
    expect(await newer).toBe(5);
    await log.close();
    const again = await open({ dir });
    expect((await again.readRange(0, 6)).map(dec)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'B']);
    await again.close();
  });

  it('lets reads in flight finish before a truncate changes the file', async () => {
    const log = await open({ dir });
    for (let i = 0; i < 200; i++) await log.append(enc(`record-${i}`));
    const reads = Array.from({ length: 20 }, () => log.readRange(0, 200));
    const truncated = log.truncateSuffix(10);
    for (const r of await Promise.all(reads)) expect(r).toHaveLength(200);
    await truncated;
    await expect(log.read(10)).rejects.toBeInstanceOf(LogIndexError);
    await log.close();
  });

  it.each([
    ['a reset marker only', 3, false],
    ['the marker and the new empty segment', 3, true],
    ['a marker whose index names an existing segment', 0, false],
  ])('finishes a reset interrupted by a crash (%s)', async (_name, nextIndex, withFresh) => {
    const log = await open({ dir });
    for (let i = 0; i < 5; i++) await log.append(enc(`old${i}`));
    await log.close();
    // The directory as a crash during reset(nextIndex) could leave it.
    await writeFile(join(dir, 'RESET'), String(nextIndex));
    if (withFresh) await writeFile(join(dir, `${String(nextIndex).padStart(20, '0')}.seg`), '');
    const again = await open({ dir });
    expect(again.firstIndex).toBe(nextIndex);
    expect(again.nextIndex).toBe(nextIndex);
    expect(await again.append(enc('new'))).toBe(nextIndex);
    await again.close();
    expect((await readdir(dir)).sort()).toEqual([`${String(nextIndex).padStart(20, '0')}.seg`]);
  });

  it('refuses a reset to a negative or fractional index', async () => {
    const log = await open({ dir });
    await expect(log.reset(-1)).rejects.toBeInstanceOf(LogIndexError);
    await expect(log.reset(1.5)).rejects.toBeInstanceOf(LogIndexError);
    await log.close();
  });

  it.skipIf(process.platform !== 'linux')(
    'opens segments with O_DSYNC exactly under always and group',
    async () => {
      const O_DSYNC = 0o10000; // Linux x86-64 and arm64
      const flagsOf = (segmentDir: string): number => {
        for (const fd of readdirSync('/proc/self/fd')) {
          let target = '';
          try {
            target = readlinkSync(`/proc/self/fd/${fd}`);
          } catch {
            continue;
          }
          if (target.startsWith(segmentDir) && target.endsWith('.seg')) {
            const line = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')
              .split('\n')
              .find((l) => l.startsWith('flags:'));
            return Number.parseInt(line!.split(/\s+/)[1]!, 8);
          }
        }
        throw new Error(`no open segment under ${segmentDir}`);
      };
      for (const [policy, synced] of [
        ['always', true],
        ['group', true],
        ['interval', false],
        ['never', false],
      ] as const) {
        const sub = join(dir, policy);
        const log = await open({ dir: sub, fsync: policy });
        expect((flagsOf(sub) & O_DSYNC) !== 0, policy).toBe(synced);
        await log.close();
      }
    },
  );

  it('fsyncs on a timer under the interval policy', async () => {
    const log = await open({ dir, fsync: 'interval', fsyncIntervalMs: 10 });
    await log.append(enc('x'));
    expect(log.stats.fsyncs).toBe(0);
    const deadline = Date.now() + 2_000;
    while (log.stats.fsyncs === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(log.stats.fsyncs).toBeGreaterThan(0);
    await log.close();
  });

  it('rejects appends after close with a named error', async () => {
    const log = await open({ dir });
    await log.close();
    await expect(log.append(enc('late'))).rejects.toBeInstanceOf(LogClosedError);
  });
});

describe('Log preallocation (zero-filled room ahead of the end)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ddia-log-prealloc-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const segmentPaths = async () => (await readdir(dir)).sort().map((n) => join(dir, n));

  it('keeps zeros ahead of the records, and appends after reopen go right after the records', async () => {
    const log = await Log.open({ dir, io: 'inline', preallocateBytes: 64 * 1024 });
    for (let i = 0; i < 10; i++) await log.append(enc(`r${i}`));
    const dataBytes = log.stats.bytes;
    await log.close(); // waits for a fill in flight
    const [path] = await segmentPaths();
    const file = await readFile(path!);
    expect(file.length).toBeGreaterThanOrEqual(dataBytes + 32 * 1024);
    expect(file.subarray(dataBytes).every((b) => b === 0)).toBe(true);

    const again = await Log.open({ dir, io: 'inline', preallocateBytes: 64 * 1024 });
    expect(again.nextIndex).toBe(10);
    expect(again.recovery.tornTailBytes).toBe(0);
    // Opening cuts the room off the last segment: the file ends at its last record again, for
    // appenders that resume at the end of the file (the LSM's WAL).
    expect((await stat(path!)).size).toBe(dataBytes);
    expect(await again.append(enc('r10'))).toBe(10);
    await again.close();
    const after = await readFile(path!);
    // The new record went where the old ones end, not after the zeros.
    expect(after.subarray(dataBytes + 12, dataBytes + 15).toString()).toBe('r10');
    const third = await Log.open({ dir });
    expect((await third.readRange(0, 11)).map(dec)).toEqual(Array.from({ length: 11 }, (_, i) => `r${i}`));
    await third.close();
  });

  it('never lets a fill overwrite records: thousands of appends racing small fills', async () => {
    const log = await Log.open({ dir, io: 'inline', preallocateBytes: 256, segmentBytesMax: 8 * 1024 });
    const appends: Promise<number>[] = [];
    for (let i = 0; i < 3000; i++) {
      appends.push(log.append(enc(`record-${i}`)));
      if (i % 7 === 0) await appends[i];
    }
    expect(await Promise.all(appends)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    await log.close();
    expect((await segmentPaths()).length).toBeGreaterThan(3);
    const again = await Log.open({ dir, segmentBytesMax: 8 * 1024 });
    expect(again.recovery.tornTailBytes).toBe(0);
    let count = 0;
    for await (const { index, record } of again.entries(0)) {
      expect(dec(record)).toBe(`record-${index}`);
      count++;
    }
    expect(count).toBe(3000);
    await again.close();
  });

  it('treats garbage after the records as a torn tail even in a preallocated file', async () => {
    const log = await Log.open({ dir, io: 'inline', preallocateBytes: 8 * 1024 });
    for (let i = 0; i < 3; i++) await log.append(enc(`r${i}`));
    const dataBytes = log.stats.bytes;
    await log.close();
    const [path] = await segmentPaths();
    const file = await readFile(path!);
    file[dataBytes + 100] = 0x5a; // a stray byte in the zeros: not a record, not room
    await writeFile(path!, file);
    const again = await Log.open({ dir });
    expect(again.nextIndex).toBe(3);
    expect(again.recovery.tornTailBytes).toBeGreaterThan(0);
    await again.close();
  });
});

describe('Log appendSync (write(2) on the caller thread, as the LSM engine WAL appends)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ddia-log-sync-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('appends, rolls full segments on request, reads back and survives reopen', async () => {
    const log = await Log.open({ dir, fsync: 'never', segmentBytesMax: 64 });
    for (let i = 0; i < 30; i++) {
      while (log.rollDue) await log.roll();
      expect(log.appendSync([enc(`record-${i}`)])).toBe(i);
    }
    expect(log.stats.segments).toBeGreaterThan(3);
    expect((await log.readRange(0, 30)).map(dec)).toEqual(
      Array.from({ length: 30 }, (_, i) => `record-${i}`),
    );
    await log.sync();
    await log.close();
    const again = await Log.open({ dir, fsync: 'never', segmentBytesMax: 64 });
    expect(again.nextIndex).toBe(30);
    expect(dec(await again.read(29))).toBe('record-29');
    await again.close();
  });

  it('refuses to overtake a queued append, and to write into a full segment', async () => {
    const log = await Log.open({ dir, fsync: 'never', segmentBytesMax: 16 });
    const queued = log.append(enc('queued'));
    expect(() => log.appendSync([enc('inline')])).toThrow(/other writes are queued/);
    await queued;
    expect(log.rollDue).toBe(true);
    expect(() => log.appendSync([enc('inline')])).toThrow(/full segment/);
    await log.roll();
    expect(log.appendSync([enc('inline')])).toBe(1);
    await log.close();
  });

  it('lets sync calls that queue up while one runs share the next fdatasync', async () => {
    const log = await Log.open({ dir, fsync: 'never' });
    log.appendSync([enc('a')]);
    const before = log.stats.fsyncs;
    await Promise.all(Array.from({ length: 20 }, () => log.sync()));
    // The first sync starts at once; the other 19 queue behind it and share one.
    expect(log.stats.fsyncs - before).toBeLessThanOrEqual(2);
    await log.close();
  });
});
