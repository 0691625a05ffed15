import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFileSystem, openStore, StoreConfigError } from '@ddia/common';
import { describe, expect, it } from 'vitest';

describe('openStore', () => {
  it('opens a memory store', async () => {
    const db = await openStore({ engine: 'memory' });
    await db.put('a', '1');
    expect(await db.get('a')).toBe('1');
    await db.close();
  });

  it('opens a LevelDB store that keeps data across reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ddia-store-'));
    try {
      const db = await openStore({ engine: 'level', dataDir: dir });
      await db.put('k', 'v');
      await db.close();
      const again = await openStore({ engine: 'level', dataDir: dir });
      expect(await again.get('k')).toBe('v');
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('asks for the LSM engine factory instead of finding it by import side effects', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'store-lsm-'));
    try {
      await expect(openStore({ engine: 'lsm', dataDir: dir })).rejects.toThrow(/lsmEngine/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a FileSystem for engines that do their own I/O', async () => {
    await expect(openStore({ engine: 'level', dataDir: '/nowhere', fs: nodeFileSystem })).rejects.toThrow(
      /only 'lsm'/,
    );
  });

  it('explains a missing data dir', async () => {
    await expect(openStore({ engine: 'level' })).rejects.toBeInstanceOf(StoreConfigError);
  });
});
