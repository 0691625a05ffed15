// One power-loss trial of the disk TSDB, deterministic from a seed (the shape of common's
// log-power-loss trial). Scrapes of a few series (plain values, NaN, ±Inf, -0 and staleness
// markers) are ingested into a DiskTsdb on testkit's FaultFileSystem, with syncs and block cuts
// (compactions, which write a block file and checkpoint the WAL into a new generation) along
// the way, until the power is cut at a random file-system operation. The TSDB is then reopened
// on what survived and checked:
//   - every acknowledged sample is there, with its exact value or staleness (acknowledged: its
//     ingest resolved under walFsync 'always'/'group', or a sync() begun after it resolved);
//   - every sample there was ingested, at that time, with that value (no garbage, no NaN that
//     was a marker or marker that was a NaN);
//   - per series, what survived is a prefix of what was ingested (no holes).
// Then a second round on the recovered TSDB (more acknowledged scrapes, a second crash) also
// checks that whatever the first recovery showed is still there: open() made it durable.
import { type FsyncPolicy, SeededRandom } from '@ddia/common';
import { type CrashReport, FaultFileSystem, settleUnlessCrash } from '@ddia/testkit';
import { type Labels, labelsFromRecord } from '../src/core/labels.js';
import { newMatcher } from '../src/core/matchers.js';
import { DiskTsdb } from '../src/storage/disk-tsdb.js';

export const DATA_DIR = '/data/tsdb';
const STEP_MS = 15_000;

export interface TrialOptions {
  seed: number;
  /** Sync points the file system skips (the mutation check). */
  skipSyncPoints?: string[];
}

export interface TrialResult {
  seed: number;
  failure: string | null;
  /** Recovery refused a WAL whose unsynced sectors were reordered (accepted, counted). */
  refused: string | null;
  config: string;
  blocksWritten: number;
  crashes: (CrashReport | null)[];
}

interface Config {
  fsync: FsyncPolicy;
  series: number;
  rounds: number;
  blockRangeMs: number;
  compactChance: number;
  syncChance: number;
}

function configFor(random: SeededRandom): Config {
  return {
    fsync: random.pick(['always', 'group', 'never'] as const),
    series: random.int(1, 4),
    // A head chunk seals at 120 samples; blocks are cut from sealed chunks only.
    rounds: random.int(150, 260),
    blockRangeMs: STEP_MS * random.pick([20, 40]),
    compactChance: random.pick([0.05, 0.1]),
    syncChance: random.pick([0.02, 0.1]),
  };
}

type Value = number | 'stale';

/** The value series `s` gets at round `r` (deterministic: the check recomputes nothing, it looks up). */
function valueFor(random: SeededRandom, r: number, s: number): Value {
  const roll = random.int(0, 19);
  if (roll === 0) return 'stale';
  if (roll === 1) return Number.NaN;
  if (roll === 2) return random.pick([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0]);
  return r * 1.5 + s + random.int(0, 3) / 8;
}

/** What was ingested and what was acknowledged. */
class Expectation {
  /** Per series: ingested [t, value] in order. */
  readonly ingested: [number, Value][][];
  /** Per series: how many of its first samples are acknowledged durable. */
  readonly acked: number[];
  /** Per series: samples a previous recovery showed (they must stay). */
  readonly recovered: number[];
  /** The file system's op count when the first block was cut (the dry run aims crashes after it). */
  opsAtFirstBlock: number | null = null;
  constructor(series: number) {
    this.ingested = Array.from({ length: series }, () => []);
    this.acked = Array(series).fill(0);
    this.recovered = Array(series).fill(0);
  }
}

function labelsOf(s: number): Labels {
  return labelsFromRecord({ __name__: 'power_loss', series: String(s) });
}

