// The whole engine under simulated power loss (testkit's FaultFileSystem through the engine's
// `fs` option): batches of writes, some `sync: true`, issued a few at a time so that they
// group-commit, with flushes and compactions running meanwhile (tiny memtable, tables and WAL
// segments: every trial flushes, compacts and rolls the WAL several times). The power is cut
// at a random file-system operation; the surviving files are reopened and must
//   - open (a power cut alone never leaves a database that refuses to open),
//   - hold exactly the state after some prefix of the issued batches (batches are atomic and
//     in order; nothing half-applied, nothing invented),
//   - and that prefix includes every batch acknowledged as durable: a `sync: true` write
//     that resolved, and everything written before a flush() that resolved.
// Mutation check: skipping any one of the engine's sync points makes some seed fail.
// Replay one seed: DDIA_SEED=<seed> npx vitest run --project lsm-engine power-loss
import { SeededRandom } from '@ddia/common';
import { FaultFileSystem } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { LsmDb } from '../src/db.js';
import { LsmLevel } from '../src/index.js';
import { KIND_DELETE, KIND_PUT } from '../src/internal-key.js';
import type { LsmOptions } from '../src/options.js';
import { LSM_SYNC } from '../src/sync-points.js';
import type { WriteOp } from '../src/wal.js';

const LOCATION = '/data/db';
const LONG = process.env.DDIA_LONG === '1';
const REPLAY = process.env.DDIA_SEED === undefined ? null : Number(process.env.DDIA_SEED);
const SEEDS = REPLAY !== null ? [REPLAY] : Array.from({ length: LONG ? 20_000 : 500 }, (_, i) => i + 1);
/** Fewer for the abstract-level path: the engine below it is the same, its seeds above. */
const LEVEL_SEEDS = REPLAY !== null ? [REPLAY] : Array.from({ length: LONG ? 5_000 : 40 }, (_, i) => i + 1);
/**
 * 'engine': LsmDb.write; 'level': abstract-level's db.batch() on LsmLevel, the array form and
 * the chained form in turn (each encoded straight into one WAL record, lsm-level.ts _batch).
 */
type Path = 'engine' | 'level';
const KEYS = 24;

const options = (fs: FaultFileSystem): Partial<LsmOptions> => ({
  fs,
  writeBufferBytes: 1024,
  walSegmentBytes: 700,
  blockBytes: 256,
  targetFileBytes: 1024,
  l0CompactionTrigger: 2,
  l0StopTrigger: 6,
  levelBaseBytes: 2048,
  levelMultiplier: 2,
  blockCacheBytes: 0,
});

type Batch = { key: string; value: string | null }[];

interface Outcome {
  batches: Batch[];
  /** Every batch below this index was acknowledged as durable. */
  durable: number;
}

const keyName = (i: number) => `k${String(i).padStart(2, '0')}`;

function toOps(batch: Batch): WriteOp[] {
  return batch.map(({ key, value }) => ({
    kind: value === null ? KIND_DELETE : KIND_PUT,
    key: Buffer.from(key),
    value: Buffer.from(value ?? ''),
  }));
}

/** One batch through abstract-level: the array form, or the chained form. */
function levelBatch(db: LsmLevel, batch: Batch, sync: boolean, chained: boolean): Promise<void> {
  if (!chained)
    return db.batch(
      batch.map(({ key, value }) =>
        value === null ? { type: 'del' as const, key } : { type: 'put' as const, key, value },
      ),
      // sync is LevelDB's option, not in abstract-level's typings.
      { sync } as object,
    );
  const chain = db.batch();
  for (const { key, value } of batch) {
    if (value === null) chain.del(key);
    else chain.put(key, value);
  }
  return chain.write({ sync } as object);
}

/** Runs the workload until it ends or the power goes; records what was issued and acknowledged. */
async function workload(
  fs: FaultFileSystem,
  random: SeededRandom,
  out: Outcome,
  path: Path = 'engine',
): Promise<void> {
  let db: LsmDb | null = null;
  let level: LsmLevel | null = null;
  const crashed = (err: unknown) => {
    if (!fs.isCrashed) throw err;
  };
  try {
    if (path === 'level') {
      level = new LsmLevel(LOCATION, options(fs));
      await level.open();
      db = level.lsm;
    } else db = await LsmDb.open(LOCATION, options(fs));
    const rounds = random.int(5, 25);
    for (let round = 0; round < rounds && !fs.isCrashed; round++) {
      const pending: Promise<unknown>[] = [];
      const writes = random.int(1, 4);
      for (let w = 0; w < writes; w++) {
        const index = out.batches.length;
        const batch: Batch = [];
        for (let n = random.int(1, path === 'level' ? 8 : 3); n > 0; n--) {
          const key = keyName(random.int(0, KEYS - 1));
          batch.push({
            key,
            value: random.chance(0.15) ? null : `${key}@${index}:${'x'.repeat(random.int(0, 40))}`,
          });
        }
        out.batches.push(batch);
        const sync = random.chance(0.3);
        const written =
          level !== null ? levelBatch(level, batch, sync, random.chance(0.5)) : db.write(toOps(batch), sync);
        pending.push(
          written.then(() => {
            if (sync) out.durable = Math.max(out.durable, index + 1);
          }, crashed),
        );
      }
      if (random.chance(0.15)) {
        const before = out.batches.length;
        const flushed = random.chance(0.2) ? db.compactAll() : db.flush();
        pending.push(
          flushed.then(() => {
            out.durable = Math.max(out.durable, before);
          }, crashed),
        );
      }
      await Promise.all(pending);
    }
    if (!fs.isCrashed) await (level ?? db).close();
  } catch (err) {
    crashed(err);
  } finally {
    // The crashed engine is abandoned as a killed process would be; closing only stops it.
    if (fs.isCrashed) await (level ?? db)?.close().catch(() => {});
  }
}

