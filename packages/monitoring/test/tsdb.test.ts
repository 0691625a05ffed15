import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFileSystem } from '@ddia/common';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeBlock } from '../src/core/block-format.js';
import { labelsFromRecord, labelsToRecord } from '../src/core/labels.js';
import { newMatcher } from '../src/core/matchers.js';
import { MemoryTsdb } from '../src/core/tsdb.js';
import { DiskTsdb } from '../src/storage/disk-tsdb.js';
import { TsdbFiles } from '../src/storage/files.js';

const tsdbFiles = new TsdbFiles(nodeFileSystem);

const L = labelsFromRecord;
const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ddia-monitoring-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('series index and matchers', () => {
  const db = new MemoryTsdb();
  db.append(L({ __name__: 'up', job: 'api', node: 'n1' }), 1000, 1);
  db.append(L({ __name__: 'up', job: 'api', node: 'n2' }), 1000, 0);
  db.append(L({ __name__: 'up', job: 'db', node: 'n1' }), 1000, 1);
  db.append(L({ __name__: 'errors_total', job: 'api' }), 1000, 5);
  const names = (ms: ReturnType<typeof newMatcher>[]) =>
    db.select(ms, 0, 2000).map((s) => Object.values(labelsToRecord(s.labels)).join('/'));

  it('selects with =, !=, =~, !~', () => {
    expect(names([newMatcher('__name__', '=', 'up'), newMatcher('job', '=', 'api')])).toEqual([
      'up/api/n1',
      'up/api/n2',
    ]);
    expect(names([newMatcher('__name__', '=', 'up'), newMatcher('node', '!=', 'n1')])).toEqual(['up/api/n2']);
    expect(names([newMatcher('job', '=~', 'a.*')])).toEqual(['up/api/n1', 'up/api/n2', 'errors_total/api']);
    expect(names([newMatcher('__name__', '=', 'up'), newMatcher('job', '!~', 'ap.')])).toEqual(['up/db/n1']);
  });

  it('treats a matcher that accepts "" as matching series without the label', () => {
    expect(names([newMatcher('node', '=', '')])).toEqual(['errors_total/api']);
    expect(names([newMatcher('job', '=~', 'api'), newMatcher('node', '=~', 'n2|')])).toEqual([
      'up/api/n2',
      'errors_total/api',
    ]);
  });

  it('anchors regular expressions', () => {
    expect(names([newMatcher('job', '=~', 'p')])).toEqual([]);
    expect(() => newMatcher('job', '=~', '(')).toThrow(/invalid regular expression/);
  });

  it('lists label names and values', () => {
    expect(db.index.labelNames()).toEqual(['__name__', 'job', 'node']);
    expect(db.index.labelValues('node')).toEqual(['n1', 'n2']);
  });
});

describe('head', () => {
  it('refuses out-of-order samples and ignores exact duplicates', () => {
    const db = new MemoryTsdb();
    const l = L({ __name__: 'x' });
    expect(db.append(l, 2000, 1).outcome).toBe('ok');
    expect(db.append(l, 2000, 1).outcome).toBe('duplicate');
    expect(db.append(l, 2000, 2).outcome).toBe('out-of-order');
    expect(db.append(l, 1000, 2).outcome).toBe('out-of-order');
    expect(db.append(l, 3000, Number.NaN, true).outcome).toBe('ok');
    expect(db.append(l, 3000, Number.NaN, true).outcome).toBe('duplicate');
    expect(db.append(l, 3000, Number.NaN).outcome).toBe('out-of-order');
    const [s] = db.select([newMatcher('__name__', '=', 'x')], 0, 5000);
    expect(s!.timestamps).toEqual([2000, 3000]);
    expect(s!.stale).toEqual(Uint8Array.of(0, 1));
  });

  it('returns the same samples across many chunks and a time window', () => {
    const db = new MemoryTsdb();
    const l = L({ __name__: 'x' });
    for (let i = 0; i < 1000; i++) db.append(l, i * 15_000, i * 1.5);
    const [s] = db.select([newMatcher('__name__', '=', 'x')], 150_000, 300_000);
    expect(s!.timestamps).toEqual(Array.from({ length: 11 }, (_, i) => 150_000 + i * 15_000));
    expect(s!.values[0]).toBe(15);
  });
});

