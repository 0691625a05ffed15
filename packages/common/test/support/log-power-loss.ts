// One power-loss trial of common's Log, deterministic from a seed: a workload of concurrent
// appends, syncs, truncations, prefix drops and resets runs on testkit's FaultFileSystem
// until the power is cut at a random operation; the log is then reopened on what survived
// and checked against what was acknowledged. Then a second round: a few more acknowledged
// appends on the recovered log, a second crash, a second check.
//
// The checks:
//   - recovery succeeds (with a bit flip injected it may instead throw CorruptLogError, which
//     must name the damaged file and an offset at or before the flipped byte);
//   - every acknowledged record is present with its exact bytes (durable under the policy:
//     'always' and 'group' on resolve; 'never' once an append with { sync: true } or sync()
//     that covers it resolved);
//   - every record present is one that was appended at that index, byte for byte (no garbage),
//     and none that an acknowledged truncateSuffix or reset removed comes back;
//   - an acknowledged dropPrefix or reset is not undone (firstIndex does not go back).
import { CorruptLogError, type FsyncPolicy, Log, type LogOptions, SeededRandom } from '@ddia/common';
import { type CrashReport, FaultFileSystem, isSimulatedCrash, settleUnlessCrash } from '@ddia/testkit';

export const LOG_DIR = '/data/log';

export interface TrialOptions {
  seed: number;
  /** Sync points the file system skips (mutation check). */
  skipSyncPoints?: string[];
  /** Chance of a bit flip per crash. */
  bitFlipChance?: number;
}

export interface TrialResult {
  seed: number;
  /** Why the trial failed, or null. */
  failure: string | null;
  /** The trial ended with a corruption error that the checks accept (a bit flip). */
  corruptionReported: boolean;
  /** Recovery refused a log whose unsynced sectors were reordered (an accepted outcome). */
  refusedAfterReorder: string | null;
  config: string;
  crashes: (CrashReport | null)[];
}

interface Config {
  fsync: FsyncPolicy;
  io: 'pool' | 'inline';
  preallocateBytes: number;
  segmentBytesMax: number;
  writers: number;
  rounds: number;
  /** 'queued': append() through the write queue; 'appendSync': write(2) on the caller's
   *  thread (the LSM engine's WAL), with roll() when the segment is full and sync() calls. */
  appender: 'queued' | 'appendSync';
}

function configFor(random: SeededRandom): Config {
  const fsync = random.pick(['always', 'group', 'never'] as const);
  const io = random.pick(['pool', 'inline'] as const);
  const preallocateBytes = random.pick([0, 0, 2048]);
  const segmentBytesMax = random.pick([1024, 4096, 64 * 1024]);
  const writers = random.int(1, 6);
  const rounds = random.int(3, 14);
  // appendSync does not write around preallocated zeros.
  const appender = preallocateBytes === 0 && random.chance(0.4) ? 'appendSync' : 'queued';
  return { fsync, io, preallocateBytes, segmentBytesMax, writers, rounds, appender };
}

/** A record's bytes say which epoch and index they were appended as, and are checkable. */
export function recordFor(epoch: number, index: number): Uint8Array {
  const head = `e${epoch}i${index}:`;
  const fill = (epoch * 7919 + index * 104_729) % 700;
  const out = Buffer.alloc(head.length + fill);
  out.write(head);
  for (let i = head.length; i < out.length; i++) out[i] = 97 + ((i + index) % 26);
  return out;
}

function parseRecord(record: Uint8Array): { epoch: number; index: number } | null {
  const match = /^e(\d+)i(\d+):/.exec(Buffer.from(record.subarray(0, 40)).toString('latin1'));
  if (!match) return null;
  const epoch = Number(match[1]);
  const index = Number(match[2]);
  return Buffer.from(recordFor(epoch, index)).equals(Buffer.from(record)) ? { epoch, index } : null;
}

