// Jepsen-style runs against real processes (Kingsbury's etcd and Raft analyses; MIT 6.5840
// kvraft): concurrent clients do get / put / CAS / delete through any node while a nemesis
// kills, pauses, partitions and slows nodes; each history must be linearizable (kv model) and
// no acknowledged write may be lost. A failing run prints its seed and keeps its history.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Cluster,
  checkLinearizable,
  checkLostWrites,
  createKvModel,
  type HistoryEvent,
  HistoryRecorder,
  isolate,
  type NemesisSchedule,
  randomSchedule,
  runNemesis,
  scriptedSchedule,
} from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { staleReadCanary } from './support/canary.js';
import { findLeader, startKvCluster } from './support/real-cluster.js';
import { finalReads, runWorkload } from './support/workload.js';

const LONG = process.env.DDIA_LONG === '1';
const KEYS = ['a', 'b', 'c', 'd'];
const PROCESSES = 6;
const RUN_MS = LONG ? 12_000 : 8_000;
const LONG_SCHEDULES = 100;
const baseSeed = Number(process.env.DDIA_SEED ?? Date.now() % 1_000_000);

async function checkRun(
  cluster: Cluster,
  schedule: (cluster: Cluster) => Promise<NemesisSchedule>,
  seed: number,
  label: string,
  keys: string[] = KEYS,
): Promise<void> {
  const recorder = new HistoryRecorder();
  const nemesis = runNemesis({ cluster, schedule: await schedule(cluster) });
  const stats = await runWorkload({
    urls: () => cluster.urls(),
    recorder,
    processes: PROCESSES,
    keys,
    durationMs: RUN_MS,
    seed,
  });
  await nemesis.done;
  const finals = await finalReads(cluster.urls(), keys);
  const history = recorder.events();
  const linear = checkLinearizable(history, createKvModel({ initialValue: null }), { timeoutMs: 60_000 });
  const lost = checkLostWrites(history, finals, { initialValue: null });
  if (linear.verdict !== 'linearizable' || !lost.valid) {
    const dir = await mkdtemp(join(tmpdir(), 'kv-jepsen-'));
    await recorder.writeFile(join(dir, 'history.json'));
    console.error(
      `${label} failed: seed=${seed} (replay with DDIA_SEED=${seed}); history in ${dir}\n` +
        `${(linear.explanation ?? []).join('\n')}\n${JSON.stringify(lost.lost.slice(0, 5))}\n${await cluster.logTails(20)}`,
    );
  }
  console.log(
    `${label} seed=${seed}: ops ok=${stats.ok} fail=${stats.fail} info=${stats.info}, ${linear.operationCount} checked`,
  );
  expect(linear.verdict, `${label} seed=${seed}`).toBe('linearizable');
  expect(lost.lost, `${label} seed=${seed}`).toEqual([]);
  // The run must have done real work through the faults, or it proves nothing.
  expect(stats.ok).toBeGreaterThan(50);
  expectCanaryCaught(history);
}

/**
 * Canary: the same history plus one stale read (a value that a later acknowledged put, begun
 * after it completed, overwrote) must be rejected, or the check above proves nothing.
 * Refuting a history means exhausting every order of the operations before the bad read, which
 * explodes with unknown-outcome operations; so the stale read goes in right after the earliest
 * overwrite, where few operations precede it, and only that key's operations are checked (keys
 * are independent registers). Values are unique per put, so nothing else could explain it.
 */
function expectCanaryCaught(history: HistoryEvent[]): void {
  const canary = staleReadCanary(history);
  const verdict = checkLinearizable(canary, createKvModel({ initialValue: null }), {
    timeoutMs: 60_000,
  }).verdict;
  expect(verdict, 'the checker must reject a stale read').toBe('not-linearizable');
}

const random = (seed: number) => async (cluster: Cluster) =>
  randomSchedule({
    seed,
    nodes: cluster.ids(),
    durationMs: RUN_MS - 1_000,
    faults: ['kill', 'pause', 'partition', 'latency'],
    faultMs: [600, 2_000],
  });

/** The old leader alone on the minority side, clients still talking to it; then it is killed. */
const leaderIsolatedThenKilled = async (cluster: Cluster) => {
  const leader = await findLeader(cluster);
  return scriptedSchedule(cluster.ids(), [
    { atMs: 500, action: { op: 'partition', shape: 'custom', cuts: isolate(leader, cluster.ids()) } },
    { atMs: 3_000, action: { op: 'heal' } },
    { atMs: 4_000, action: { op: 'kill', node: leader } },
    { atMs: 6_000, action: { op: 'restart', node: leader } },
  ]);
};

describe('Jepsen-style runs: linearizable, no lost acknowledged writes', () => {
  // The two 3-node runs share one cluster (the nemesis heals and restarts everything at the end
  // of a run); the second writes its own keys, so each history starts from nothing.
  it('3 nodes: old leader isolated in a minority, then killed; then random kills, pauses, partitions and latency spikes', {
    timeout: 240_000,
  }, async () => {
    const cluster = await startKvCluster(3, { proxied: true });
    try {
      await checkRun(cluster, leaderIsolatedThenKilled, baseSeed, '3 nodes leader-minority');
      await checkRun(
        cluster,
        random(baseSeed + 1),
        baseSeed + 1,
        '3 nodes random',
        KEYS.map((k) => `${k}2`),
      );
    } finally {
      await cluster.close();
    }
  });

  it('5 nodes: random faults', { timeout: 120_000 }, async () => {
    const cluster = await startKvCluster(5, { proxied: true });
    try {
      await checkRun(cluster, random(baseSeed + 2), baseSeed + 2, '5 nodes random');
    } finally {
      await cluster.close();
    }
  });

  it.skipIf(!LONG)(
    `${LONG_SCHEDULES} random schedules on 3 and 5 nodes (DDIA_LONG=1)`,
    { timeout: 6 * 3_600_000 },
    async () => {
      for (let i = 0; i < LONG_SCHEDULES; i++) {
        const size = i % 4 === 3 ? 5 : 3;
        const cluster = await startKvCluster(size, { proxied: true });
        try {
          const schedule = i % 10 === 0 ? leaderIsolatedThenKilled : random(baseSeed + 100 + i);
          await checkRun(cluster, schedule, baseSeed + 100 + i, `long #${i} (${size} nodes)`);
        } finally {
          await cluster.close();
        }
      }
    },
  );
});
