// FileStorage under simulated power loss (testkit's FaultFileSystem): a seeded workload of
// votes, appends, conflicting suffixes, application snapshots and snapshots from a leader; the
// power is cut at a random file-system operation; load() on what survived must hold
//   - the acknowledged term, and in that term the acknowledged vote (Raft Figure 2: term and
//     vote on stable storage before answering: a node that forgot its vote could vote twice);
//   - every acknowledged entry with its term and bytes, unless a snapshot that survived covers
//     it (a node that acknowledged an entry to a leader must still hold it: the leader may have
//     counted that acknowledgement toward a commit, §5.3);
//   - nothing but entries that were written (acknowledged, or from the save in flight);
//   - a snapshot at least as new as the last acknowledged one.
// A failing seed prints; replay: DDIA_SEED=<seed> npx vitest run --project raft file-storage-power-loss
// The mutation check skips each of the storage's own sync points and shows the check fails.
import { SeededRandom } from '@ddia/common';
import { FaultFileSystem, SimulatedCrashError, testSeeds } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { type Entry, FileStorage, RAFT_SYNC, type Snapshot } from '../src/index.js';
import { storageConformance } from './conformance/storage.js';

const DIR = '/data/raft';
const SEEDS = testSeeds({ short: 3_000, long: 30_000 });
const conf = { members: [{ id: 'n1', voter: true }] };

// The storage the RaftNode simulation runs on (test/support/fault-disks.ts) keeps the contract
// too; a restart here is a clean one (closed, then opened on the same file system).
let conformanceFs = new FaultFileSystem({ seed: 1 });
storageConformance('FileStorage on FaultFileSystem', {
  open: () => {
    conformanceFs = new FaultFileSystem({ seed: 1 });
    return FileStorage.open({ dir: DIR, fs: conformanceFs, preallocateBytes: 0 });
  },
  reopen: () => FileStorage.open({ dir: DIR, fs: conformanceFs, preallocateBytes: 0 }),
});

const entryData = (index: number, term: number) => new TextEncoder().encode(`i${index}t${term}`);
const entry = (index: number, term: number): Entry => ({
  index,
  term,
  type: 'normal',
  data: entryData(index, term),
});

/** What the storage acknowledged. */
interface Model {
  term: number;
  vote: string | null;
  /** index -> term of every acknowledged entry above the snapshot. */
  entries: Map<number, number>;
  snapshotIndex: number;
  last: number;
}

/** Entries that the save in flight may or may not have written (index -> term). */
type InFlight = Map<number, number>;

const isCrash = (err: unknown) =>
  err instanceof SimulatedCrashError ||
  (err instanceof Error && (err.name === 'LogClosedError' || err.cause instanceof SimulatedCrashError));

async function workload(
  storage: FileStorage,
  fs: FaultFileSystem,
  random: SeededRandom,
  model: Model,
  inFlight: InFlight,
): Promise<void> {
  const steps = random.int(4, 30);
  for (let step = 0; step < steps && !fs.isCrashed; step++) {
    const action = random.int(0, 9);
    inFlight.clear();
    const termAt = (i: number) => model.entries.get(i) ?? 0;
    try {
      if (action <= 1) {
        // A new term and a vote in it.
        const term = model.term + 1;
        const vote = random.pick(['n1', 'n2', 'n3']);
        await storage.save({ snapshot: null, entries: [], hardState: { term, vote, commit: 0 } });
        model.term = term;
        model.vote = vote;
      } else if (action <= 5) {
        // The leader's entries of the current term (group commit batches them).
        const count = random.int(1, 8);
        const entries = Array.from({ length: count }, (_, k) => entry(model.last + 1 + k, model.term));
        for (const e of entries) inFlight.set(e.index, e.term);
        await storage.save({ snapshot: null, entries, hardState: null });
        for (const e of entries) model.entries.set(e.index, e.term);
        model.last += count;
      } else if (action <= 7 && model.last > model.snapshotIndex) {
        // A new leader's conflicting suffix, in a newer term (§5.3).
        const from = random.int(model.snapshotIndex + 1, model.last);
        const term = model.term + 1;
        const entries = Array.from({ length: random.int(1, 4) }, (_, k) => entry(from + k, term));
        for (const e of entries) inFlight.set(e.index, e.term);
        await storage.save({ snapshot: null, entries, hardState: { term, vote: null, commit: 0 } });
        model.term = term;
        model.vote = null;
        for (let i = from; i <= model.last; i++) model.entries.delete(i);
        for (const e of entries) model.entries.set(e.index, e.term);
        model.last = from + entries.length - 1;
      } else if (action === 8 && model.last > model.snapshotIndex) {
        // The application's snapshot.
        const index = random.int(model.snapshotIndex + 1, model.last);
        const snapshot: Snapshot = { meta: { index, term: termAt(index), conf }, data: entryData(index, 0) };
        await storage.saveSnapshot(snapshot);
        for (let i = model.snapshotIndex + 1; i <= index; i++) model.entries.delete(i);
        model.snapshotIndex = index;
      } else if (action === 9) {
        // A snapshot from the leader beyond our log: it replaces the whole log.
        const index = model.last + random.int(1, 5);
        const snapshot: Snapshot = {
          meta: { index, term: model.term, conf },
          data: entryData(index, 0),
        };
        await storage.save({ snapshot, entries: [], hardState: null });
        model.entries.clear();
        model.snapshotIndex = index;
        model.last = index;
      }
    } catch (err) {
      if (isCrash(err)) return;
      throw err;
    }
  }
}

