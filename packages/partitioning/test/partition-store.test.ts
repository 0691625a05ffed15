// The partition store below the service: local (document-partitioned) index entries are
// written with the document, rebuilt by a receiver from a copied snapshot and its changes, and
// dropped with the partition; global index updates wait in an outbox written in the same
// batch. Then power loss (testkit's FaultFileSystem under the LSM engine): every acknowledged
// write survives with its index entries and outbox entries, for many seeded cut points; a canary
// that skips the WAL's fsync must lose some.
import { openStore, SeededRandom, type Store } from '@ddia/common';
import { LSM_SYNC, lsmEngine } from '@ddia/lsm-engine';
import { FaultFileSystem, testSeeds } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { splitPoint } from '../src/controller/splitter.js';
import type { IndexSpec, PartitionInfo } from '../src/core/index.js';
import { applyConfigCommand } from '../src/core/index.js';
import { Layout } from '../src/data/layout.js';
import { PartitionStore } from '../src/data/partition-store.js';

const INDEXES: IndexSpec[] = [
  { name: 'color', field: 'color', kind: 'local' },
  { name: 'make', field: 'make', kind: 'global' },
];
const P: PartitionInfo = { id: 3, owner: 'n1', target: 'n1', frozen: false, since: 1 };
const car = (color: string, make: string) => Buffer.from(JSON.stringify({ color, make }));
const memory = () => openStore({ engine: 'memory', keyEncoding: 'utf8', valueEncoding: 'view' });

async function storeOn(db: Store): Promise<PartitionStore> {
  const store = new PartitionStore(db, new Layout(() => 'hash'), INDEXES);
  await store.init();
  return store;
}

type Config = NonNullable<ReturnType<typeof applyConfigCommand>['config']>;

