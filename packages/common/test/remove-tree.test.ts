import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeFileSystem, removeTree } from '../src/index.js';

describe('removeTree', () => {
  it('removes a nested tree and leaves its siblings; a missing tree is no error', async () => {
    const root = await mkdtemp(join(tmpdir(), 'remove-tree-'));
    await mkdir(join(root, 'doomed', 'a', 'b'), { recursive: true });
    await writeFile(join(root, 'doomed', 'top.log'), 'x');
    await writeFile(join(root, 'doomed', 'a', 'b', 'deep.log'), 'y');
    await mkdir(join(root, 'kept'));
    await removeTree(nodeFileSystem, join(root, 'doomed'));
    expect(await readdir(root)).toEqual(['kept']);
    await expect(removeTree(nodeFileSystem, join(root, 'doomed'))).resolves.toBeUndefined();
  });

  it('reports what it cannot remove instead of stopping silently', async () => {
    const root = await mkdtemp(join(tmpdir(), 'remove-tree-'));
    await writeFile(join(root, 'file'), 'x');
    await expect(removeTree(nodeFileSystem, join(root, 'file'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});
