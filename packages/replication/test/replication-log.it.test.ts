// The single-leader replication log with real processes (DDIA ch. 5, "Setting Up New Followers",
// "Implementation of Replication Logs"): statement-based shipping re-runs now() on each replica
// (here one replica's clock is a minute behind, so the copies differ by a minute); a new
// follower with an empty disk starts from the leader's snapshot and the log position after it
// once the leader no longer keeps the log that far back; the leader's /metrics shows the lag.
import { mkdir, rm } from 'node:fs/promises';
import type { Cluster } from '@ddia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, get, http, put, startReplicationCluster } from './support/real-cluster.js';

const RETAIN_ENTRIES = 5;
const SKEW_MS = -60_000;
let cluster: Cluster;

/** The leader's replication_peer_lag gauges for one follower, by measure. */
async function metricsLag(url: string, peer: string): Promise<Record<string, number>> {
  const text = (await http.request(`${url}/metrics`)).body.toString();
  const lag: Record<string, number> = {};
  const line = new RegExp(`^replication_peer_lag\\{peer="${peer}",measure="(\\w+)"[^}]*\\} (\\S+)$`, 'gm');
  for (const match of text.matchAll(line)) lag[match[1] as string] = Number(match[2]);
  return lag;
}

describe('single-leader replication log with real processes', () => {
  beforeAll(async () => {
    cluster = await startReplicationCluster('single-leader', [
      '--replication-format',
      'statement',
      '--log-retain-entries',
      String(RETAIN_ENTRIES),
      '--chaos',
    ]);
  }, 120_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('statement-based: now() is evaluated again on each replica, so the copies differ', {
    timeout: 60_000,
  }, async () => {
    const [n1, n2] = cluster.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
    await http.request(`${n2.url}/chaos/clock-skew`, {
      method: 'POST',
      body: JSON.stringify({ ms: SKEW_MS }),
      headers: { 'content-type': 'application/json' },
      retry: false,
    });
    const written = await eventually('the leader takes the write', async () => {
      const response = await put(n1.url, 'created', 'now()');
      return response.status === 200 ? response : undefined;
    });
    const context = written.headers['x-context'] as string;
    const session = (url: string) =>
      http.request(`${url}/kv/created`, {
        headers: { 'x-session': 'read-your-writes', 'x-context': context },
      });
    const atLeader = Number((await session(n1.url)).json<{ value: string }>().value);
    const atFollower = await eventually('the follower applied the statement', async () => {
      const answer = await session(n2.url);
      return answer.status === 200 ? Number(answer.json<{ value: string }>().value) : undefined;
    });
    console.log(`statement now(): leader ${atLeader}, follower with its clock 60 s behind ${atFollower}`);
    // The same log entry, two values: the follower's is its own (skewed) clock's reading.
    expect(atLeader - atFollower).toBeGreaterThan(-SKEW_MS / 2);
  });

  it('a new follower with an empty disk starts from the snapshot and the log position after it; /metrics shows the lag', {
    timeout: 90_000,
  }, async () => {
    const [n1, , n3] = cluster.nodes as [Cluster['nodes'][0], Cluster['nodes'][0], Cluster['nodes'][0]];
    await n3.kill();
    await rm(n3.dataDir, { recursive: true, force: true });
    await mkdir(n3.dataDir, { recursive: true });
    const rows = RETAIN_ENTRIES * 3;
    for (let i = 0; i < rows; i++) expect((await put(n1.url, `row${i}`, `r${i}`)).status).toBe(200);
    const lag = await metricsLag(n1.url, 'n3');
    expect(lag.lagEntries).toBeGreaterThanOrEqual(rows);
    expect(lag.lagMs).toBeGreaterThan(0);
    await n3.start();
    const status = await eventually(
      'n3 caught up',
      async () => {
        const s = await http.json<{ stats: { position: number; snapshotPosition: number } }>(
          `${n3.url}/cluster`,
        );
        const leader = await http.json<{ stats: { position: number } }>(`${n1.url}/cluster`);
        return s.stats.position === leader.stats.position ? s : undefined;
      },
      60_000,
    );
    console.log(
      `new follower: snapshot at position ${status.stats.snapshotPosition}, then the log to ${status.stats.position}; leader's lag gauge before it joined: ${JSON.stringify(lag)}`,
    );
    // The leader kept only the last entries: the follower got a snapshot, not the whole log.
    expect(status.stats.snapshotPosition).toBeGreaterThan(0);
    for (const i of [0, rows - 1]) expect((await get(n3.url, `row${i}`)).values).toEqual([`r${i}`]);
    await eventually('the lag gauge back to 0', async () =>
      (await metricsLag(n1.url, 'n3')).lagEntries === 0 ? true : undefined,
    );
  });
});