describe('automatic split of a range partition (dynamic partitioning)', () => {
  it('splits at the median; the new half keeps versions rising and takes its local index entries', async () => {
    const store = new PartitionStore(await memory(), new Layout(() => 'range'), INDEXES);
    await store.init();
    let config = applyConfigCommand(null, {
      op: 'bootstrap',
      scheme: 'range',
      partitions: 1,
      nodes: [{ id: 'n1', url: 'http://n1' }],
    }).config as Config;
    const whole = config.partitions[0] as PartitionInfo;
    for (let i = 0; i < 10; i++)
      await store.write(whole.id, `car:${i}`, car(i % 2 ? 'red' : 'blue', 'vw'), { kind: 'none' });
    await store.write(whole.id, 'car:9', car('red', 'audi'), { kind: 'none' });
    const keys = (await store.scan(store.layout.bounds(whole), 100)).map((item) => item.key);
    expect(splitPoint(keys, 10)).toBeNull();
    const at = splitPoint(keys, 8) as string;
    expect(at).toBe('car:5');
    config = applyConfigCommand(config, { op: 'split', partition: whole.id, at }).config as Config;
    const [left, right] = config.partitions as [PartitionInfo, PartitionInfo];
    await store.splitOff(left, right);
    await store.splitOff(left, right); // replayed after a restart: no change
    expect(await store.seq(right.id)).toBe(11);
    const next = await store.write(right.id, 'car:7', car('blue', 'vw'), { kind: 'none' });
    expect(next).toMatchObject({ status: 'ok', version: 12 });
    expect(await store.localLookup(left.id, 'color', 'red', 10)).toEqual(['car:1', 'car:3']);
    expect(await store.localLookup(right.id, 'color', 'red', 10)).toEqual(['car:5', 'car:9']);
    expect(await store.localLookup(right.id, 'color', 'blue', 10)).toEqual(['car:6', 'car:7', 'car:8']);
    expect((await store.scan(store.layout.bounds(right), 100)).map((item) => item.key)).toEqual(
      keys.filter((k) => k >= at),
    );

    // Merged back (the neighbours grew small): the right's per-id state folds into the left.
    await store.write(right.id, 'car:8', null, { kind: 'none' }); // right at 13, left at 11
    const merged = applyConfigCommand(config, { op: 'merge', partition: left.id });
    expect(merged.result.ok).toBe(true);
    const whole2 = (merged.config as Config).partitions;
    expect(whole2.map((p) => p.id)).toEqual([left.id]);
    await store.mergeIn(left.id, right.id);
    await store.mergeIn(left.id, right.id); // replayed after a restart: no change
    expect(await store.seq(left.id)).toBe(13);
    const after = await store.write(left.id, 'car:1', car('red', 'vw'), { kind: 'none' });
    expect(after).toMatchObject({ status: 'ok', version: 14 });
    expect(await store.localLookup(left.id, 'color', 'red', 10)).toEqual([
      'car:1',
      'car:3',
      'car:5',
      'car:9',
    ]);
    expect(await store.localLookup(left.id, 'color', 'blue', 10)).toEqual([
      'car:0',
      'car:2',
      'car:4',
      'car:6',
      'car:7',
    ]);
    expect(await store.localLookup(right.id, 'color', 'blue', 10)).toEqual([]);
    expect(await store.db.get('m:1')).toBeUndefined();
    const all = await store.scan(store.layout.bounds(whole2[0] as PartitionInfo), 100);
    expect(all.map((item) => item.key)).toEqual(keys.filter((k) => k !== 'car:8'));
  });

  it('a merged partition keeps only the followers that held both halves', () => {
    const config = applyConfigCommand(null, {
      op: 'bootstrap',
      scheme: 'range',
      partitions: 4,
      replicas: 3,
      nodes: ['n1', 'n2', 'n3'].map((id) => ({ id, url: `http://${id}` })),
    }).config as Config;
    // Hand-placed: partitions 0 and 1 on n1; n2 follows both, n3 only the left one.
    const [left, right] = config.partitions as [PartitionInfo, PartitionInfo];
    Object.assign(left, { owner: 'n1', target: 'n1', replicas: ['n2', 'n3'] });
    Object.assign(right, { owner: 'n1', target: 'n1', replicas: ['n2'] });
    const merged = applyConfigCommand(config, { op: 'merge', partition: left.id });
    expect(merged.result.ok, JSON.stringify(merged.result)).toBe(true);
    const only = (merged.config as Config).partitions[0] as PartitionInfo;
    expect(only.range).toEqual({ start: left.range?.start, end: right.range?.end });
    expect(only.replicas).toEqual(['n2']);
  });
});

