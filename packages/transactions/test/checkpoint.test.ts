// WAL checkpoints: a restart loads the checkpoint and replays only the WAL after it, the
// segments behind it are deleted, prepared transactions stay in doubt across it, and a
// damaged checkpoint is refused rather than half loaded. On testkit's FaultFileSystem used as
// a plain in-memory disk (power-loss.test.ts cuts the power inside checkpoints).
import { CorruptionError, ManualClock } from '@ddia/common';
import { FaultFileSystem } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import {
  CHECKPOINT_FILE,
  CheckpointCorruptError,
  encodeCheckpointFile,
} from '../src/durability/checkpoint.js';
import { type OpenDatabaseOptions, openDatabase } from '../src/durability/wal.js';

const SMALL_SEGMENTS = { walSegmentBytes: 512 };

async function disk(): Promise<FaultFileSystem> {
  const fs = new FaultFileSystem({ seed: 1 });
  await fs.mkdir('/data');
  return fs;
}

const open = (fs: FaultFileSystem, extra: Partial<OpenDatabaseOptions> = {}) =>
  openDatabase({
    clock: new ManualClock(),
    dataDir: '/data',
    fs,
    checkpointWalBytes: 0,
    ...SMALL_SEGMENTS,
    ...extra,
  });

async function transfers(db: Awaited<ReturnType<typeof openDatabase>>['db'], count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await db.transact('read-committed', async (s) => {
      await s.update('accounts', `id = ${i % 4}`, { balance: 'balance - 1' });
      await s.update('accounts', `id = ${(i + 1) % 4}`, { balance: 'balance + 1' });
    });
  }
}

async function segments(fs: FaultFileSystem): Promise<string[]> {
  return (await fs.readdir('/data/wal')).filter((n) => n.endsWith('.seg')).sort();
}

describe('WAL checkpoint', () => {
  it('a restart loads the checkpoint and replays only the records after it; the WAL behind it is deleted', async () => {
    const fs = await disk();
    const first = await open(fs);
    await first.db.createTable('accounts', 'id');
    await first.db.transact('read-committed', async (s) => {
      for (let id = 0; id < 4; id++) await s.insert('accounts', { id, balance: 100 });
    });
    await transfers(first.db, 40);
    const before = await segments(fs);
    const stats = await first.checkpoint();
    expect(stats).toMatchObject({ walIndex: 42, rows: 4 });
    const after = await segments(fs);
    expect(after.length).toBeLessThan(before.length);
    expect(after[0]! > before[0]!).toBe(true);
    await transfers(first.db, 3);
    const expected = first.db.committedRows('accounts');
    await first.close();

    const second = await open(fs);
    expect(second.checkpointWalIndex).toBe(42);
    expect(second.recovered).toBe(3);
    expect(second.db.committedRows('accounts')).toEqual(expected);
    expect(expected.reduce((sum, r) => sum + (r.balance as number), 0)).toBe(400);
    await second.close();
  });

  it('takes checkpoints on its own as the WAL grows', async () => {
    const fs = await disk();
    const opened = await open(fs, { checkpointWalBytes: 2_000 });
    await opened.db.createTable('accounts', 'id');
    await opened.db.transact('read-committed', async (s) => {
      for (let id = 0; id < 4; id++) await s.insert('accounts', { id, balance: 100 });
    });
    await transfers(opened.db, 100);
    const expected = opened.db.committedRows('accounts');
    await opened.close();
    expect(fs.syncPointCalls.get('tx.checkpoint.file') ?? 0).toBeGreaterThanOrEqual(3);
    const again = await open(fs);
    expect(again.checkpointWalIndex).toBeGreaterThan(0);
    expect(again.recovered).toBeLessThan(100);
    expect(again.db.committedRows('accounts')).toEqual(expected);
    await again.close();
  });

  it('a prepared transaction stays in doubt across a checkpoint, and its decision after it is replayed', async () => {
    const fs = await disk();
    const first = await open(fs);
    await first.db.createTable('t', 'id');
    await first.db.transact('read-committed', (s) => s.insert('t', { id: 1, n: 0 }));
    const a = await first.db.begin('repeatable-read');
    await first.db.update(a, 't', 'id = 1', { n: 'n + 5' });
    await first.db.prepare(a, 'g1');
    const b = await first.db.begin('repeatable-read');
    await first.db.insert(b, 't', { id: 2, n: 7 });
    await first.db.prepare(b, 'g2');
    await first.checkpoint();
    await first.close();

    const second = await open(fs);
    expect(second.recovered).toBe(0);
    expect(second.db.preparedIds().sort()).toEqual(['g1', 'g2']);
    expect(second.db.committedRows('t')).toEqual([{ id: 1, n: 0 }]);
    await second.db.commitPrepared('g1');
    await second.db.rollbackPrepared('g2');
    await second.close();

    const third = await open(fs);
    expect(third.recovered).toBe(2);
    expect(third.db.preparedIds()).toEqual([]);
    expect(third.db.committedRows('t')).toEqual([{ id: 1, n: 5 }]);
    await third.checkpoint();
    await third.close();
    const fourth = await open(fs);
    expect(fourth.recovered).toBe(0);
    expect(fourth.db.committedRows('t')).toEqual([{ id: 1, n: 5 }]);
    await fourth.close();
  });

  it('refuses a damaged checkpoint, and one that covers more WAL than exists, with a named error', async () => {
    const fs = await disk();
    const first = await open(fs);
    await first.db.createTable('t', 'id');
    await first.db.transact('read-committed', (s) => s.insert('t', { id: 1 }));
    await first.checkpoint();
    await first.close();
    const good = await fs.readFile(`/data/${CHECKPOINT_FILE}`);

    const flipped = Uint8Array.from(good);
    flipped[flipped.length - 3]! ^= 0x01;
    await writeRaw(fs, flipped);
    await expect(open(fs)).rejects.toThrow(CheckpointCorruptError);

    await writeRaw(fs, good.subarray(0, good.length - 1));
    await expect(open(fs)).rejects.toThrow(/header says/);

    await writeRaw(fs, encodeCheckpointFile({ walIndex: 999, tables: [], prepared: [] }));
    const err = await open(fs).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptionError);
    expect(String(err)).toMatch(/covers the WAL up to index 999, but the WAL holds \[0, 2\)/);

    await writeRaw(fs, good);
    const healed = await open(fs);
    expect(healed.db.committedRows('t')).toEqual([{ id: 1 }]);
    await healed.close();
  });
});

async function writeRaw(fs: FaultFileSystem, bytes: Uint8Array): Promise<void> {
  const handle = await fs.open(`/data/${CHECKPOINT_FILE}`, { write: true, create: true, truncate: true });
  await handle.write(bytes, 0, bytes.length, 0);
  await handle.close();
}