async function check(storage: FileStorage, model: Model, inFlight: InFlight): Promise<string | null> {
  // null: nothing stored, checked like an empty state.
  const state = (await storage.load()) ?? {
    hardState: { term: 0, vote: null, commit: 0 },
    snapshot: null,
    entries: [] as Entry[],
  };
  const { hardState, snapshot, entries } = state;
  if (hardState.term < model.term) return `term ${hardState.term} went back below ${model.term}`;
  if (hardState.term === model.term && model.vote !== null && hardState.vote !== model.vote) {
    return `vote in term ${model.term} changed from ${model.vote} to ${hardState.vote}`;
  }
  const snapshotIndex = snapshot?.meta.index ?? 0;
  if (snapshotIndex < model.snapshotIndex) {
    return `snapshot at ${snapshotIndex} is older than the acknowledged one at ${model.snapshotIndex}`;
  }
  const found = new Map(entries.map((e) => [e.index, e]));
  for (const [index, term] of model.entries) {
    if (index <= snapshotIndex) continue;
    const e = found.get(index);
    if (e && e.term === term) continue;
    // The save in flight may have replaced it (a conflicting suffix).
    if (e && inFlight.get(index) === e.term) continue;
    if (!e && inFlight.size > 0 && index >= Math.min(...inFlight.keys())) continue;
    return `acknowledged entry ${index} (term ${term}) ${e ? `has term ${e.term}` : 'is gone'}`;
  }
  for (const e of entries) {
    const want = new TextDecoder().decode(entryData(e.index, e.term));
    if (new TextDecoder().decode(e.data) !== want) return `entry ${e.index} holds bytes never written`;
    if (model.entries.get(e.index) !== e.term && inFlight.get(e.index) !== e.term) {
      // A suffix beyond what was acknowledged that an acknowledged conflict removed.
      return `entry ${e.index} of term ${e.term} was neither acknowledged nor in flight`;
    }
  }
  return null;
}

async function trial(seed: number, skipSyncPoints: string[] = []): Promise<string | null> {
  const random = new SeededRandom(seed);
  const options = { fsync: random.pick(['always', 'group'] as const), segmentBytesMax: 512 };
  const workloadSeed = random.int(0, 2 ** 31);
  // Count the operations of the whole workload once, to crash anywhere in it.
  const setUp = async () => {
    const fs = new FaultFileSystem({ seed, skipSyncPoints });
    await fs.mkdir('/data');
    await fs.fsyncDir('/', 'test.setup');
    return fs;
  };
  const dry = await setUp();
  const dryStorage = await FileStorage.open({ dir: DIR, fs: dry, preallocateBytes: 0, ...options });
  await dryStorage.load();
  const start = dry.opCount;
  const model0: Model = { term: 0, vote: null, entries: new Map(), snapshotIndex: 0, last: 0 };
  await workload(dryStorage, dry, new SeededRandom(workloadSeed), model0, new Map());
  const total = dry.opCount - start;

  const fs = await setUp();
  const storage = await FileStorage.open({ dir: DIR, fs, preallocateBytes: 0, ...options });
  await storage.load();
  fs.crashAfter(random.int(0, total));
  const model: Model = { term: 0, vote: null, entries: new Map(), snapshotIndex: 0, last: 0 };
  const inFlight: InFlight = new Map();
  await workload(storage, fs, new SeededRandom(workloadSeed), model, inFlight);
  if (!fs.isCrashed) inFlight.clear();
  const after = fs.crash();
  let reopened: FileStorage;
  try {
    reopened = await FileStorage.open({ dir: DIR, fs: after, preallocateBytes: 0, ...options });
    return await check(reopened, model, inFlight);
  } catch (err) {
    return `recovery threw: ${String(err)} (crash ${JSON.stringify(after.lastCrash)})`;
  }
}

describe('FileStorage under power loss (FaultFileSystem)', () => {
  it(`keeps the acknowledged term, vote and entries over ${SEEDS.length} seeded crashes`, async () => {
    const failures: string[] = [];
    for (const seed of SEEDS) {
      const failure = await trial(seed);
      if (failure) failures.push(`seed ${seed}: ${failure}`);
    }
    if (failures.length > 0) {
      console.error(
        `${failures.slice(0, 5).join('\n')}\nreplay: DDIA_SEED=<seed> npx vitest run --project raft file-storage-power-loss`,
      );
    }
    expect(failures).toEqual([]);
  }, 300_000);

  const points = [
    `${RAFT_SYNC.hardState}.file`,
    `${RAFT_SYNC.hardState}.dir`,
    `${RAFT_SYNC.snapshot}.file`,
    `${RAFT_SYNC.snapshot}.dir`,
    'log.append',
  ];
  for (const point of points) {
    it(`fails without the ${point} sync (mutation check)`, async () => {
      let caught: string | null = null;
      for (let seed = 1; seed <= 2_000 && !caught; seed++) {
        const failure = await trial(seed, [point]);
        if (failure) caught = `seed ${seed}: ${failure}`;
      }
      console.log(`${point}: ${caught}`);
      expect(caught).not.toBeNull();
    }, 300_000);
  }
});