/** What the workload was told is durable, and what it may find. */
class Expectation {
  /** index -> epoch of the acknowledged, durable record there. */
  readonly durable = new Map<number, number>();
  /** "epoch:index" of every record ever appended (acknowledged or not). */
  readonly appended = new Set<string>();
  /** Acknowledged removals: a record at index >= from with epoch < epoch must not come back. */
  readonly cuts: { from: number; epoch: number }[] = [];
  /** The log's firstIndex must not fall below this (acknowledged drops and resets). */
  firstIndexFloor = 0;
  epoch = 0;
}

export const trace: string[] = [];

/** appendSync of one record at the log's end (other writers may have appended meanwhile). */
function appendInline(log: Log, epoch: number, expect: Expectation): number | null {
  const index = log.nextIndex;
  expect.appended.add(`${epoch}:${index}`);
  try {
    const at = log.appendSync([recordFor(epoch, index)]);
    if (at !== index) throw new Error(`appendSync returned ${at}, expected ${index}`);
    return at;
  } catch (err) {
    if (isSimulatedCrash(err)) return null;
    throw err;
  }
}

/** Runs the workload until the power goes (or the workload ends). */
async function workload(
  log: Log,
  fs: FaultFileSystem,
  config: Config,
  random: SeededRandom,
  expect: Expectation,
): Promise<void> {
  for (let round = 0; round < config.rounds && !fs.isCrashed; round++) {
    // A burst of concurrent writers: group commit batches them.
    const unsynced: [number, number][] = [];
    const burst = Array.from({ length: config.writers }, async () => {
      const count = random.int(1, 4);
      for (let k = 0; k < count && !fs.isCrashed; k++) {
        const index = log.nextIndex;
        const epoch = expect.epoch;
        expect.appended.add(`${epoch}:${index}`);
        const sync = config.fsync === 'never' && random.chance(0.2);
        if (config.appender === 'appendSync') {
          while (log.rollDue) if (!(await settleUnlessCrash(log.roll())).ok) return;
          const at = appendInline(log, epoch, expect);
          if (at === null) return;
          if (config.fsync !== 'never') expect.durable.set(at, epoch);
          else if (sync) {
            // sync() covers every record written before it was called.
            const covered: [number, number][] = [...unsynced.splice(0), [at, epoch]];
            if (!(await settleUnlessCrash(log.sync())).ok) return;
            for (const [i, e] of covered) expect.durable.set(i, e);
          } else unsynced.push([at, epoch]);
          continue;
        }
        const done = await settleUnlessCrash(log.append(recordFor(epoch, index), { sync }));
        if (!done.ok) return;
        if (done.value !== index) throw new Error(`append returned ${done.value}, expected ${index}`);
        if (config.fsync !== 'never' || sync) {
          expect.durable.set(index, epoch);
          // A synced append covers everything written before it (LevelDB's WriteOptions.sync).
          if (sync) for (const [i, e] of unsynced.splice(0)) if (i < index) expect.durable.set(i, e);
        } else {
          unsynced.push([index, epoch]);
        }
      }
    });
    await Promise.all(burst);
    if (fs.isCrashed) return;
    const action = random.int(0, 9);
    if (config.fsync === 'never' && action <= 3) {
      const covered = [...unsynced];
      if ((await settleUnlessCrash(log.sync())).ok) for (const [i, e] of covered) expect.durable.set(i, e);
    } else if (action === 4 && log.nextIndex > log.firstIndex) {
      const from = random.int(log.firstIndex, log.nextIndex);
      const epochAfter = expect.epoch + 1;
      expect.epoch = epochAfter;
      // Acknowledged or not, the records from `from` on may be gone.
      for (const i of [...expect.durable.keys()]) if (i >= from) expect.durable.delete(i);
      if ((await settleUnlessCrash(log.truncateSuffix(from))).ok)
        expect.cuts.push({ from, epoch: epochAfter });
    } else if (action === 5 && log.nextIndex > log.firstIndex) {
      const before = random.int(log.firstIndex, log.nextIndex);
      for (const i of [...expect.durable.keys()]) if (i < before) expect.durable.delete(i);
      if ((await settleUnlessCrash(log.dropPrefix(before))).ok) {
        expect.firstIndexFloor = Math.max(expect.firstIndexFloor, log.firstIndex);
      }
    } else if (action === 6 && random.chance(0.5)) {
      const next = log.nextIndex + random.int(0, 5);
      const epochAfter = expect.epoch + 1;
      expect.epoch = epochAfter;
      expect.durable.clear();
      if ((await settleUnlessCrash(log.reset(next))).ok) {
        expect.cuts.push({ from: 0, epoch: epochAfter });
        expect.firstIndexFloor = next;
      }
    }
  }
}