describe('local index entries follow the documents (Figure 6-4)', () => {
  it('written with the document, changed on update, removed on delete', async () => {
    const store = await storeOn(await memory());
    await store.write(P.id, 'car:1', car('red', 'ford'), { kind: 'none' });
    await store.write(P.id, 'car:2', car('red', 'bmw'), { kind: 'none' });
    await store.write(P.id, 'car:3', Buffer.from('not json'), { kind: 'none' });
    expect(await store.localLookup(P.id, 'color', 'red', 10)).toEqual(['car:1', 'car:2']);
    await store.write(P.id, 'car:1', car('blue', 'ford'), { kind: 'none' });
    expect(await store.localLookup(P.id, 'color', 'red', 10)).toEqual(['car:2']);
    expect(await store.localLookup(P.id, 'color', 'blue', 10)).toEqual(['car:1']);
    await store.write(P.id, 'car:2', null, { kind: 'none' });
    expect(await store.localLookup(P.id, 'color', 'red', 10)).toEqual([]);
    // The global index's updates are in the outbox, in order: +ford, +bmw, (none for a colour
    // change), -bmw on the delete.
    const outbox = (await store.outbox(10)).map(
      (o) => `${o.entry.live ? '+' : '-'}${o.entry.term}@${o.entry.key}`,
    );
    expect(outbox).toEqual(['+ford@car:1', '+bmw@car:2', '-bmw@car:2']);
  });

  it('an index added online is backfilled in chunks while writes interleave, and ends exact', async () => {
    const store = await storeOn(await memory());
    const docs = new Map<string, string>();
    const write = async (key: string, size: string | null) => {
      await store.write(P.id, key, size === null ? null : Buffer.from(JSON.stringify({ size })), {
        kind: 'none',
      });
      if (size === null) docs.delete(key);
      else docs.set(key, size);
    };
    for (let i = 0; i < 30; i++)
      await write(`d${String(i).padStart(2, '0')}`, ['s', 'm', 'l'][i % 3] as string);
    expect(store.addIndex({ name: 'size', field: 'size', kind: 'local' })).toBe(true);
    expect(store.addIndex({ name: 'size', field: 'size', kind: 'local' })).toBe(false);
    // Chunks of 4, each followed by writes both behind the cursor (already indexed: maintained
    // by the write) and ahead of it (not yet reached: the backfill reads the new value).
    let next: string | null = null;
    let chunks = 0;
    let documents = 0;
    do {
      const chunk = await store.backfill(P, 'size', next, 4);
      next = chunk.next;
      documents += chunk.documents;
      chunks++;
      const behind = `d${String((chunks * 7) % 30).padStart(2, '0')}`;
      const ahead = `d${String(29 - chunks).padStart(2, '0')}`;
      await write(behind, chunks % 5 === 0 ? null : 'xl');
      await write(ahead, 's');
      expect(await store.built('size', P.id)).toBe(next === null);
    } while (next !== null);
    expect(chunks).toBeGreaterThan(5);
    expect(documents).toBeGreaterThanOrEqual(26);
    for (const size of ['s', 'm', 'l', 'xl']) {
      const expected = [...docs.entries()]
        .filter(([, z]) => z === size)
        .map(([k]) => k)
        .sort();
      expect(await store.localLookup(P.id, 'size', size, 100), size).toEqual(expected);
    }
    // Dropping the partition forgets that it was built (its next owner backfills again).
    await store.drop(P);
    expect(await store.built('size', P.id)).toBe(false);
  });

  it('a receiver rebuilds them from the snapshot and the changes; dropping the partition drops them', async () => {
    const owner = await storeOn(await memory());
    await owner.write(P.id, 'car:1', car('red', 'ford'), { kind: 'none' });
    await owner.write(P.id, 'car:2', car('green', 'ford'), { kind: 'none' });
    const snapshot = await owner.snapshot(P);
    await owner.write(P.id, 'car:2', car('red', 'ford'), { kind: 'none' });
    await owner.write(P.id, 'car:1', null, { kind: 'none' });
    await owner.write(P.id, 'car:4', car('red', 'audi'), { kind: 'none' });
    const receiver = await storeOn(await memory());
    await receiver.importSnapshot(P, snapshot.seq, snapshot.items);
    expect(await receiver.localLookup(P.id, 'color', 'red', 10)).toEqual(['car:1']);
    const changes = await owner.changes(P.id, snapshot.generation, snapshot.seq);
    await receiver.applyChanges(P.id, changes?.changes ?? []);
    expect(await receiver.localLookup(P.id, 'color', 'red', 10)).toEqual(['car:2', 'car:4']);
    expect(await receiver.localLookup(P.id, 'color', 'green', 10)).toEqual([]);
    // The receiver does not re-emit global updates: the owner's outbox already holds them.
    expect(await receiver.outbox(10)).toEqual([]);
    await receiver.drop(P);
    expect(await receiver.localLookup(P.id, 'color', 'red', 10)).toEqual([]);
    expect(await receiver.get(P.id, 'car:2')).toBeUndefined();
  });

  it('postings are newest-version-wins: a late or repeated delivery changes nothing', async () => {
    const store = await storeOn(await memory());
    const key = '\u0000g\u0000make\u0000ford\u0000car:1';
    expect(await store.applyPosting(P.id, key, { version: 5, live: true })).toBe(true);
    expect(await store.applyPosting(P.id, key, { version: 3, live: false })).toBe(false);
    expect(await store.postings(P.id, 'make', 'ford', 10)).toEqual(['car:1']);
    expect(await store.applyPosting(P.id, key, { version: 7, live: false })).toBe(true);
    expect(await store.postings(P.id, 'make', 'ford', 10)).toEqual([]);
  });
});