async function workload(
  tsdb: DiskTsdb,
  fs: FaultFileSystem,
  config: Config,
  random: SeededRandom,
  expect: Expectation,
  firstRound: number,
  rounds: number,
  forceSync: boolean,
): Promise<number> {
  let blocks = 0;
  for (let r = firstRound; r < firstRound + rounds && !fs.isCrashed; r++) {
    const t = (r + 1) * STEP_MS;
    const batch: { s: number; v: Value }[] = [];
    for (let s = 0; s < config.series; s++) {
      if (random.chance(0.85)) batch.push({ s, v: valueFor(random, r, s) });
    }
    for (const { s, v } of batch) expect.ingested[s]!.push([t, v]);
    const done = await settleUnlessCrash(
      tsdb.ingest(
        batch.map(({ s, v }) => ({
          labels: labelsOf(s),
          t,
          value: v === 'stale' ? Number.NaN : v,
          stale: v === 'stale',
        })),
      ),
    );
    if (!done.ok) return blocks;
    if (done.value.appended !== batch.length) throw new Error(`round ${r}: ${JSON.stringify(done.value)}`);
    const sync = forceSync || (config.fsync === 'never' && random.chance(config.syncChance));
    if (config.fsync !== 'never') ackAll(expect);
    if (sync) {
      const covered = expect.ingested.map((x) => x.length);
      if (!(await settleUnlessCrash(tsdb.sync())).ok) return blocks;
      covered.forEach((n, s) => {
        expect.acked[s] = Math.max(expect.acked[s]!, n);
      });
    }
    if (random.chance(config.compactChance)) {
      const c = await settleUnlessCrash(tsdb.compact(t));
      if (!c.ok) return blocks;
      if (c.value.block) {
        blocks++;
        expect.opsAtFirstBlock ??= fs.opCount;
      }
    }
  }
  return blocks;
}

function ackAll(expect: Expectation): void {
  expect.ingested.forEach((x, s) => {
    expect.acked[s] = x.length;
  });
}

function show(v: Value): string {
  return v === 'stale' ? 'stale' : Object.is(v, -0) ? '-0' : String(v);
}

/** Checks the recovered TSDB; returns what is wrong, or null. Updates `recovered`. */
function check(tsdb: DiskTsdb, expect: Expectation, config: Config): string | null {
  const found = tsdb.db.select([newMatcher('__name__', '=', 'power_loss')], -Infinity, Infinity);
  const bySeries = new Map(found.map((d) => [Number(d.labels.find(([n]) => n === 'series')![1]), d]));
  for (let s = 0; s < config.series; s++) {
    const d = bySeries.get(s);
    const n = d?.timestamps.length ?? 0;
    const want = expect.ingested[s]!;
    if (n > want.length) return `series ${s}: ${n} samples recovered, only ${want.length} ingested`;
    for (let i = 0; i < n; i++) {
      const got: Value = d!.stale?.[i] === 1 ? 'stale' : d!.values[i]!;
      const [t, v] = want[i]!;
      if (d!.timestamps[i] !== t) {
        return `series ${s} sample ${i}: t=${d!.timestamps[i]}, ingested t=${t} (a hole or garbage)`;
      }
      if (!Object.is(got, v)) return `series ${s} at t=${t}: ${show(got)} recovered, ${show(v)} ingested`;
    }
    if (n < expect.acked[s]!) {
      return `series ${s}: ${n} samples recovered, ${expect.acked[s]} were acknowledged (lost ${want[n]![0]}..)`;
    }
    if (n < expect.recovered[s]!) {
      return `series ${s}: ${n} samples recovered, an earlier recovery showed ${expect.recovered[s]}`;
    }
  }
  return null;
}

/** After a recovery: what is there is the new truth (and durable), the rest never happened. */
function rebase(tsdb: DiskTsdb, expect: Expectation, config: Config): void {
  const found = tsdb.db.select([newMatcher('__name__', '=', 'power_loss')], -Infinity, Infinity);
  for (let s = 0; s < config.series; s++) {
    const d = found.find((x) => x.labels.some(([n, v]) => n === 'series' && v === String(s)));
    const n = d?.timestamps.length ?? 0;
    expect.ingested[s]!.length = n;
    expect.acked[s] = n;
    expect.recovered[s] = n;
  }
}

