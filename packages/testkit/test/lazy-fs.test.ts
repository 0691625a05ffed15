// LazyFS itself (tools/lazyfs/lazyfs.c, mounted by src/fs/lazy-fs.ts): what a drop keeps and
// what it loses, through the kernel, on real system calls. Skips with the reason where FUSE is
// not available (no /dev/fuse, no compiler or libfuse3, not allowed to mount).
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LazyFs, lazyFsSupport, mountLazyFs } from '../src/index.js';

const support = await lazyFsSupport();
const skipped = support.available ? '' : ` (skipped: ${support.reason})`;
if (!support.available) console.log(`LazyFS tests skipped: ${support.reason}`);

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeFile(path: string, text: string, sync: 'none' | 'fsync' | 'fdatasync' | 'o_dsync'): void {
  const flags = sync === 'o_dsync' ? 'as' : 'a';
  const fd = openSync(path, flags);
  try {
    writeSync(fd, text);
    if (sync === 'fsync') fsyncSync(fd);
    if (sync === 'fdatasync') fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(!support.available)(`LazyFS: loses what was not synced${skipped}`, () => {
  let fs: LazyFs;
  beforeAll(async () => {
    fs = await mountLazyFs();
  });
  afterAll(async () => {
    await fs?.close();
  });

  it('keeps fsynced, fdatasynced and O_DSYNC bytes and loses the unsynced tail of each file', async () => {
    const dir = fs.dir;
    for (const name of ['fsync', 'fdatasync', 'o_dsync', 'none']) writeFileSync(join(dir, name), '');
    fsyncPath(dir);
    writeFile(join(dir, 'fsync'), 'synced;', 'fsync');
    writeFile(join(dir, 'fdatasync'), 'synced;', 'fdatasync');
    writeFile(join(dir, 'o_dsync'), 'synced;', 'o_dsync');
    for (const name of ['fsync', 'fdatasync', 'o_dsync', 'none']) writeFile(join(dir, name), 'lost;', 'none');
    // Before the drop, every byte is visible (this is what a SIGKILL alone leaves).
    expect(readFileSync(join(dir, 'none'), 'utf8')).toBe('lost;');
    const report = await fs.drop();
    expect(report.droppedFiles).toBe(4);
    expect(report.droppedBytes).toBe(4 * 'lost;'.length);
    // Read back through the kernel: had its page cache kept the bytes, they would show here.
    expect(readFileSync(join(dir, 'fsync'), 'utf8')).toBe('synced;');
    expect(readFileSync(join(dir, 'fdatasync'), 'utf8')).toBe('synced;');
    expect(readFileSync(join(dir, 'o_dsync'), 'utf8')).toBe('synced;');
    expect(readFileSync(join(dir, 'none'), 'utf8')).toBe('');
    // The same survives a remount: only synced state ever reached the backing directory.
    fs = await fs.remount();
    expect(readFileSync(join(fs.dir, 'fsync'), 'utf8')).toBe('synced;');
    expect(readFileSync(join(fs.backing, 'fsync'), 'utf8')).toBe('synced;');
    expect(readFileSync(join(fs.dir, 'none'), 'utf8')).toBe('');
  });

  it("loses a created, renamed or unlinked name until its directory's fsync", async () => {
    const dir = join(fs.dir, 'entries');
    writeFileSync(join(fs.dir, 'entries-placeholder'), '');
    // mkdir, then fsync the parent so that the directory itself is durable.
    mkdirSync(dir);
    fsyncPath(fs.dir);
    writeFile(join(dir, 'old'), 'old;', 'fsync');
    writeFile(join(dir, 'doomed'), 'doomed;', 'fsync');
    fsyncPath(dir);
    // File data synced but its name not: the file vanishes.
    writeFile(join(dir, 'new'), 'new;', 'fsync');
    renameSync(join(dir, 'old'), join(dir, 'renamed'));
    unlinkSync(join(dir, 'doomed'));
    expect(readdirSync(dir).sort()).toEqual(['new', 'renamed']);
    const report = await fs.drop();
    expect(report.revertedDirs).toBeGreaterThanOrEqual(1);
    expect(readdirSync(dir).sort()).toEqual(['doomed', 'old']);
    expect(readFileSync(join(dir, 'old'), 'utf8')).toBe('old;');
    expect(readFileSync(join(dir, 'doomed'), 'utf8')).toBe('doomed;');
    // The placeholder's name was made durable by the fsync of fs.dir, its (empty) data too.
    expect(existsSync(join(fs.dir, 'entries-placeholder'))).toBe(true);

    // Now with the directory synced after each change: everything stays.
    writeFile(join(dir, 'new'), 'new;', 'fsync');
    renameSync(join(dir, 'old'), join(dir, 'renamed'));
    unlinkSync(join(dir, 'doomed'));
    fsyncPath(dir);
    await fs.drop();
    expect(readdirSync(dir).sort()).toEqual(['new', 'renamed']);
    expect(readFileSync(join(dir, 'renamed'), 'utf8')).toBe('old;');
    fs = await fs.remount();
    expect(readdirSync(join(fs.dir, 'entries')).sort()).toEqual(['new', 'renamed']);
    expect(readFileSync(join(fs.dir, 'entries', 'new'), 'utf8')).toBe('new;');
  });

  it('a SIGKILLed writer that never synced loses its bytes at the drop, not at the kill', async () => {
    const path = join(fs.dir, 'killed.txt');
    writeFileSync(path, '');
    fsyncPath(fs.dir);
    const script = `const fs = require('node:fs'); const fd = fs.openSync(${JSON.stringify(path)}, 'a');
      fs.writeSync(fd, 'x'.repeat(100000)); process.stdout.write('written\\n'); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => resolve());
      child.on('exit', (code) => reject(new Error(`writer exited with ${code}`)));
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(readFileSync(path).length).toBe(100000);
    const stats = await fs.stats();
    expect(stats.dirtyBytes).toBeGreaterThanOrEqual(100000);
    await fs.drop();
    expect(readFileSync(path).length).toBe(0);
  });
});
