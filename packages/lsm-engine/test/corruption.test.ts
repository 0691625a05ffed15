// Corruption: flip bytes in a WAL record, an SSTable block and the manifest. Reopening (or
// reading) must report a named error with the file and byte offset, or cut a torn WAL
// tail, and must never return wrong data.
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorruptionError } from '@ddia/common';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptManifestError, CorruptTableError, CorruptWalError, LsmLevel } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'lsm-corrupt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function flip(path: string, offset: number): void {
  const bytes = readFileSync(path);
  bytes[offset] = bytes[offset]! ^ 0xff;
  writeFileSync(path, bytes);
}

async function fill(dir: string, count: number, flush: boolean): Promise<void> {
  const db = new LsmLevel(dir);
  await db.open();
  for (let i = 0; i < count; i++) {
    await db.put(`key-${String(i).padStart(4, '0')}`, `value-${i}-${'x'.repeat(50)}`, {
      sync: true,
    } as object);
  }
  if (flush) await db.flush();
  await db.close();
}

function unwrap(err: unknown): unknown {
  // abstract-level may wrap an error from open() in a LEVEL_DATABASE_NOT_OPEN error.
  let e = err as { cause?: unknown } | undefined;
  while (
    e &&
    !(e instanceof CorruptWalError || e instanceof CorruptTableError || e instanceof CorruptManifestError) &&
    e.cause
  ) {
    e = e.cause as { cause?: unknown };
  }
  return e;
}

describe('corruption is detected, named and located', () => {
  it('a flipped byte in a WAL record before the tail: CorruptWalError with file and offset', async () => {
    const dir = join(root, `wal-${n++}`);
    await fill(dir, 50, false);
    const seg = join(dir, 'wal', readdirSync(join(dir, 'wal')).find((f) => f.endsWith('.seg'))!);
    flip(seg, 20);
    const db = new LsmLevel(dir);
    const err = unwrap(await db.open().catch((e: unknown) => e));
    expect(err).toBeInstanceOf(CorruptWalError);
    expect(err).toBeInstanceOf(CorruptionError);
    expect((err as CorruptWalError).code).toBe('DDIA_ERR_LSM_CORRUPT_WAL');
    expect((err as CorruptWalError).file).toMatch(/^wal\/\d+\.seg$/);
    expect((err as CorruptWalError).offset).toBe(0);
  });

  it('a torn WAL tail is cut and every earlier write survives', async () => {
    const dir = join(root, `tail-${n++}`);
    await fill(dir, 50, false);
    const seg = join(dir, 'wal', readdirSync(join(dir, 'wal')).find((f) => f.endsWith('.seg'))!);
    truncateSync(seg, statSync(seg).size - 7);
    const db = new LsmLevel(dir);
    await db.open();
    expect(db.stats().walTornTailBytes).toBeGreaterThan(0);
    expect(await db.get('key-0048')).toBe(`value-48-${'x'.repeat(50)}`);
    expect(await db.get('key-0049')).toBeUndefined();
    await db.close();
  });

  it('a flipped byte in an SSTable data block: CorruptTableError on read, never wrong data', async () => {
    const dir = join(root, `sst-${n++}`);
    await fill(dir, 200, true);
    const sst = readdirSync(dir).find((f) => f.endsWith('.sst'))!;
    flip(join(dir, sst), 100);
    const db = new LsmLevel(dir);
    await db.open();
    const err = unwrap(await db.get('key-0001').catch((e: unknown) => e));
    expect(err).toBeInstanceOf(CorruptTableError);
    expect((err as CorruptTableError).file).toBe(sst);
    expect((err as CorruptTableError).offset).toBe(0);
    const scan = unwrap(
      await db
        .iterator()
        .all()
        .catch((e: unknown) => e),
    );
    expect(scan).toBeInstanceOf(CorruptTableError);
    await db.close();
  });

  it('a flipped byte in an SSTable footer: CorruptTableError naming the file', async () => {
    const dir = join(root, `footer-${n++}`);
    await fill(dir, 20, true);
    const sst = readdirSync(dir).find((f) => f.endsWith('.sst'))!;
    flip(join(dir, sst), statSync(join(dir, sst)).size - 3);
    const db = new LsmLevel(dir);
    await db.open();
    const err = unwrap(await db.get('key-0001').catch((e: unknown) => e));
    expect(err).toBeInstanceOf(CorruptTableError);
    expect((err as Error).message).toContain(sst);
    await db.close();
  });

  it('a flipped byte in a manifest edit: CorruptManifestError with file and offset', async () => {
    const dir = join(root, `manifest-${n++}`);
    // Two flushes in one session leave a manifest with three edits.
    const db0 = new LsmLevel(dir);
    await db0.open();
    await db0.put('a', '1');
    await db0.flush();
    await db0.put('b', '2');
    await db0.flush();
    await db0.close();
    const current = readFileSync(join(dir, 'CURRENT'), 'utf8').trim();
    const seg = readdirSync(join(dir, current)).find((f) => f.endsWith('.seg'))!;
    flip(join(dir, current, seg), 12);
    const db = new LsmLevel(dir);
    const err = unwrap(await db.open().catch((e: unknown) => e));
    expect(err).toBeInstanceOf(CorruptManifestError);
    expect((err as CorruptionError).code).toBe('DDIA_ERR_LSM_CORRUPT_MANIFEST');
    expect((err as CorruptManifestError).file).toBe(`${current}/${seg}`);
    expect((err as CorruptManifestError).offset).toBe(0);
  });

  it('a missing table file: CorruptManifestError naming it', async () => {
    const dir = join(root, `missing-${n++}`);
    await fill(dir, 20, true);
    const sst = readdirSync(dir).find((f) => f.endsWith('.sst'))!;
    rmSync(join(dir, sst));
    const err = unwrap(await new LsmLevel(dir).open().catch((e: unknown) => e));
    expect(err).toBeInstanceOf(CorruptManifestError);
    expect((err as Error).message).toContain(sst);
  });
});