function stateAfter(batches: Batch[], count: number): Map<string, string> {
  const state = new Map<string, string>();
  for (const batch of batches.slice(0, count))
    for (const { key, value } of batch) {
      if (value === null) state.delete(key);
      else state.set(key, value);
    }
  return state;
}

function sameState(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

async function trial(
  seed: number,
  skipSyncPoints: string[] = [],
  path: Path = 'engine',
): Promise<string | null> {
  const random = new SeededRandom(seed);
  const workloadSeed = random.int(0, 2 ** 31);
  const fresh = () => new FaultFileSystem({ seed, skipSyncPoints });
  const dry = fresh();
  await workload(dry, new SeededRandom(workloadSeed), { batches: [], durable: 0 }, path);
  const fs = fresh();
  fs.crashAfter(random.int(0, dry.opCount));
  const out: Outcome = { batches: [], durable: 0 };
  await workload(fs, new SeededRandom(workloadSeed), out, path);
  // A workload that ended before the crash point loses power after its last call.
  const after = fs.crash();
  const crash = JSON.stringify(after.lastCrash);
  let db: LsmDb;
  try {
    db = await LsmDb.open(LOCATION, options(after));
  } catch (err) {
    return `reopening threw ${String(err)} (crash ${crash})`;
  }
  try {
    const recovered = new Map<string, string>();
    for (let i = 0; i < KEYS; i++) {
      const value = db.get(Buffer.from(keyName(i)));
      if (value !== undefined) recovered.set(keyName(i), value.toString());
    }
    for (let count = out.durable; count <= out.batches.length; count++) {
      if (sameState(recovered, stateAfter(out.batches, count))) return null;
    }
    for (let count = 0; count < out.durable; count++) {
      if (sameState(recovered, stateAfter(out.batches, count)))
        return `state after batch ${count}, but ${out.durable} were acknowledged durable (crash ${crash})`;
    }
    return `state is no prefix of the ${out.batches.length} batches (crash ${crash}): ${JSON.stringify([...recovered])}`;
  } catch (err) {
    return `reading threw ${String(err)} (crash ${crash})`;
  } finally {
    await db.close();
  }
}

describe('the engine under power loss (FaultFileSystem)', () => {
  it(`keeps every acknowledged write and opens after ${SEEDS.length} seeded crashes`, async () => {
    const failures: string[] = [];
    for (const seed of SEEDS) {
      const failure = await trial(seed);
      if (failure) failures.push(`seed ${seed}: ${failure}`);
    }
    if (failures.length > 0) console.error(failures.slice(0, 5).join('\n'));
    expect(failures).toEqual([]);
  }, 300_000);

  it(`applies abstract-level batches (array and chained) all or nothing through ${LEVEL_SEEDS.length} seeded crashes`, async () => {
    const failures: string[] = [];
    for (const seed of LEVEL_SEEDS) {
      const failure = await trial(seed, [], 'level');
      if (failure) failures.push(`seed ${seed}: ${failure}`);
    }
    if (failures.length > 0) console.error(failures.slice(0, 5).join('\n'));
    expect(failures).toEqual([]);
  }, 300_000);

  it('the batch path fails without the log.sync sync (mutation check)', async () => {
    let caught: string | null = null;
    for (let seed = 1; seed <= 1_000 && !caught; seed++) {
      const failure = await trial(seed, [LSM_SYNC.walSync], 'level');
      if (failure) caught = `seed ${seed}: ${failure}`;
    }
    expect(caught).not.toBeNull();
  }, 300_000);

  for (const point of Object.values(LSM_SYNC)) {
    it(`fails without the ${point} sync (mutation check)`, async () => {
      let caught: string | null = null;
      for (let seed = 1; seed <= 1_000 && !caught; seed++) {
        const failure = await trial(seed, [point]);
        if (failure) caught = `seed ${seed}: ${failure}`;
      }
      console.log(`${point}: ${caught}`);
      expect(caught).not.toBeNull();
    }, 300_000);
  }
});
