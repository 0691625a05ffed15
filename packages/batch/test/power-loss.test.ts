// The batch engine under simulated power loss: the coordinator's data dir and the job's output,
// and the ETL warehouse, written through testkit's FaultFileSystem (the `fs` option), the power
// cut at every mutating file-system call of a job's commit and of an ETL increment, the
// surviving files reopened. Claims (FORMAT.md, "Crash safety"):
//   - a job that GET /jobs/:id showed as succeeded before the cut is succeeded after it;
//   - a job recorded succeeded has its _SUCCESS and every part file, whole;
//   - the ETL watermark never names a raw file whose partitions (orders, daily_revenue, clicks,
//     sessions, each date the file touched) or dead letters are gone, and a rerun after the cut
//     ends with exactly the warehouse of a run that never crashed.
// Negative control (mutation check): with each of the named sync points skipped, in turn, the
// same sweep finds a violation. Replay: DDIA_SEED=<seed> npx vitest run --project batch power-loss
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileSystem } from '@ddia/common';
import { FaultFileSystem } from '@ddia/testkit';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Coordinator, type TaskOrder } from '../src/coordinator.js';
import { BATCH_SYNC, commitFile, existsOn, listNamesOn } from '../src/disk.js';
import { clicksBatch, customersCsv, ordersBatch } from '../src/etl/generate.js';
import { readArrayBuffer } from '../src/etl/parquet.js';
import { readWatermark, runEtl } from '../src/etl/pipeline.js';
import * as wordcount from '../src/jobs/wordcount.js';
import { runPlan } from '../src/plan-task.js';

const REPLAY = process.env.DDIA_SEED === undefined ? null : Number(process.env.DDIA_SEED);
const DATA = '/data';
const OUTPUT = '/out/words';
const WAREHOUSE = '/warehouse';
const REDUCES = 2;

let dir: string;
let raw: string;
let words: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ddia-batch-power-'));
  words = join(dir, 'words.txt');
  await writeFile(words, 'a b c\nb c\nc\n');
  raw = join(dir, 'raw');
  await mkdir(raw);
  await writeFile(join(raw, 'customers.csv'), customersCsv(7));
  await writeFile(join(raw, 'orders-0001.csv'), ordersBatch(71, 0, 12, ['2024-03-01']));
  await writeFile(join(raw, 'orders-0002.csv'), ordersBatch(72, 100, 12, ['2024-03-01', '2024-03-02']));
  await writeFile(join(raw, 'clicks-0001.jsonl'), clicksBatch(73, 12, ['2024-03-01']));
}, 30_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `target` with `hook(method)` run before each of its methods, and `wrap` applied to each result. */
function hooked<T extends object>(
  target: T,
  hook: (method: string) => void,
  wrap: (result: unknown) => unknown = (r) => r,
): T {
  return new Proxy(target, {
    get(object, prop) {
      const value = Reflect.get(object, prop, object);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        hook(String(prop));
        return wrap(value.apply(object, args));
      };
    },
  });
}

/** A file system that runs `hook` before every call: what a client could read just before the cut. */
const observed = (fs: FileSystem, hook: () => void): FileSystem => hooked(fs, hook);

/** `fs` recording the op count at each file or directory sync: the cut points of a sweep. */
function syncOps(fs: FaultFileSystem): { fs: FileSystem; ops: number[] } {
  const ops: number[] = [];
  const onSync = (method: string) => {
    if (method === 'sync' || method === 'datasync' || method === 'fsyncDir') ops.push(fs.opCount);
  };
  const handles = (result: unknown) =>
    result instanceof Promise
      ? result.then((h: unknown) => (typeof h === 'object' && h !== null ? hooked(h, onSync) : h))
      : result;
  return { ops, fs: hooked(fs, onSync, handles) };
}

const partName = (r: number) => `part-${String(r).padStart(5, '0')}`;
/** A part file big enough to tear at 512 bytes and 4 KiB. */
const partBytes = (r: number) => Buffer.from(`reduce ${r}\n`.repeat(700));

/** A reduce attempt as a worker runs it: write into _temporary, then commitFile into place. */
async function reduceAttempt(fs: FileSystem, order: TaskOrder): Promise<void> {
  const temp = join(order.output, '_temporary', order.assignment.attemptId, partName(order.assignment.index));
  await fs.mkdir(join(order.output, '_temporary', order.assignment.attemptId), { recursive: true });
  const handle = await fs.open(temp, { write: true, create: true, truncate: true });
  const bytes = partBytes(order.assignment.index);
  await handle.write(bytes, 0, bytes.length, 0);
  await handle.close();
  await commitFile(temp, join(order.output, partName(order.assignment.index)), fs);
}

const coordinatorOn = (fs: FileSystem) =>
  new Coordinator({ dataDir: DATA, fs, plan: (request) => runPlan(request, wordcount) });

