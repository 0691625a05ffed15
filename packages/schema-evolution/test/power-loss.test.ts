// The schema registry under simulated power loss: the LSM store written through testkit's
// FaultFileSystem (common's openStore passes `fs` to the engine), registrations issued a few at
// a time (they commit one by one, each a synced batch), power cut at a random file-system
// operation, the surviving files reopened. A producer that was told "id 7" may already have
// written records tagged 7, so the registry must come back with
//   - every acknowledged registration: same subject, version and id;
//   - nothing invented: the registrations it holds are exactly the first k issued (batches are
//     atomic and in order), so no version points at a schema it does not have;
//   - ids never reused: the next id is above every id it holds.
// Mutation check: without the WAL's sync the same trials lose acknowledged registrations.
// Replay one seed: DDIA_SEED=<seed> npx vitest run --project schema-evolution power-loss
import { openStore, SeededRandom } from '@ddia/common';
import { LSM_SYNC, lsmEngine } from '@ddia/lsm-engine';
import { FaultFileSystem, testSeeds } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { SchemaRegistry } from '../src/registry/registry.js';

const DATA_DIR = '/data';
const SEEDS = testSeeds({ short: 150, long: 150 });
const SUBJECTS = ['orders-value', 'payments-value', 'users-value'];
/** A tiny memtable: trials flush and compact while registrations are in flight. */
const WRITE_BUFFER_BYTES = 1024;

interface Registration {
  subject: string;
  version: number;
  schema: string;
}

interface Outcome {
  issued: Registration[];
  /** Acknowledged registrations with the id the registry answered. */
  acked: (Registration & { id: number })[];
}

/** Version v of a subject: a record with v fields, each added with a default (BACKWARD-compatible). */
function schemaOf(subject: string, version: number): string {
  const fields = Array.from({ length: version }, (_, i) => ({
    name: `f${i}`,
    type: 'string',
    ...(i > 0 ? { default: '' } : {}),
  }));
  return JSON.stringify({ type: 'record', name: subject.replace('-', '_'), fields });
}

const open = (fs: FaultFileSystem) =>
  openStore({
    engine: 'lsm',
    lsm: lsmEngine,
    fs,
    dataDir: DATA_DIR,
    name: 'schema-registry',
    valueEncoding: 'json',
    writeBufferBytes: WRITE_BUFFER_BYTES,
  });

async function workload(fs: FaultFileSystem, random: SeededRandom, out: Outcome): Promise<void> {
  const crashed = (err: unknown) => {
    if (!fs.isCrashed) throw err;
  };
  let store: Awaited<ReturnType<typeof open>> | null = null;
  try {
    store = await open(fs);
    const registry = await SchemaRegistry.open(store);
    const versions = new Map<string, number>();
    const rounds = random.int(3, 12);
    for (let round = 0; round < rounds && !fs.isCrashed; round++) {
      const pending: Promise<unknown>[] = [];
      for (let n = random.int(1, 3); n > 0; n--) {
        const subject = SUBJECTS[random.int(0, SUBJECTS.length - 1)]!;
        const version = (versions.get(subject) ?? 0) + 1;
        versions.set(subject, version);
        const registration = { subject, version, schema: schemaOf(subject, version) };
        out.issued.push(registration);
        pending.push(
          registry.register(subject, { schema: registration.schema }).then(({ id, version: got }) => {
            expect(got).toBe(version);
            out.acked.push({ ...registration, id });
          }, crashed),
        );
      }
      await Promise.all(pending);
    }
    if (!fs.isCrashed) {
      await registry.close();
      await store.close();
    }
  } catch (err) {
    crashed(err);
  } finally {
    if (fs.isCrashed) await store?.close().catch(() => {});
  }
}

/** The subject's versions, none for a subject the registry does not know. */
const versionsOf = (registry: SchemaRegistry, subject: string): number[] =>
  registry.listSubjects().includes(subject) ? registry.listVersions(subject) : [];

async function trial(seed: number, skipSyncPoints: string[] = []): Promise<string | null> {
  const random = new SeededRandom(seed);
  const workloadSeed = random.int(0, 2 ** 31);
  const fresh = () => new FaultFileSystem({ seed, skipSyncPoints });
  const dry = fresh();
  await workload(dry, new SeededRandom(workloadSeed), { issued: [], acked: [] });
  const fs = fresh();
  fs.crashAfter(random.int(0, dry.opCount));
  const out: Outcome = { issued: [], acked: [] };
  await workload(fs, new SeededRandom(workloadSeed), out);
  const after = fs.crash();
  const crash = JSON.stringify(after.lastCrash);
  let store: Awaited<ReturnType<typeof open>>;
  let registry: SchemaRegistry;
  try {
    store = await open(after);
    registry = await SchemaRegistry.open(store);
  } catch (err) {
    return `reopening threw ${String(err)} (crash ${crash})`;
  }
  try {
    for (const a of out.acked) {
      const held = versionsOf(registry, a.subject).includes(a.version)
        ? registry.getVersion(a.subject, a.version)
        : null;
      if (!held || held.id !== a.id)
        return `acknowledged ${a.subject} v${a.version} (id ${a.id}) is ${held ? `id ${held.id}` : 'gone'} (crash ${crash})`;
    }
    const heldCount = SUBJECTS.reduce((sum, s) => sum + versionsOf(registry, s).length, 0);
    const prefix = out.issued.slice(0, heldCount);
    for (const r of prefix) {
      if (!versionsOf(registry, r.subject).includes(r.version))
        return `holds ${heldCount} registrations but not the prefix's ${r.subject} v${r.version} (crash ${crash})`;
      const held = registry.getVersion(r.subject, r.version);
      const stored = registry.getSchemaById(held.id);
      if (JSON.parse(stored.schema).fields.length !== r.version)
        return `${r.subject} v${r.version} points at schema ${held.id} of another version (crash ${crash})`;
    }
    // A new registration after recovery gets an id no earlier schema holds.
    const ids = new Set(prefix.map((r) => registry.getVersion(r.subject, r.version).id));
    const next = await registry.register('after-recovery', { schema: '"string"' });
    if (ids.has(next.id)) return `id ${next.id} handed out twice (crash ${crash})`;
    return null;
  } catch (err) {
    return `reading threw ${String(err)} (crash ${crash})`;
  } finally {
    await registry.close();
    await store.close();
  }
}

describe('the schema registry under power loss (FaultFileSystem through openStore)', () => {
  it(`keeps every acknowledged registration and its id across ${SEEDS.length} seeded crashes`, async () => {
    const failures: string[] = [];
    for (const seed of SEEDS) {
      const failure = await trial(seed);
      if (failure) failures.push(`seed ${seed}: ${failure}`);
    }
    if (failures.length > 0) console.error(failures.slice(0, 5).join('\n'));
    expect(failures).toEqual([]);
  }, 300_000);

  it('loses acknowledged registrations without the WAL sync (mutation check)', async () => {
    let caught: string | null = null;
    for (let seed = 1; seed <= 400 && !caught; seed++) caught = await trial(seed, [LSM_SYNC.walSync]);
    console.log(`without ${LSM_SYNC.walSync}: ${caught}`);
    expect(caught).toMatch(/acknowledged|gone/);
  }, 300_000);
});
