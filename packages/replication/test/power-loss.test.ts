// The node's journal under simulated power loss (testkit's FaultFileSystem): a seeded workload
// of concurrent writes through a node's driver, the power cut at a random file-system
// operation, the journal reopened from what survived and replayed into a fresh core. Every
// write the node acknowledged must be there (the driver answers only after the fsync), for
// each mode's record kind. A canary skips the journal's fsync: the same check must then fail.
// Replay one seed: DDIA_SEED=<seed> npx vitest run --project replication power-loss
import { LOG_SYNC, SeededRandom } from '@ddia/common';
import { FaultFileSystem } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import type { KeyRecord, RequestResult } from '../src/index.js';
import { SkewableClock } from '../src/node/driver.js';
import { Journal } from '../src/node/journal.js';
import { LeaderlessMode } from '../src/node/leaderless-mode.js';
import type { ModeNode } from '../src/node/mode.js';
import { SingleLeaderMode } from '../src/node/single-leader-mode.js';
import { PeerTransport } from '../src/node/transport.js';

const LONG = process.env.DDIA_LONG === '1';
const REPLAY = process.env.DDIA_SEED === undefined ? null : Number(process.env.DDIA_SEED);
const SEEDS = REPLAY !== null ? [REPLAY] : Array.from({ length: LONG ? 2_000 : 80 }, (_, i) => i + 1);
const DIR = '/data/journal';

type ModeKind = 'leaderless' | 'single-leader';

async function openNode(
  kind: ModeKind,
  fs: FaultFileSystem,
): Promise<ModeNode & { driver: { recover(): Promise<number> } }> {
  const clock = new SkewableClock();
  const onFatal = () => {};
  if (kind === 'leaderless') {
    const journal = await Journal.open<KeyRecord>(DIR, fs);
    return new LeaderlessMode(
      { id: 'n1', nodes: ['n1'], n: 1, w: 1, r: 1, antiEntropyEveryMs: 0 },
      clock,
      journal,
      new PeerTransport('n1', new Map()),
      onFatal,
      true,
    );
  }
  const journal = await Journal.open<never>(DIR, fs);
  return new SingleLeaderMode(
    { id: 'n1', nodes: ['n1'], initialLeader: 'n1' },
    clock,
    journal,
    new PeerTransport('n1', new Map()),
    onFatal,
  );
}

function valuesRead(result: RequestResult): string | null {
  if (!result.ok || !result.view || result.view.values.length === 0) return null;
  return result.view.values.join('|');
}

async function trial(kind: ModeKind, seed: number, skip: string[] = []): Promise<string | null> {
  const random = new SeededRandom(seed);
  const keys = random.int(1, 6);
  const writes = random.int(5, 40);
  const fresh = async () => {
    const fs = new FaultFileSystem({ seed, skipSyncPoints: skip });
    await fs.mkdir('/data');
    await fs.fsyncDir('/', 'test.setup');
    return fs;
  };
  const workload = async (fs: FaultFileSystem, acked: Map<string, number>) => {
    let node: Awaited<ReturnType<typeof openNode>>;
    try {
      node = await openNode(kind, fs);
    } catch {
      return;
    }
    const order = new SeededRandom(seed + 1);
    // Writes in waves of concurrent requests: the journal's group commit batches them.
    for (let i = 0; i < writes; ) {
      const wave = Math.min(writes - i, order.int(1, 6));
      await Promise.all(
        Array.from({ length: wave }, async (_, j) => {
          const n = i + j;
          const key = `k${order.int(0, keys - 1)}`;
          // Each write reads the key first and sends its context back: no siblings, so the
          // value after recovery is the last acknowledged write or a later unacknowledged one.
          const read = await node.run({ kind: 'read', key }).catch(() => null);
          const context = read?.ok ? (read.view?.context ?? null) : null;
          const result = await node
            .run({ kind: 'write', key, mutation: { op: 'put', value: String(n), context, type: 'mv' } })
            .catch(() => null);
          if (result?.ok) acked.set(key, Math.max(acked.get(key) ?? -1, n));
        }),
      );
      i += wave;
    }
  };
  const dry = await fresh();
  await workload(dry, new Map());
  const fs = await fresh();
  fs.crashAfter(random.int(0, dry.opCount));
  const acked = new Map<string, number>();
  await workload(fs, acked);
  const after = fs.crash();
  let node: Awaited<ReturnType<typeof openNode>>;
  try {
    node = await openNode(kind, after);
    await node.driver.recover();
  } catch (error) {
    return `recovery threw: ${String(error)}`;
  }
  for (const [key, n] of acked) {
    const value = valuesRead(await node.run({ kind: 'read', key }));
    const survivors = (value ?? '').split('|').map(Number);
    if (value === null || !survivors.some((v) => v >= n))
      return `${key}: acknowledged write ${n} lost (found ${value ?? 'nothing'})`;
  }
  return null;
}

describe('power loss: acknowledged writes survive in the node journal', () => {
  for (const kind of ['leaderless', 'single-leader'] as const) {
    it(`${kind}: every acknowledged write survives a power cut at any operation (${SEEDS.length} seeds)`, {
      timeout: 120_000,
    }, async () => {
      for (const seed of SEEDS) {
        const failure = await trial(kind, seed);
        if (failure) expect.fail(`seed ${seed}: ${failure}`);
      }
    });
  }

  it('canary: without the journal fsync, a power cut loses acknowledged writes', {
    timeout: 120_000,
  }, async () => {
    let caught = 0;
    for (const seed of SEEDS) if (await trial('leaderless', seed, [LOG_SYNC.append])) caught++;
    expect(caught).toBeGreaterThan(0);
  });
});
