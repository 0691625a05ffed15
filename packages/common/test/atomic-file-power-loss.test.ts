// writeFileAtomic under simulated power loss: a file replaced again and again, the power cut
// at a random operation; afterwards the file must hold exactly one version written whole, and
// never one older than the last acknowledged. With either of its two syncs skipped
// (atomic.file, atomic.dir) the same check must fail for some seed (mutation check).
import { writeFileAtomic } from '@ddia/common';
import { FaultFileSystem, SimulatedCrashError } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';

const SEEDS = process.env.DDIA_LONG === '1' ? 10_000 : 1_000;
const PATH = '/data/state.json';

function version(n: number): string {
  // Several sectors long, so that a torn write is visible.
  return JSON.stringify({ version: n, pad: 'p'.repeat(600 + ((n * 977) % 5000)) });
}

async function trial(seed: number, skipSyncPoints: string[] = []): Promise<string | null> {
  const fs = new FaultFileSystem({ seed, skipSyncPoints });
  await fs.mkdir('/data');
  await fs.fsyncDir('/', 'test.setup');
  await fs.fsyncDir('/data', 'test.setup');
  const versions = 1 + (seed % 6);
  fs.crashAfter(seed % (versions * 7 + 1));
  let acked = 0;
  for (let n = 1; n <= versions; n++) {
    try {
      await writeFileAtomic(PATH, version(n), { fs });
      acked = n;
    } catch (err) {
      if (err instanceof SimulatedCrashError) break;
      throw err;
    }
  }
  const after = fs.crash();
  let text: string;
  try {
    text = Buffer.from(await after.readFile(PATH)).toString();
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT')
      return acked === 0 ? null : `version ${acked} acknowledged, file gone`;
    throw err;
  }
  let found: number;
  try {
    found = (JSON.parse(text) as { version: number }).version;
  } catch {
    return `file holds a torn or empty version (${text.length} bytes)`;
  }
  if (text !== version(found)) return `file holds a damaged version ${found}`;
  if (found < acked) return `file holds version ${found}, version ${acked} was acknowledged`;
  return null;
}

describe('writeFileAtomic under power loss (FaultFileSystem)', () => {
  it(`leaves the old or the new version whole over ${SEEDS} seeded crashes`, async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      const failure = await trial(seed);
      if (failure) failures.push(`seed ${seed}: ${failure}`);
    }
    expect(failures).toEqual([]);
  });

  for (const point of ['atomic.file', 'atomic.dir']) {
    it(`fails without the ${point} sync (mutation check)`, async () => {
      let caught: string | null = null;
      for (let seed = 1; seed <= SEEDS && !caught; seed++) caught = await trial(seed, [point]);
      console.log(`${point}: ${caught}`);
      expect(caught).not.toBeNull();
    });
  }
});