/** Submits a job, runs its tasks as a worker would, lets it commit. `seen`: the last status a client could read. */
async function jobWorkload(fs: FaultFileSystem): Promise<{ id: string | null; seen: string | null }> {
  const out: { id: string | null; seen: string | null } = { id: null, seen: null };
  let coordinator: Coordinator | null = null;
  const look = () => {
    if (coordinator && out.id) out.seen = coordinator.job(out.id).status;
  };
  const fsSeen = observed(fs, look);
  try {
    coordinator = coordinatorOn(fsSeen);
    await coordinator.open();
    out.id = (
      await coordinator.submit({
        job: 'wordcount',
        inputs: [{ path: words }],
        output: OUTPUT,
        reduces: REDUCES,
      })
    ).id;
    const { workerId } = coordinator.register('http://worker.invalid', 2);
    for (let order = coordinator.nextTask(workerId); order; order = coordinator.nextTask(workerId)) {
      if (order.assignment.kind === 'reduce') await reduceAttempt(fsSeen, order);
      coordinator.report(workerId, order.assignment.attemptId, { status: 'completed', counters: {} });
    }
    await coordinator.tick();
  } catch (err) {
    if (!fs.isCrashed) throw err;
  }
  await coordinator?.settled();
  look();
  return out;
}

/** One power cut during a job: null if the claims hold, else what broke. */
async function jobTrial(crashAt: number, seed: number, skip: string[]): Promise<string | null> {
  const fs = new FaultFileSystem({
    seed,
    skipSyncPoints: skip,
    ...(seed % 2 === 0 ? { crashMode: 'lose-all' } : {}),
  });
  fs.crashAfter(crashAt);
  const { id, seen } = await jobWorkload(fs);
  const after = fs.crash();
  const where = `crash at op ${crashAt}, seed ${seed}: ${JSON.stringify(after.lastCrash)}`;
  const coordinator = coordinatorOn(after);
  try {
    await coordinator.open();
  } catch (err) {
    return `reopening threw ${String(err)} (${where})`;
  }
  const record = id === null ? undefined : coordinator.jobs().find((j) => j.id === id);
  if (seen === 'succeeded' && record?.status !== 'succeeded')
    return `a client saw ${id} succeed; after the cut it is ${record?.status ?? 'gone'} (${where})`;
  if (record?.status !== 'succeeded') return null;
  if (!(await existsOn(after, join(OUTPUT, '_SUCCESS'))))
    return `${id} succeeded without _SUCCESS (${where})`;
  for (let r = 0; r < REDUCES; r++) {
    const path = join(OUTPUT, partName(r));
    const bytes = (await existsOn(after, path)) ? Buffer.from(await after.readFile(path)) : null;
    if (!bytes?.equals(partBytes(r)))
      return `${id} succeeded; ${partName(r)} is ${bytes ? 'torn' : 'gone'} (${where})`;
  }
  return null;
}

const DATASETS = ['orders', 'daily_revenue', 'clicks', 'sessions'] as const;

/** Everything a warehouse holds, decoded (Parquet rows, dead letters, the watermark's keys). */
async function warehouseOf(fs: FileSystem): Promise<string> {
  const out: Record<string, unknown> = {};
  for (const dataset of DATASETS) {
    for (const date of await listNamesOn(fs, join(WAREHOUSE, dataset))) {
      const file = await readArrayBuffer(fs, join(WAREHOUSE, dataset, date, 'part-0.parquet'));
      out[`${dataset}/${date}`] = await parquetReadObjects({ file });
    }
  }
  for (const name of await listNamesOn(fs, join(WAREHOUSE, '_rejected'))) {
    if (!name.startsWith('.'))
      out[`_rejected/${name}`] = Buffer.from(
        await fs.readFile(join(WAREHOUSE, '_rejected', name)),
      ).toString();
  }
  const watermark = await readWatermark(WAREHOUSE, fs);
  out.watermark = [Object.keys(watermark.applied).sort(), Object.keys(watermark.clicks ?? {}).sort()];
  return JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
}

const etl = (fs: FileSystem) => runEtl(raw, WAREHOUSE, { fs });

/**
 * One power cut during an ETL run: null if the claims hold, else what broke. With a
 * `reference`, the warehouse is also brought up to date after the cut and compared with it.
 */
