// The transaction WAL and the 2PC coordinator's decision log under simulated power loss
// (testkit's FaultFileSystem): the power is cut at a random file-system operation of a seeded
// workload, and what survives must hold every acknowledged commit, every acknowledged prepare
// (still in doubt, its writes not visible), nothing that was never committed, and every
// acknowledged 2PC decision. The checkpoint variant checkpoints after every append into tiny
// WAL segments, so the cut also lands inside checkpoints: in the image's write-then-rename and
// in the deletion of the segments behind it. Replay one seed: DDIA_SEED=<seed> npx vitest run --project transactions power-loss
import { ManualClock, SeededRandom } from '@ddia/common';
import { FaultFileSystem, SimulatedCrashError } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { Coordinator, type DecisionRecord } from '../src/distributed/coordinator.js';
import { openDecisionLog } from '../src/durability/decision-log.js';
import { openDatabase } from '../src/durability/wal.js';

const LONG = process.env.DDIA_LONG === '1';
const REPLAY = process.env.DDIA_SEED === undefined ? null : Number(process.env.DDIA_SEED);
const SEEDS = REPLAY !== null ? [REPLAY] : Array.from({ length: LONG ? 30_000 : 3_000 }, (_, i) => i + 1);
/** The plain WAL trial gives a third of its seeds to the checkpoint variant (test time). */
const WAL_SEEDS = REPLAY !== null ? [REPLAY] : SEEDS.slice(0, LONG ? 20_000 : 2_000);
/** Fewer with checkpoints: each trial does several times the file operations. */
const CHECKPOINT_SEEDS = REPLAY !== null ? [REPLAY] : SEEDS.slice(0, LONG ? 10_000 : 1_000);

const isCrash = (err: unknown) =>
  err instanceof SimulatedCrashError ||
  (err instanceof Error && (err.name === 'LogClosedError' || err.cause instanceof SimulatedCrashError));

async function freshFs(seed: number, skipSyncPoints: string[] = []): Promise<FaultFileSystem> {
  const fs = new FaultFileSystem({ seed, skipSyncPoints });
  await fs.mkdir('/data');
  await fs.fsyncDir('/', 'test.setup');
  return fs;
}

interface WalOutcome {
  committed: Set<number>;
  prepared: Set<string>;
  attempted: Set<number>;
}

/** Inserts rows in concurrent transactions (some prepared for 2PC instead of committed). */
/** Checkpoint after every append, into segments of a few records: cuts land in checkpoints. */
const CHECKPOINTING = { checkpointWalBytes: 1, walSegmentBytes: 256 };
type WalOptions = typeof CHECKPOINTING | Record<string, never>;

async function walWorkload(
  fs: FaultFileSystem,
  random: SeededRandom,
  out: WalOutcome,
  walOptions: WalOptions,
): Promise<void> {
  let db: Awaited<ReturnType<typeof openDatabase>>['db'];
  try {
    db = (await openDatabase({ clock: new ManualClock(), dataDir: '/data', fs, ...walOptions })).db;
    await db.createTable('t', 'id');
  } catch (err) {
    if (isCrash(err)) return;
    throw err;
  }
  out.committed.add(-1); // the table itself
  let id = 0;
  const rounds = random.int(2, 8);
  for (let round = 0; round < rounds && !fs.isCrashed; round++) {
    const writers = Array.from({ length: random.int(1, 5) }, async () => {
      const mine = id++;
      const prepare = random.chance(0.25);
      out.attempted.add(mine);
      try {
        const tx = await db.begin('read-committed');
        await db.insert(tx, 't', { id: mine, v: `row-${mine}` });
        if (prepare) {
          await db.prepare(tx, `g${mine}`);
          out.prepared.add(`g${mine}`);
        } else {
          await db.commit(tx);
          out.committed.add(mine);
        }
      } catch (err) {
        if (!isCrash(err)) throw err;
      }
    });
    await Promise.all(writers);
  }
}

async function walTrial(
  seed: number,
  skipSyncPoints: string[] = [],
  walOptions: WalOptions = {},
): Promise<string | null> {
  const random = new SeededRandom(seed);
  const workloadSeed = random.int(0, 2 ** 31);
  const dry = await freshFs(seed, skipSyncPoints);
  await walWorkload(
    dry,
    new SeededRandom(workloadSeed),
    { committed: new Set(), prepared: new Set(), attempted: new Set() },
    walOptions,
  );
  const fs = await freshFs(seed, skipSyncPoints);
  fs.crashAfter(random.int(0, dry.opCount));
  const out: WalOutcome = { committed: new Set(), prepared: new Set(), attempted: new Set() };
  await walWorkload(fs, new SeededRandom(workloadSeed), out, walOptions);
  const after = fs.crash();
  let reopened: Awaited<ReturnType<typeof openDatabase>>;
  try {
    reopened = await openDatabase({ clock: new ManualClock(), dataDir: '/data', fs: after, ...walOptions });
  } catch (err) {
    return `recovery threw: ${String(err)}`;
  }
  const { db } = reopened;
  const tables = db.listTables().map((t) => t.name);
  if (out.committed.has(-1) && !tables.includes('t')) return 'the acknowledged table is gone';
  const rows = tables.includes('t') ? db.committedRows('t') : [];
  const present = new Set(rows.map((r) => r.id as number));
  for (const id of out.committed)
    if (id >= 0 && !present.has(id)) return `acknowledged commit of row ${id} lost`;
  for (const id of present) {
    if (!out.attempted.has(id)) return `row ${id} was never written`;
    if (!out.committed.has(id) && out.prepared.has(`g${id}`))
      return `prepared row ${id} visible before a decision`;
  }
  const inDoubt = new Set(db.preparedIds());
  for (const gid of out.prepared) if (!inDoubt.has(gid)) return `acknowledged prepare ${gid} lost`;
  await reopened.close();
  return null;
}

