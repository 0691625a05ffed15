// The manifest and CURRENT under simulated power loss (testkit's FaultFileSystem): version
// edits are appended and the manifest is rewritten now and then (a new MANIFEST-n, CURRENT
// moved to it atomically, the old one removed), as the engine does; the power is cut at a
// random file-system operation. Reading the manifest back must give the state of the last
// acknowledged edit or of an edit in flight, never an older one, and never fail.
// Replay one seed: DDIA_SEED=<seed> npx vitest run --project lsm-engine manifest-power-loss
import { SeededRandom } from '@ddia/common';
import { FaultFileSystem, SimulatedCrashError } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { ManifestWriter, readManifest, removeOldManifests } from '../src/manifest.js';

const LOCATION = '/db';
const LONG = process.env.DDIA_LONG === '1';
const REPLAY = process.env.DDIA_SEED === undefined ? null : Number(process.env.DDIA_SEED);
const SEEDS = REPLAY !== null ? [REPLAY] : Array.from({ length: LONG ? 30_000 : 3_000 }, (_, i) => i + 1);

const isCrash = (err: unknown) =>
  err instanceof SimulatedCrashError ||
  (err instanceof Error && (err.name === 'LogClosedError' || err.cause instanceof SimulatedCrashError));

interface Outcome {
  /** lastSeq of the last acknowledged edit (-1: no manifest acknowledged yet). */
  acked: number;
  /** The highest lastSeq ever written. */
  attempted: number;
}

async function workload(fs: FaultFileSystem, random: SeededRandom, out: Outcome): Promise<void> {
  let fileNumber = 1;
  let seq = 0;
  try {
    let writer = await ManifestWriter.create(LOCATION, fileNumber++, { lastSeq: 0, nextFileNumber: 2 }, fs);
    out.acked = 0;
    const edits = random.int(1, 30);
    for (let i = 0; i < edits; i++) {
      if (random.chance(0.15)) {
        // Rewrite: a fresh manifest holding the whole state, then the old one goes.
        const old = writer;
        writer = await ManifestWriter.create(
          LOCATION,
          fileNumber++,
          { lastSeq: seq, nextFileNumber: fileNumber },
          fs,
        );
        await old.close();
        await removeOldManifests(LOCATION, writer.name, fs);
        continue;
      }
      seq++;
      out.attempted = seq;
      await writer.append({ lastSeq: seq });
      out.acked = seq;
    }
  } catch (err) {
    if (!isCrash(err)) throw err;
  }
}

async function trial(seed: number, skipSyncPoints: string[] = []): Promise<string | null> {
  const random = new SeededRandom(seed);
  const workloadSeed = random.int(0, 2 ** 31);
  const setUp = async () => {
    const fs = new FaultFileSystem({ seed, skipSyncPoints });
    await fs.mkdir(LOCATION);
    await fs.fsyncDir('/', 'test.setup');
    return fs;
  };
  const dry = await setUp();
  await workload(dry, new SeededRandom(workloadSeed), { acked: -1, attempted: 0 });
  const fs = await setUp();
  fs.crashAfter(random.int(0, dry.opCount));
  const out: Outcome = { acked: -1, attempted: 0 };
  await workload(fs, new SeededRandom(workloadSeed), out);
  const after = fs.crash();
  let read: Awaited<ReturnType<typeof readManifest>>;
  try {
    read = await readManifest(LOCATION, after);
  } catch (err) {
    return `reading the manifest threw: ${String(err)} (crash ${JSON.stringify(after.lastCrash)})`;
  }
  if (read === null) return out.acked >= 0 ? `manifest gone, edit ${out.acked} was acknowledged` : null;
  let lastSeq = -1;
  for (const edit of read.edits) if (edit.lastSeq !== undefined) lastSeq = edit.lastSeq;
  if (lastSeq < out.acked)
    return `state of edit ${lastSeq}, edit ${out.acked} was acknowledged (${read.name})`;
  if (lastSeq > out.attempted) return `state of edit ${lastSeq}, which was never written`;
  return null;
}

describe('manifest and CURRENT under power loss (FaultFileSystem)', () => {
  it(`keep every acknowledged edit over ${SEEDS.length} seeded crashes`, async () => {
    const failures: string[] = [];
    for (const seed of SEEDS) {
      const failure = await trial(seed);
      if (failure) failures.push(`seed ${seed}: ${failure}`);
    }
    if (failures.length > 0) console.error(failures.slice(0, 5).join('\n'));
    expect(failures).toEqual([]);
  }, 300_000);

  // (log.open.dir is covered here by CURRENT's directory fsync, which fsyncs the manifest's parent.)
  for (const point of ['lsm.current.file', 'lsm.current.dir', 'log.append', 'log.segment.dir']) {
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