async function etlTrial(
  crashAt: number,
  seed: number,
  skip: string[],
  reference: string | null,
): Promise<string | null> {
  const fs = new FaultFileSystem({
    seed,
    skipSyncPoints: skip,
    ...(seed % 2 === 0 ? { crashMode: 'lose-all' } : {}),
  });
  fs.crashAfter(crashAt);
  await etl(fs).catch((err) => {
    if (!fs.isCrashed) throw err;
  });
  const after = fs.crash();
  const where = `crash at op ${crashAt}, seed ${seed}: ${JSON.stringify(after.lastCrash)}`;
  try {
    const watermark = await readWatermark(WAREHOUSE, after);
    const named = [
      ...Object.entries(watermark.applied).map(
        ([name, e]) => [name, e, ['orders', 'daily_revenue']] as const,
      ),
      ...Object.entries(watermark.clicks ?? {}).map(
        ([name, e]) => [name, e, ['clicks', 'sessions']] as const,
      ),
    ];
    for (const [name, entry, datasets] of named) {
      if (!(await existsOn(after, join(WAREHOUSE, '_rejected', `${name}.jsonl`))))
        return `the watermark names ${name}; its dead letters are gone (${where})`;
      for (const dataset of datasets) {
        for (const date of entry.dates) {
          const path = join(WAREHOUSE, dataset, `date=${date}`, 'part-0.parquet');
          if (!(await existsOn(after, path)))
            return `the watermark names ${name}; ${dataset}/date=${date} is gone (${where})`;
          // A partition cut short is refused by the Parquet reader (it throws).
          await parquetReadObjects({ file: await readArrayBuffer(after, path) });
        }
      }
    }
    if (reference === null) return null;
    await etl(after);
    if ((await warehouseOf(after)) !== reference)
      return `a rerun after the cut differs from a run without one (${where})`;
  } catch (err) {
    return `recovery threw ${String(err)} (${where})`;
  }
  return null;
}

/** Cuts the power at each of `points` (op counts), `seedsPerPoint` seeds each (even seeds, the first, lose every unsynced op). */
async function sweep(
  trial: (crashAt: number, seed: number) => Promise<string | null>,
  points: number[],
  seedsPerPoint: number,
  stopAtFirst: boolean,
): Promise<string[]> {
  const failures: string[] = [];
  for (const crashAt of points) {
    const seeds = Array.from({ length: seedsPerPoint }, (_, i) => crashAt * seedsPerPoint + i);
    for (const seed of REPLAY !== null ? [REPLAY] : seeds) {
      const failure = await trial(crashAt, seed);
      if (failure) {
        failures.push(failure);
        if (stopAtFirst) return failures;
      }
    }
  }
  return failures;
}

/** 0..n: every mutating call of a run, and its end. */
const everyOp = (n: number) => Array.from({ length: n + 1 }, (_, i) => i);

describe('power loss', () => {
  it('a job seen succeeded keeps its record, _SUCCESS and parts; each commit sync point is needed', async () => {
    const dry = new FaultFileSystem({ seed: 1 });
    expect((await jobWorkload(dry)).seen).toBe('succeeded');
    const points = everyOp(dry.opCount);
    expect(await sweep((at, seed) => jobTrial(at, seed, []), points, 1, false)).toEqual([]);
    // Mutation check. partDir is left out: the _SUCCESS directory fsync of the same directory
    // also makes every part's rename durable before the job can read as succeeded.
    const needed = [
      BATCH_SYNC.jobsDir,
      BATCH_SYNC.outputDir,
      BATCH_SYNC.partFile,
      BATCH_SYNC.success,
      `${BATCH_SYNC.record}.file`,
      `${BATCH_SYNC.record}.dir`,
    ];
    for (const point of needed) {
      const caught = await sweep((at, seed) => jobTrial(at, seed, [point]), points, 2, true);
      expect(caught, `skipping ${point}`).not.toEqual([]);
    }
  }, 30_000);

  it('the ETL watermark never names a partition that is gone; each sync point it relies on is needed', async () => {
    const clean = new FaultFileSystem({ seed: 1 });
    const probe = syncOps(clean);
    await etl(probe.fs);
    const reference = await warehouseOf(clean);
    expect(reference).toContain('sessions/date=2024-03-01');
    // The cut at each sync call (what was written since the previous one survives in part or
    // not at all) and at the end; every sixteenth cut is also rerun and compared.
    const points = [...probe.ops, clean.opCount];
    expect(points.length).toBeGreaterThan(30);
    const failures = await sweep(
      (at, seed) => etlTrial(at, seed, [], points.indexOf(at) % 16 === 0 ? reference : null),
      points,
      1,
      false,
    );
    expect(failures).toEqual([]);
    // Mutation check, from the last cut back (a skipped sync shows once later writes rely on
    // it). The watermark's directory fsync is left out: a rename that reverts only applies a
    // file again, which the upserts make harmless.
    const last = [...points].reverse();
    for (const point of [
      BATCH_SYNC.etlDir,
      `${BATCH_SYNC.etlPartition}.file`,
      `${BATCH_SYNC.etlPartition}.dir`,
      `${BATCH_SYNC.etlRejected}.dir`,
      `${BATCH_SYNC.etlWatermark}.file`,
    ]) {
      const caught = await sweep((at, seed) => etlTrial(at, seed, [point], null), last, 2, true);
      expect(caught, `skipping ${point}`).not.toEqual([]);
    }
  }, 30_000);
});