/** Checks the recovered log; returns what is wrong, or null. */
async function check(log: Log, expect: Expectation): Promise<string | null> {
  if (log.firstIndex < expect.firstIndexFloor) {
    return `firstIndex ${log.firstIndex} went back below ${expect.firstIndexFloor} (an acknowledged drop or reset undone)`;
  }
  for (const [index, epoch] of expect.durable) {
    if (index < log.firstIndex || index >= log.nextIndex) {
      return `acknowledged record ${index} (epoch ${epoch}) lost: log holds [${log.firstIndex}, ${log.nextIndex})`;
    }
  }
  for await (const { index, record } of log.entries()) {
    const parsed = parseRecord(record);
    if (!parsed || parsed.index !== index) {
      return `record ${index} holds bytes that were never appended there: ${JSON.stringify(Buffer.from(record.subarray(0, 24)).toString('latin1'))}`;
    }
    if (!expect.appended.has(`${parsed.epoch}:${index}`)) {
      return `record ${index} of epoch ${parsed.epoch} was never appended`;
    }
    const cut = expect.cuts.find((c) => index >= c.from && parsed.epoch < c.epoch);
    if (cut)
      return `record ${index} of epoch ${parsed.epoch} came back after an acknowledged cut from ${cut.from}`;
    const want = expect.durable.get(index);
    if (want !== undefined && want !== parsed.epoch) {
      return `record ${index} is of epoch ${parsed.epoch}, the acknowledged one is of epoch ${want}`;
    }
  }
  return null;
}

/** The recovered log as the expectation for the next round: what is there is now durable. */
async function rebase(log: Log, expect: Expectation): Promise<void> {
  expect.durable.clear();
  for await (const { index, record } of log.entries()) {
    expect.durable.set(index, parseRecord(record)!.epoch);
  }
  expect.firstIndexFloor = log.firstIndex;
}

function describeConfig(c: Config): string {
  return `fsync=${c.fsync} io=${c.io} preallocate=${c.preallocateBytes} segment=${c.segmentBytesMax} writers=${c.writers} rounds=${c.rounds} appender=${c.appender}`;
}

async function setUp(seed: number, options: TrialOptions): Promise<FaultFileSystem> {
  const fs = new FaultFileSystem({
    seed,
    skipSyncPoints: options.skipSyncPoints,
    bitFlipChance: options.bitFlipChance,
  });
  await fs.mkdir('/data');
  await fs.fsyncDir('/', 'test.setup');
  return fs;
}

/** Counts the mutating operations the whole workload makes without a crash. */
async function countOps(seed: number, options: TrialOptions, config: Config): Promise<number> {
  const fs = await setUp(seed, options);
  const start = fs.opCount;
  const log = await Log.open(logOptions(fs, config));
  await workload(log, fs, config, new SeededRandom(seed + 1), new Expectation());
  await log.close();
  return fs.opCount - start;
}

function logOptions(fs: FaultFileSystem, config: Config): LogOptions {
  return {
    dir: LOG_DIR,
    fs,
    fsync: config.fsync,
    io: config.io,
    preallocateBytes: config.preallocateBytes,
    segmentBytesMax: config.segmentBytesMax,
  };
}

