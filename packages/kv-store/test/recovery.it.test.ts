// Reliability with real processes and SIGKILL (DDIA ch. 1 "Reliability", ch. 5 "Handling node
// outages"): failover time after the leader dies, restart of every node, a wiped node that
// catches up from a snapshot, and membership changes while clients write.
import { rm } from 'node:fs/promises';
import { HttpClient } from '@ddia/common';
import {
  type Cluster,
  checkLinearizable,
  checkLostWrites,
  createKvModel,
  HistoryRecorder,
} from '@ddia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ELECTION_TIMEOUT_MAX_MS, findLeader, nodeStatus, startKvCluster } from './support/real-cluster.js';
import { finalReads, runWorkload } from './support/workload.js';

const LONG = process.env.DDIA_LONG === '1';
const FAILOVER_TRIALS = LONG ? 20 : 3;
const http = new HttpClient({ deadlineMs: 5_000, retries: 0 });

async function put(url: string, key: string, value: string, deadlineMs = 5_000) {
  return http.request(`${url}/kv/${encodeURIComponent(key)}`, {
    method: 'PUT',
    body: value,
    deadlineMs,
    retry: false,
  });
}

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch {
      // not yet
    }
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

describe('reliability with real processes', () => {
  // One cluster (the default lsm engine, a snapshot every 50 entries) serves the failover, the
  // restart with --engine lsm and the wiped node, in that order: each leaves all three nodes
  // running. Starting one per case cost a good part of this file's time.
  let shared: Cluster;
  beforeAll(async () => {
    shared = await startKvCluster(3, { extra: () => ['--engine', 'lsm', '--snapshot-entries', '50'] });
  }, 120_000);
  afterAll(async () => {
    await shared?.close();
  }, 60_000);

  it(`failover: after SIGKILL of the leader, writes succeed within 2 x the max election timeout (${FAILOVER_TRIALS} trials)`, {
    timeout: 60_000 + FAILOVER_TRIALS * 15_000,
  }, async () => {
    const cluster = shared;
    const times: number[] = [];
    for (let trial = 0; trial < FAILOVER_TRIALS; trial++) {
      const leaderId = await findLeader(cluster);
      const leader = cluster.node(leaderId);
      const survivors = cluster.nodes.filter((n) => n !== leader);
      expect((await put(survivors[0]!.url, 'failover', `before-${trial}`)).status).toBeLessThan(300);
      await leader.kill();
      const killedAt = performance.now();
      for (let attempt = 0; ; attempt++) {
        const target = survivors[attempt % survivors.length]!;
        try {
          const r = await put(target.url, 'failover', `after-${trial}`, 500);
          if (r.status < 300) break;
        } catch {
          // no answer in time: keep trying
        }
        if (performance.now() - killedAt > 20_000) throw new Error('no write succeeded within 20 s');
      }
      times.push(performance.now() - killedAt);
      await leader.start();
      await leader.waitReady();
    }
    const sorted = [...times].sort((a, b) => a - b);
    console.log(
      `failover ms over ${times.length} trials: min ${sorted[0]?.toFixed(0)} p50 ${percentile(sorted, 50).toFixed(0)} p90 ${percentile(sorted, 90).toFixed(0)} max ${sorted.at(-1)?.toFixed(0)} (bound ${2 * ELECTION_TIMEOUT_MAX_MS})`,
    );
    for (const t of times) expect(t).toBeLessThan(2 * ELECTION_TIMEOUT_MAX_MS);
  });

  it.each(['level', 'lsm'])(
    'restart of every node (SIGKILL) keeps every acknowledged write (--engine %s)',
    { timeout: 90_000 },
    async (engine) => {
      const cluster =
        engine === 'lsm' ? shared : await startKvCluster(3, { extra: () => ['--engine', engine] });
      try {
        const written = new Map<string, string>();
        for (let i = 0; i < 60; i++) {
          const key = `k${i % 20}`;
          const value = `v${i}`;
          const r = await put(cluster.nodes[i % 3]!.url, key, value);
          expect(r.status).toBeLessThan(300);
          written.set(key, value);
        }
        await Promise.all(cluster.nodes.map((n) => n.kill()));
        await Promise.all(cluster.nodes.map((n) => n.start()));
        await Promise.all(cluster.nodes.map((n) => n.waitReady()));
        const finals = await finalReads(cluster.urls(), [...written.keys()]);
        expect(Object.fromEntries(finals)).toEqual(Object.fromEntries(written));
      } finally {
        if (cluster !== shared) await cluster.close();
      }
    },
  );

  it('a wiped node rejoins and catches up from the leader’s snapshot', { timeout: 90_000 }, async () => {
    const cluster = shared;
    {
      const leaderId = await findLeader(cluster);
      const victim = cluster.nodes.find((n) => n.id !== leaderId)!;
      await victim.kill();
      await rm(victim.dataDir, { recursive: true, force: true });
      const others = cluster.nodes.filter((n) => n !== victim);
      for (let i = 0; i < 200; i++)
        expect((await put(others[i % 2]!.url, `s${i}`, `v${i}`)).status).toBeLessThan(300);
      await http.request(`${cluster.node(await findLeader(cluster)).url}/admin/snapshot`, {
        method: 'POST',
        retry: false,
      });
      await victim.start();
      await victim.waitReady();
      const caughtUp = await eventually('the wiped node to catch up', async () => {
        const r = await http.request(`${victim.url}/kv/s199?consistency=serializable`, { retry: false });
        return r.status === 200 ? r.text() : undefined;
      });
      expect(caughtUp).toBe('v199');
      const status = await nodeStatus(victim.directUrl);
      expect(status?.snapshotIndex ?? 0).toBeGreaterThan(0);
      const listing = (await http.json(`${victim.url}/kv?prefix=s&limit=1000&consistency=serializable`)) as {
        count: number;
      };
      expect(listing.count).toBe(200);
    }
  });

  it('membership: grow 3 -> 5 and shrink back while clients write; nothing acknowledged is lost', {
    timeout: 150_000,
  }, async () => {
    const founders = ['n1', 'n2', 'n3'];
    const cluster = await startKvCluster(['n1', 'n2', 'n3', 'n4', 'n5'], {
      readyPath: '/health',
      extra: (spec) =>
        founders.includes(spec.id)
          ? [
              '--peers',
              spec.peers
                .filter((p) => founders.includes(p.id))
                .map((p) => `${p.id}=${p.url}`)
                .join(','),
            ]
          : ['--join'],
    });
    try {
      const recorder = new HistoryRecorder();
      const keys = ['m1', 'm2', 'm3'];
      const founderUrls = () => cluster.nodes.filter((n) => founders.includes(n.id)).map((n) => n.url);
      await findLeader(cluster);
      // The clients write until the membership changes are done, and a second longer against
      // the shrunk cluster (at most a minute); not for a fixed 20 s as before.
      let changesDone: () => void = () => {};
      const changes = new Promise<void>((resolve) => (changesDone = resolve));
      const workload = runWorkload({
        urls: founderUrls,
        recorder,
        processes: 4,
        keys,
        durationMs: 60_000,
        until: changes.then(() => new Promise((resolve) => setTimeout(resolve, 1_000))),
        seed: 7,
      });
      const admin = async (body: object) => {
        const r = await http.request(`${cluster.nodes[0]!.url}/cluster/members`, {
          method: 'POST',
          body,
          deadlineMs: 60_000,
          retry: false,
        });
        expect(r.status, r.text()).toBe(200);
      };
      const voters = async (expected: string[]) =>
        eventually(`voters ${expected.join(',')}`, async () => {
          const view = (await http.json(`${cluster.nodes[0]!.url}/cluster`)) as {
            members: { id: string; voter: boolean }[];
          };
          const ids = view.members
            .filter((m) => m.voter)
            .map((m) => m.id)
            .sort();
          return JSON.stringify(ids) === JSON.stringify(expected) ? ids : undefined;
        });
      try {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        await admin({ action: 'add', id: 'n4', url: cluster.node('n4').directUrl });
        await admin({ action: 'add', id: 'n5', url: cluster.node('n5').directUrl });
        expect(await voters(['n1', 'n2', 'n3', 'n4', 'n5'])).toHaveLength(5);
        await admin({ action: 'remove', id: 'n4' });
        await admin({ action: 'remove', id: 'n5' });
      } finally {
        changesDone();
      }
      const stats = await workload;
      expect(await voters(founders)).toEqual(founders);
      const finals = await finalReads(founderUrls(), keys);
      const history = recorder.events();
      expect(checkLostWrites(history, finals, { initialValue: null }).lost).toEqual([]);
      expect(checkLinearizable(history, createKvModel({ initialValue: null })).verdict).toBe('linearizable');
      expect(stats.ok).toBeGreaterThan(50);
    } finally {
      await cluster.close();
    }
  });
});