describe('disk TSDB', () => {
  it('replays the WAL after a clean reopen', async () => {
    const dataDir = await tempDir();
    const a = await DiskTsdb.open({ dataDir });
    await a.ingest([
      { labels: L({ __name__: 'm', k: 'a' }), t: 1000, value: 1 },
      { labels: L({ __name__: 'm', k: 'b' }), t: 1000, value: Number.NaN, stale: true },
      { labels: L({ __name__: 'm', k: 'c' }), t: 1000, value: Number.NaN },
    ]);
    await a.ingest([{ labels: L({ __name__: 'm', k: 'a' }), t: 2000, value: 2 }]);
    await a.close();
    const b = await DiskTsdb.open({ dataDir });
    expect(b.replayed).toBe(4);
    const out = b.db.select([newMatcher('__name__', '=', 'm')], 0, 5000);
    expect(out.map((s) => s.timestamps)).toEqual([[1000, 2000], [1000], [1000]]);
    // The marker survives the WAL; an exporter's plain NaN stays a plain NaN.
    expect(out.map((s) => s.stale)).toEqual([null, Uint8Array.of(1), null]);
    expect(out[2]!.values[0]).toBeNaN();
    // A second reopen sees the checkpointed WAL, not twice the samples.
    await b.close();
    const c = await DiskTsdb.open({ dataDir });
    expect(c.db.select([newMatcher('__name__', '=', 'm')], 0, 5000)[0]!.values).toEqual([1, 2]);
    await c.close();
  });

  it('flushes old chunks to a block, keeps serving them, and drops them after retention', async () => {
    const dataDir = await tempDir();
    const blockRangeMs = 3_600_000;
    const tsdb = await DiskTsdb.open({ dataDir, blockRangeMs, retentionMs: 4 * blockRangeMs });
    const l = L({ __name__: 'g', job: 'j' });
    const stepMs = 15_000;
    const count = Math.ceil((2 * blockRangeMs) / stepMs);
    for (let i = 0; i < count; i++) await tsdb.ingest([{ labels: l, t: i * stepMs, value: i }]);
    const { block } = await tsdb.compact(count * stepMs);
    expect(block).not.toBeNull();
    const files = await tsdbFiles.listFiles(join(dataDir, 'blocks'), '.block');
    expect(files).toEqual([block]);
    const onDisk = decodeBlock(await tsdbFiles.readBytes(join(dataDir, 'blocks', block!)));
    expect(onDisk.series[0]!.chunks.length).toBeGreaterThan(0);
    const all = () => tsdb.db.select([newMatcher('__name__', '=', 'g')], 0, count * stepMs)[0]!;
    expect(all().timestamps.length).toBe(count);
    await tsdb.close();
    // After a restart the block and the WAL together still hold every sample, once.
    const again = await DiskTsdb.open({ dataDir, blockRangeMs, retentionMs: 4 * blockRangeMs });
    const s = again.db.select([newMatcher('__name__', '=', 'g')], 0, count * stepMs)[0]!;
    expect(s.timestamps.length).toBe(count);
    expect(s.values[count - 1]).toBe(count - 1);
    const { dropped } = await again.compact(100 * blockRangeMs);
    expect(dropped).toEqual([block]);
    expect(await tsdbFiles.listFiles(join(dataDir, 'blocks'), '.block')).toEqual([]);
    await again.close();
  });

  it('SIGKILL during ingest loses at most the samples after the last WAL sync', async () => {
    const dataDir = await tempDir();
    const child = spawn(process.execPath, [join(__dirname, 'support/ingest-child.mjs'), dataDir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let lastSynced = 0;
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        for (const m of chunk.toString().matchAll(/synced (\d+)/g)) lastSynced = Number(m[1]);
        if (lastSynced >= 70) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => resolve());
      child.on('error', reject);
    });
    await new Promise((r) => child.once('exit', r).once('close', r));
    expect(lastSynced).toBeGreaterThanOrEqual(70);
    const tsdb = await DiskTsdb.open({ dataDir });
    const series = tsdb.db.select(
      [newMatcher('__name__', '=', 'crash_test_total')],
      0,
      Number.MAX_SAFE_INTEGER,
    );
    expect(series).toHaveLength(20);
    for (const s of series) {
      const i = Number(labelsToRecord(s.labels).series);
      // Every synced scrape is there, in order, with no gap and the right value.
      expect(s.timestamps.length).toBeGreaterThanOrEqual(lastSynced);
      s.timestamps.forEach((t, k) => {
        expect(t).toBe((k + 1) * 1000);
        expect(s.values[k]).toBe((k + 1) * 20 + i);
      });
    }
    await tsdb.close();
  });
});
