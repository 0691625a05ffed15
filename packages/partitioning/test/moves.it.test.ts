// Correctness while partitions move (MIT 6.5840 shardkv's tests; Jepsen): four real processes
// behind testkit's fault proxies. Clients read, write, compare-and-set and delete through any
// node while n4 joins (partitions move to it) and n2 leaves (its partitions move away), and a
// seeded nemesis kills, pauses and partitions nodes in the middle of those moves. Afterwards
// the history must be linearizable per key (testkit's checker, kv model) and no acknowledged
// write may be lost (checkLostWrites against final reads); a canary stale read proves the
// checker would notice. A failure prints the seed: DDIA_SEED=<seed> replays the schedule.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpClient } from '@ddia/common';
import {
  type Cluster,
  checkLinearizable,
  checkLostWrites,
  createKvModel,
  HistoryRecorder,
  longRun,
  randomSchedule,
  runNemesis,
  startCluster,
} from '@ddia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalReads, runWorkload, staleReadCanary } from './support/workload.js';

const MAIN_JS = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const FOUNDERS = ['n1', 'n2', 'n3'];
const KEYS = Array.from({ length: 12 }, (_, i) => `k${i}`);
/** The nemesis' schedule: long enough for several faults across the join and the leave in CI;
 *  DDIA_LONG=1 runs the longer schedule. */
const RUN_MS = longRun() ? 12_000 : 6_000;
const SETTLE_MS = 60_000;
const seed = Number(process.env.DDIA_SEED ?? Date.now() % 1_000_000);
const control = new HttpClient({ deadlineMs: 3_000, retries: 0 });

let cluster: Cluster;

interface ClusterView {
  epoch: number;
  nodes: { id: string }[];
  partitions: { id: number; owner: string; target?: string }[];
  moves: { pending: unknown[] };
}

const view = (url: string) => control.json<ClusterView>(`${url}/cluster`, { retry: false });

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadlineAt = performance.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (performance.now() > deadlineAt) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Sends an admin request until it is accepted (202) or already done (409), within the run. */
async function admin(method: 'POST' | 'DELETE', path: string, body?: object): Promise<number> {
  let status = 0;
  await until(
    `${method} ${path}`,
    async () => {
      const url = cluster.node(FOUNDERS[0] as string).url;
      const r = await control.request(`${url}${path}`, {
        method,
        ...(body ? { body } : {}),
        retry: false,
        deadlineMs: 10_000,
      });
      status = r.status;
      return r.status === 202 || r.status === 409;
    },
    30_000,
  );
  return status;
}

beforeAll(async () => {
  cluster = await startCluster({
    nodes: [...FOUNDERS, 'n4'],
    proxied: true,
    // n4 is not part of the first configuration; it is healthy long before it is ready.
    readyPath: '/health',
    readyTimeoutMs: 60_000,
    command: (spec) => {
      const joining = spec.id === 'n4';
      const peers = spec.peers.filter((p) => joining || p.id !== 'n4');
      return {
        args: [
          MAIN_JS,
          '--id',
          spec.id,
          '--host',
          spec.host,
          '--port',
          String(spec.port),
          '--peers',
          peers.map((p) => `${p.id}=${p.url}`).join(','),
          '--data-dir',
          spec.dataDir,
          '--scheme',
          'hash',
          '--partitions',
          '8',
          '--request-timeout-ms',
          '1000',
          '--log-level',
          'info',
          ...(joining ? ['--join'] : []),
        ],
      };
    },
  });
  await until('the first configuration', async () => (await view(cluster.node('n1').url)).epoch >= 1, 30_000);
});

afterAll(async () => {
  await cluster?.close();
  await control.close();
});

describe('partitions move under faults (4 real processes, hash scheme, seeded nemesis)', () => {
  it('n4 joins and n2 leaves while clients write and the nemesis kills, pauses and partitions nodes: linearizable, no acknowledged write lost', {
    timeout: 150_000,
  }, async () => {
    const recorder = new HistoryRecorder();
    const schedule = randomSchedule({
      seed,
      nodes: cluster.ids(),
      durationMs: RUN_MS - 1_000,
      faults: ['kill', 'pause', 'partition'],
      faultMs: [500, 1_500],
    });
    const nemesis = runNemesis({ cluster, schedule });
    // Clients keep going through the faults and until every move has finished, so that the
    // history covers each move from copy to flip, whatever the machine's speed.
    let settled = false;
    const workload = runWorkload({
      urls: () => cluster.urls(),
      recorder,
      processes: 8,
      keys: KEYS,
      done: () => settled,
      seed,
    });
    // The moves: n4 joins (reached through n1's proxy to it, so partitions cut it too), then n2
    // is asked to leave while those moves may still run.
    const n4Url = cluster.proxies().link('n1', 'n4').url;
    const joined = await admin('POST', '/cluster/nodes', { id: 'n4', url: n4Url });
    await new Promise((r) => setTimeout(r, 2_000));
    const left = await admin('DELETE', '/cluster/nodes/n2');
    const applied = await nemesis.done;

    // The nemesis has healed the network and restarted and resumed everyone; the moves must
    // now finish.
    const reader = () => cluster.node('n1').url;
    try {
      await until(
        'the moves to finish',
        async () => {
          const c = await view(reader());
          return (
            c.moves.pending.length === 0 &&
            c.nodes.some((n) => n.id === 'n4') &&
            !c.nodes.some((n) => n.id === 'n2')
          );
        },
        SETTLE_MS,
      );
    } finally {
      settled = true;
    }
    const stats = await workload;
    const final = await view(reader());
    const finals = await finalReads(
      ['n1', 'n3', 'n4'].map((id) => cluster.node(id).url),
      KEYS,
    );
    const history = recorder.events();
    const model = createKvModel({ initialValue: null });
    const linear = checkLinearizable(history, model, { timeoutMs: 60_000 });
    const lost = checkLostWrites(history, finals, { initialValue: null });
    const label = `seed=${seed} (replay: DDIA_SEED=${seed})`;
    if (linear.verdict !== 'linearizable' || !lost.valid) {
      const dir = await mkdtemp(join(tmpdir(), 'part-moves-'));
      await recorder.writeFile(join(dir, 'history.json'));
      console.error(
        `${label} failed; history in ${dir}\n${(linear.explanation ?? []).join('\n')}\n` +
          `${JSON.stringify(lost.lost.slice(0, 5))}\n${JSON.stringify(applied)}\n${await cluster.logTails(15)}`,
      );
    }
    console.log(
      `${label}: join ${joined}, leave ${left}, epoch ${final.epoch}; ops ok=${stats.ok} fail=${stats.fail} info=${stats.info}; ` +
        `${linear.operationCount} checked; faults ${applied.map((a) => a.action.op).join(',')}`,
    );
    expect(linear.verdict, label).toBe('linearizable');
    expect(lost.lost, label).toEqual([]);
    expect(lost.unexplained, label).toEqual([]);
    // The run did real work through the faults (on a busy 2-core machine a partition whose only
    // copy is killed or paused refuses for the fault's length), and partitions changed owner.
    expect(stats.ok).toBeGreaterThan(30);
    expect(final.partitions.filter((p) => p.owner === 'n4').length).toBeGreaterThan(0);
    expect(final.partitions.some((p) => p.owner === 'n2')).toBe(false);
    const canary = checkLinearizable(staleReadCanary(history), model, { timeoutMs: 60_000 });
    expect(canary.verdict, 'the checker must reject a stale read').toBe('not-linearizable');
  });
});