/** Opens the log on what survived: null and the accepted or rejected error when it refuses. */
async function recover(
  fs: FaultFileSystem,
  config: Config,
): Promise<{ log: Log } | { failure: string } | { corruption: true } | { refused: string }> {
  try {
    return { log: await Log.open(logOptions(fs, config)) };
  } catch (err) {
    const flip = fs.lastCrash?.bitFlip;
    if (err instanceof CorruptLogError && flip) {
      const named = flip.path === `${LOG_DIR}/${err.file}`;
      if (named && err.offset <= flip.offset) return { corruption: true };
      return {
        failure: `corruption error names ${err.file} at ${err.offset}, the flip was ${JSON.stringify(flip)}`,
      };
    }
    // Sectors of unsynced writes reached the disk out of order: the damage can have intact
    // records after it and no lost sector to show it was a crash (FORMAT.md, "Crash safety").
    if (err instanceof CorruptLogError && fs.lastCrash?.mode === 'reorder') return { refused: String(err) };
    return { failure: `recovery threw: ${String(err)}` };
  }
}

export async function runTrial(options: TrialOptions): Promise<TrialResult> {
  const { seed } = options;
  const random = new SeededRandom(seed);
  const config = configFor(random);
  const result: TrialResult = {
    seed,
    failure: null,
    corruptionReported: false,
    refusedAfterReorder: null,
    config: describeConfig(config),
    crashes: [],
  };
  const total = await countOps(seed, options, config);
  let fs = await setUp(seed, options);
  fs.crashAfter(random.int(0, total));
  const expect = new Expectation();
  let log = await settleUnlessCrash(Log.open(logOptions(fs, config)));
  if (log.ok) {
    await workload(log.value, fs, config, new SeededRandom(seed + 1), expect);
    if (!fs.isCrashed) await log.value.close();
  }
  for (let round = 0; round < 2; round++) {
    fs = fs.crash();
    result.crashes.push(fs.lastCrash);
    const recovered = await recover(fs, config);
    if ('failure' in recovered) {
      result.failure = `crash ${round + 1}: ${recovered.failure}`;
      return result;
    }
    if ('corruption' in recovered) {
      result.corruptionReported = true;
      return result;
    }
    if ('refused' in recovered) {
      result.refusedAfterReorder = recovered.refused;
      return result;
    }
    const found = await check(recovered.log, expect);
    const flip = fs.lastCrash?.bitFlip;
    if (found) {
      // A flip in the last segment can look like a torn tail and lose its last records
      // (FORMAT.md, "Crash safety"); wrong bytes are never acceptable.
      const segments = (await fs.readdir(LOG_DIR)).filter((n) => n.endsWith('.seg')).sort();
      const lostTail =
        found.startsWith('acknowledged record') &&
        flip?.path === `${LOG_DIR}/${segments[segments.length - 1]}`;
      if (!lostTail) result.failure = `crash ${round + 1}: ${found}`;
      await recovered.log.close();
      return result;
    }
    if (round === 1) {
      await recovered.log.close();
      break;
    }
    // Round two: acknowledged appends on the recovered log, then another crash.
    await rebase(recovered.log, expect);
    const more = random.int(1, 5);
    fs.crashAfter(random.int(0, more * 3 + 2));
    for (let k = 0; k < more && !fs.isCrashed; k++) {
      const index = recovered.log.nextIndex;
      expect.appended.add(`${expect.epoch}:${index}`);
      const done = await settleUnlessCrash(
        recovered.log.append(recordFor(expect.epoch, index), { sync: true }),
      );
      if (done.ok) expect.durable.set(index, expect.epoch);
    }
    if (!fs.isCrashed) await recovered.log.close();
    log = { ok: true, value: recovered.log };
  }
  return result;
}