// ---- power loss ----

const SEEDS = testSeeds({ short: 20, long: 100 });

async function openOn(fs: FaultFileSystem): Promise<PartitionStore> {
  const db = await openStore({
    engine: 'lsm',
    lsm: lsmEngine,
    fs,
    dataDir: '/data',
    name: 'partitions',
    keyEncoding: 'utf8',
    valueEncoding: 'view',
  });
  return storeOn(db);
}

/** A seeded workload; `acked` gets each key's last acknowledged value (null = deleted), and
 *  `cut` the write in flight when the power went (it may or may not have reached the disk). */
async function workload(
  fs: FaultFileSystem,
  seed: number,
  acked: Map<string, string | null>,
  cut: Map<string, string | null> = new Map(),
): Promise<void> {
  let store: PartitionStore;
  try {
    store = await openOn(fs);
  } catch {
    return;
  }
  const random = new SeededRandom(seed);
  const colors = ['red', 'green', 'blue'];
  for (let i = 0; i < 30; i++) {
    const key = `car:${random.int(0, 5)}`;
    const value = random.next() < 0.15 ? null : JSON.stringify({ color: random.pick(colors), make: `m${i}` });
    try {
      await store.withLock(P.id, () =>
        store.write(P.id, key, value === null ? null : Buffer.from(value), { kind: 'none' }),
      );
      acked.set(key, value);
    } catch {
      cut.set(key, value);
      return; // the power went
    }
  }
}

async function trial(seed: number, skipSyncPoints: string[] = []): Promise<string | null> {
  const fresh = async () => {
    const fs = new FaultFileSystem({ seed, skipSyncPoints });
    await fs.mkdir('/data');
    await fs.fsyncDir('/', 'test.setup');
    return fs;
  };
  const dry = await fresh();
  await workload(dry, seed, new Map());
  const fs = await fresh();
  fs.crashAfter(new SeededRandom(seed + 7).int(0, dry.opCount));
  const acked = new Map<string, string | null>();
  const cut = new Map<string, string | null>();
  await workload(fs, seed, acked, cut);
  const store = await openOn(fs.crash()).catch((error: unknown) => error as Error);
  if (store instanceof Error) return `recovery threw: ${store.message}`;
  try {
    const outboxKeys = new Set((await store.outbox(1_000)).map((o) => `${o.entry.key}@${o.entry.version}`));
    for (const [key, value] of acked) {
      const got = await store.get(P.id, key);
      const text = got ? Buffer.from(got.value).toString('utf8') : null;
      if (text !== value && !(cut.has(key) && cut.get(key) === text))
        return `${key}: acknowledged ${value}, found ${text}`;
      if (text === null) continue;
      const color = (JSON.parse(text) as { color: string }).color;
      if (!(await store.localLookup(P.id, 'color', color, 100)).includes(key))
        return `${key}: its local index entry for ${color} is gone`;
      // The write's global index update (a make changes on every write) waits in the outbox.
      if (!outboxKeys.has(`${key}@${got?.version}`)) return `${key}: its global index update is gone`;
    }
    return null;
  } finally {
    await store.db.close();
  }
}

describe('power loss: acknowledged writes survive with their index entries', () => {
  it(`every acknowledged write, its local index entry and its outbox entry survive a power cut (${SEEDS.length} seeds)`, {
    timeout: 60_000,
  }, async () => {
    for (const seed of SEEDS) {
      const failure = await trial(seed);
      if (failure) expect.fail(`seed ${seed}: ${failure} (replay: DDIA_SEED=${seed})`);
    }
  });

  it('canary: without the WAL fsync a power cut loses acknowledged writes', { timeout: 60_000 }, async () => {
    let caught = 0;
    for (const seed of SEEDS) if (await trial(seed, [LSM_SYNC.walSync, LSM_SYNC.walSeal])) caught++;
    expect(caught).toBeGreaterThan(0);
  });
});
