// The fault-injecting file system itself: what survives a simulated power cut, and what not.
import { FaultFileSystem, SimulatedCrashError } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

async function durableDir(fs: FaultFileSystem, path: string): Promise<void> {
  await fs.mkdir(path, { recursive: true });
  await fs.fsyncDir('/', 'test');
  await fs.fsyncDir(path, 'test');
}

async function writeAt(fs: FaultFileSystem, path: string, data: string, position = 0): Promise<void> {
  const handle = await fs.open(path, { write: true, create: true });
  await handle.write(Buffer.from(data), 0, data.length, position);
  await handle.close();
}

describe('FaultFileSystem', () => {
  it('loses unsynced data and keeps synced data (lose-all)', async () => {
    const fs = new FaultFileSystem({ seed: 1, crashMode: 'lose-all' });
    await durableDir(fs, '/d');
    const handle = await fs.open('/d/f', { write: true, create: true });
    await fs.fsyncDir('/d', 'test');
    await handle.write(Buffer.from('synced'), 0, 6, 0);
    await handle.datasync('test');
    await handle.write(Buffer.from('-lost'), 0, 5, 6);
    expect(text(await fs.readFile('/d/f'))).toBe('synced-lost');
    const after = fs.crash();
    expect(text(await after.readFile('/d/f'))).toBe('synced');
    expect(after.lastCrash?.opsLost).toBe(1);
  });

  it('keeps a write made through an O_DSYNC handle without a sync', async () => {
    const fs = new FaultFileSystem({ seed: 2, crashMode: 'lose-all' });
    await durableDir(fs, '/d');
    const handle = await fs.open('/d/f', { write: true, create: true, dsync: 'test.dsync' });
    await fs.fsyncDir('/d', 'test');
    await handle.write(Buffer.from('abc'), 0, 3, 0);
    expect(text(await fs.crash().readFile('/d/f'))).toBe('abc');
  });

  it('loses a created file whose directory was not fsynced, even when the file was', async () => {
    const fs = new FaultFileSystem({ seed: 3, crashMode: 'lose-all' });
    await durableDir(fs, '/d');
    const handle = await fs.open('/d/new', { write: true, create: true });
    await handle.write(Buffer.from('x'), 0, 1, 0);
    await handle.sync('test');
    const after = fs.crash();
    expect(await after.readdir('/d')).toEqual([]);
  });

  it('reverts an unsynced rename and keeps a synced one', async () => {
    const fs = new FaultFileSystem({ seed: 4, crashMode: 'lose-all' });
    await durableDir(fs, '/d');
    await writeAt(fs, '/d/a', 'old');
    const h = await fs.open('/d/a', { write: true });
    await h.sync('test');
    await fs.fsyncDir('/d', 'test');
    await writeAt(fs, '/d/tmp', 'new');
    const t = await fs.open('/d/tmp', { write: true });
    await t.sync('test');
    await fs.rename('/d/tmp', '/d/a');
    expect(text(await fs.readFile('/d/a'))).toBe('new');
    const reverted = fs.crash();
    expect(text(await reverted.readFile('/d/a'))).toBe('old');
    // The temp file was never made durable in the directory either.
    expect(await reverted.readdir('/d')).toEqual(['a']);

    const fs2 = new FaultFileSystem({ seed: 4, crashMode: 'lose-all' });
    await durableDir(fs2, '/d');
    await writeAt(fs2, '/d/tmp', 'new');
    await (await fs2.open('/d/tmp', { write: true })).sync('test');
    await fs2.rename('/d/tmp', '/d/a');
    await fs2.fsyncDir('/d', 'test');
    expect(text(await fs2.crash().readFile('/d/a'))).toBe('new');
  });

  it('tears the write at the cut on a sector boundary (prefix mode)', async () => {
    const sizes = new Set<number>();
    for (let seed = 0; seed < 200; seed++) {
      const fs = new FaultFileSystem({ seed, crashMode: 'prefix' });
      await durableDir(fs, '/d');
      const handle = await fs.open('/d/f', { write: true, create: true });
      await fs.fsyncDir('/d', 'test');
      await handle.write(Buffer.alloc(10_000, 1), 0, 10_000, 0);
      const after = fs.crash();
      const size = (await after.stat('/d/f')).size;
      expect(size === 10_000 || size % (after.lastCrash?.tearBytes ?? 0) === 0).toBe(true);
      sizes.add(size);
    }
    // Whole, nothing, and torn at several 512-byte and 4 KiB boundaries.
    expect(sizes.has(0)).toBe(true);
    expect([...sizes].some((s) => s % 4096 !== 0)).toBe(true);
    expect([...sizes].some((s) => s > 0 && s % 4096 === 0)).toBe(true);
  });

  it('can keep a later write and lose an earlier one (reorder mode)', async () => {
    let reordered = 0;
    for (let seed = 0; seed < 100; seed++) {
      const fs = new FaultFileSystem({ seed, crashMode: 'reorder' });
      await durableDir(fs, '/d');
      const handle = await fs.open('/d/f', { write: true, create: true });
      await fs.fsyncDir('/d', 'test');
      await handle.write(Buffer.alloc(4096, 1), 0, 4096, 0);
      await handle.write(Buffer.alloc(4096, 2), 0, 4096, 4096);
      const data = await fs.crash().readFile('/d/f');
      if (data.length === 8192 && data[0] === 0 && data[4096] === 2) reordered++;
    }
    expect(reordered).toBeGreaterThan(0);
  });

  it('is deterministic from its seed', async () => {
    const run = async () => {
      const fs = new FaultFileSystem({ seed: 99 });
      await durableDir(fs, '/d');
      const handle = await fs.open('/d/f', { write: true, create: true });
      for (let i = 0; i < 20; i++) await handle.write(Buffer.alloc(700, i + 1), 0, 700, i * 700);
      const after = fs.crash();
      return {
        report: after.lastCrash,
        data: Buffer.from(await after.readFile('/d/f').catch(() => new Uint8Array())),
      };
    };
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
  });

  it('cuts the power after the given number of operations', async () => {
    const fs = new FaultFileSystem({ seed: 5 });
    await durableDir(fs, '/d');
    fs.crashAfter(1);
    const handle = await fs.open('/d/f', { write: true, create: true });
    await expect(handle.write(Buffer.from('a'), 0, 1, 0)).rejects.toBeInstanceOf(SimulatedCrashError);
    expect(fs.isCrashed).toBe(true);
    await expect(fs.readdir('/d')).rejects.toBeInstanceOf(SimulatedCrashError);
  });

  it('skips a named sync point (mutation check) and counts every call', async () => {
    const fs = new FaultFileSystem({ seed: 6, crashMode: 'lose-all', skipSyncPoints: ['app.data'] });
    await durableDir(fs, '/d');
    const handle = await fs.open('/d/f', { write: true, create: true });
    await fs.fsyncDir('/d', 'app.dir');
    await handle.write(Buffer.from('abc'), 0, 3, 0);
    await handle.datasync('app.data');
    expect(fs.syncPointCalls.get('app.data')).toBe(1);
    expect((await fs.crash().readFile('/d/f')).length).toBe(0);
  });

  it('flips a bit in a surviving file and says where', async () => {
    const fs = new FaultFileSystem({ seed: 7, bitFlipChance: 1, crashMode: 'keep-all' });
    await durableDir(fs, '/d');
    await writeAt(fs, '/d/f', 'hello world');
    const after = fs.crash();
    const flip = after.lastCrash?.bitFlip;
    expect(flip?.path).toBe('/d/f');
    const data = Buffer.from(await after.readFile('/d/f'));
    expect(data.toString()).not.toBe('hello world');
    data[flip!.offset]! ^= 1 << flip!.bit;
    expect(data.toString()).toBe('hello world');
  });

  it('answers like node:fs for missing files and bad opens', async () => {
    const fs = new FaultFileSystem({ seed: 8 });
    await expect(fs.readFile('/nope')).rejects.toMatchObject({ code: 'ENOENT' });
    await fs.mkdir('/d');
    await writeAt(fs, '/d/f', 'x');
    await expect(fs.open('/d/f', { write: true, create: true, exclusive: true })).rejects.toMatchObject({
      code: 'EEXIST',
    });
    await expect(fs.unlink('/d/missing')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(fs.mkdir('/d')).rejects.toMatchObject({ code: 'EEXIST' });
  });
});