function describeConfig(c: Config): string {
  return `fsync=${c.fsync} series=${c.series} rounds=${c.rounds} blockRange=${c.blockRangeMs / STEP_MS} steps compact=${c.compactChance} sync=${c.syncChance}`;
}

async function setUp(seed: number, options: TrialOptions): Promise<FaultFileSystem> {
  const fs = new FaultFileSystem({ seed, skipSyncPoints: options.skipSyncPoints });
  await fs.mkdir('/data');
  await fs.fsyncDir('/', 'test.setup');
  return fs;
}

function open(fs: FaultFileSystem, config: Config): Promise<DiskTsdb> {
  return DiskTsdb.open({
    dataDir: DATA_DIR,
    fs,
    walFsync: config.fsync,
    blockRangeMs: config.blockRangeMs,
    // No retention here: every acknowledged sample must be found.
    retentionMs: Number.MAX_SAFE_INTEGER,
  });
}

export async function runTrial(options: TrialOptions): Promise<TrialResult> {
  const { seed } = options;
  const random = new SeededRandom(seed);
  const config = configFor(random);
  const result: TrialResult = {
    seed,
    failure: null,
    refused: null,
    config: describeConfig(config),
    blocksWritten: 0,
    crashes: [],
  };
  // A dry run counts the operations, to cut the power somewhere inside the workload.
  const dry = await setUp(seed, options);
  const dryTsdb = await open(dry, config);
  const dryExpect = new Expectation(config.series);
  const random1 = new SeededRandom(seed + 1);
  await workload(dryTsdb, dry, config, random1, dryExpect, 0, config.rounds, false);
  await dryTsdb.close();
  const total = dry.opCount;

  let fs = await setUp(seed, options);
  // Half the crashes anywhere, half after the first block and checkpoint (when there is one).
  const from = random.chance(0.5) ? (dryExpect.opsAtFirstBlock ?? 0) : 0;
  fs.crashAfter(random.int(from, total));
  const expect = new Expectation(config.series);
  const first = await settleUnlessCrash(open(fs, config));
  if (first.ok) {
    result.blocksWritten += await workload(
      first.value,
      fs,
      config,
      new SeededRandom(seed + 1),
      expect,
      0,
      config.rounds,
      false,
    );
    if (!fs.isCrashed) await first.value.close();
  }
  let nextRound = config.rounds;
  for (let round = 0; round < 2; round++) {
    fs = fs.crash();
    result.crashes.push(fs.lastCrash);
    let tsdb: DiskTsdb;
    try {
      tsdb = await open(fs, config);
    } catch (err) {
      // Reordered unsynced sectors can leave damage that looks like corruption, not a torn
      // tail; the WAL then refuses to open rather than guess (common's Log, FORMAT.md).
      if ((err as Error).name === 'CorruptLogError' && fs.lastCrash?.mode === 'reorder') {
        result.refused = String(err);
        return result;
      }
      result.failure = `crash ${round + 1}: reopen threw ${String(err)}`;
      return result;
    }
    const found = check(tsdb, expect, config);
    if (found) {
      result.failure = `crash ${round + 1}: ${found}`;
      await tsdb.close();
      return result;
    }
    if (round === 1) {
      await tsdb.close();
      break;
    }
    // Round two: the recovered state is the baseline; acknowledged scrapes, another crash.
    rebase(tsdb, expect, config);
    const more = random.int(1, 30);
    fs.crashAfter(random.int(0, more * 4 + 6));
    result.blocksWritten += await workload(
      tsdb,
      fs,
      { ...config, compactChance: 0.2 },
      new SeededRandom(seed + 2),
      expect,
      nextRound,
      more,
      true,
    );
    nextRound += more;
    if (!fs.isCrashed) await tsdb.close();
  }
  return result;
}