/** The coordinator's decisions: epochs, commits and "done" records, each acknowledged or not. */
async function decisionTrial(seed: number, skipSyncPoints: string[] = []): Promise<string | null> {
  const random = new SeededRandom(seed);
  const records: DecisionRecord[] = [];
  const count = random.int(1, 20);
  for (let i = 0; i < count; i++) {
    const done = records.filter((r) => r.type === 'commit');
    records.push(
      done.length > 0 && random.chance(0.3)
        ? { type: 'done', gid: (random.pick(done) as { gid: string }).gid }
        : { type: 'commit', gid: `c-e1-${i}`, participants: ['p0', 'p1'] },
    );
  }
  const run = async (fs: FaultFileSystem, acked: DecisionRecord[]) => {
    let opened: Awaited<ReturnType<typeof openDecisionLog>>;
    try {
      opened = await openDecisionLog({ dir: '/data/decisions', fs });
    } catch (err) {
      if (isCrash(err)) return;
      throw err;
    }
    // Concurrent appends, as concurrent transactions decide: group commit batches them.
    await Promise.all(
      records.map(async (r) => {
        try {
          await opened.log.append(r);
          acked.push(r);
        } catch (err) {
          if (!isCrash(err)) throw err;
        }
      }),
    );
  };
  const dry = await freshFs(seed, skipSyncPoints);
  await run(dry, []);
  const fs = await freshFs(seed, skipSyncPoints);
  fs.crashAfter(random.int(0, dry.opCount));
  const acked: DecisionRecord[] = [];
  await run(fs, acked);
  const after = fs.crash();
  let restored: Awaited<ReturnType<typeof openDecisionLog>>;
  try {
    restored = await openDecisionLog({ dir: '/data/decisions', fs: after });
  } catch (err) {
    return `recovery threw: ${String(err)}`;
  }
  const seen = new Set(restored.records.map((r) => JSON.stringify(r)));
  for (const r of acked)
    if (!seen.has(JSON.stringify(r))) return `acknowledged decision ${JSON.stringify(r)} lost`;
  for (const r of restored.records) {
    if (!records.some((w) => JSON.stringify(w) === JSON.stringify(r)))
      return `decision ${JSON.stringify(r)} never written`;
  }
  // A restarted coordinator must still deliver every acknowledged commit not marked done.
  const coordinator = new Coordinator('c', new Map(), { append: async () => {} });
  coordinator.restore(restored.records);
  const pending = new Set(coordinator.pendingDecisions());
  const doneAcked = new Set(acked.filter((r) => r.type === 'done').map((r) => r.gid));
  for (const r of acked) {
    if (r.type === 'commit' && !doneAcked.has(r.gid) && !pending.has(r.gid)) {
      return `acknowledged commit ${r.gid} not pending after restart`;
    }
  }
  await restored.close();
  return null;
}

async function runSeeds(
  trial: (seed: number) => Promise<string | null>,
  seeds: readonly number[] = SEEDS,
): Promise<string[]> {
  const failures: string[] = [];
  for (const seed of seeds) {
    const failure = await trial(seed);
    if (failure) failures.push(`seed ${seed}: ${failure}`);
  }
  if (failures.length > 0) {
    console.error(
      `${failures.slice(0, 5).join('\n')}\nreplay: DDIA_SEED=<seed> npx vitest run --project transactions power-loss`,
    );
  }
  return failures;
}

describe('transaction WAL under power loss (FaultFileSystem)', () => {
  it(`keeps every acknowledged commit and prepare over ${WAL_SEEDS.length} seeded crashes`, async () => {
    expect(await runSeeds((seed) => walTrial(seed), WAL_SEEDS)).toEqual([]);
  }, 300_000);

  it('fails without the WAL append sync (mutation check)', async () => {
    let caught: string | null = null;
    for (let seed = 1; seed <= 1_000 && !caught; seed++) caught = await walTrial(seed, ['log.append']);
    console.log(`log.append (WAL): ${caught}`);
    expect(caught).not.toBeNull();
  }, 300_000);
});

describe('transaction WAL with checkpoints under power loss (FaultFileSystem)', () => {
  it(`keeps every acknowledged commit and prepare over ${CHECKPOINT_SEEDS.length} seeded crashes, cuts inside checkpoints included`, async () => {
    expect(await runSeeds((seed) => walTrial(seed, [], CHECKPOINTING), CHECKPOINT_SEEDS)).toEqual([]);
  }, 300_000);

  it('fails without the fsync of the checkpoint before its rename (mutation check)', async () => {
    let caught: string | null = null;
    for (let seed = 1; seed <= 1_000 && !caught; seed++)
      caught = await walTrial(seed, ['tx.checkpoint.file'], CHECKPOINTING);
    console.log(`tx.checkpoint.file: ${caught}`);
    expect(caught).not.toBeNull();
  }, 300_000);
});

describe('2PC decision log under power loss (FaultFileSystem)', () => {
  it(`keeps every acknowledged decision over ${SEEDS.length} seeded crashes`, async () => {
    expect(await runSeeds((seed) => decisionTrial(seed))).toEqual([]);
  }, 300_000);

  it('fails without the decision log append sync (mutation check)', async () => {
    let caught: string | null = null;
    for (let seed = 1; seed <= 1_000 && !caught; seed++) caught = await decisionTrial(seed, ['log.append']);
    console.log(`log.append (decisions): ${caught}`);
    expect(caught).not.toBeNull();
  }, 300_000);
});
