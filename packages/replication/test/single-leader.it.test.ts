// Single-leader failover with real processes (DDIA ch. 5 "Handling Node Outages": "if
// asynchronous replication is used, the new leader may not have received all the writes from
// the old leader"). The leader is cut off from its followers while clients still reach it,
// takes writes, dies; a follower is promoted (manual failover, a new epoch). Asynchronous
// writes the old leader acknowledged are gone; synchronous writes were never acknowledged
// without a standby, so none is lost. One cluster runs both, one failover after the other.
import type { Cluster, ClusterNode } from '@ddia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIGURE_5_4_INCONCLUSIVE, type Figure54Result, figure54 } from '../bench/figure-5-4.js';
import { eventually, get, http, put, startReplicationCluster } from './support/real-cluster.js';

const WRITES = 10;
let cluster: Cluster;

interface Outcome {
  acked: number;
  lost: number;
  refused: number;
}

/** Cuts `leader` off from the others, writes to it, kills it and promotes `next`. */
async function failoverTrial(
  leader: ClusterNode,
  next: ClusterNode,
  sync: boolean,
  epoch: number,
): Promise<Outcome> {
  const query = `sync=${sync}`;
  const tag = sync ? 'sync' : 'async';
  // Before the fault: replication works, and this write is acknowledged and replicated.
  await eventually('a leader with a lease', async () =>
    (await put(leader.url, `${tag}-before`, 'x', { query })).status === 200 ? true : undefined,
  );
  await eventually('the follower has it', async () =>
    (await get(next.url, `${tag}-before`)).status === 200 ? true : undefined,
  );
  const acked: string[] = [`${tag}-before`];
  const others = cluster.ids().filter((id) => id !== leader.id);
  cluster.proxies().partition([[leader.id], others], 'reset');
  let refused = 0;
  // Concurrent clients: each write is answered by the old leader alone (or times out).
  await Promise.all(
    Array.from({ length: WRITES }, async (_, i) => {
      const response = await put(leader.url, `${tag}-during-${i}`, `v${i}`, { query });
      if (response.status === 200) acked.push(`${tag}-during-${i}`);
      else refused++;
    }),
  );
  await leader.kill();
  cluster.proxies().heal();
  const promoted = await http.request(`${next.url}/cluster/promote`, { method: 'POST', retry: false });
  expect(promoted.status).toBe(200);
  await eventually('the new leader takes writes', async () =>
    (await put(next.url, `${tag}-after`, 'y')).status === 200 ? true : undefined,
  );
  expect(await http.json(`${next.url}/cluster`)).toMatchObject({ epoch, leader: next.id });
  let lost = 0;
  for (const key of acked) if ((await get(next.url, key)).status !== 200) lost++;
  return { acked: acked.length, lost, refused };
}

describe('single-leader with real processes', () => {
  beforeAll(async () => {
    cluster = await startReplicationCluster(
      'single-leader',
      ['--lease-ms', '2000', '--request-timeout-ms', '1000'],
      {
        proxied: true,
      },
    );
  }, 120_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('read-your-writes (Figure 5-3): a lagging follower misses your write unless the session sends its context', {
    timeout: 60_000,
  }, async () => {
    const [n1, n2] = cluster.nodes as [ClusterNode, ClusterNode];
    await eventually('a leader with a lease', async () =>
      (await put(n1.url, 'warm-up', 'x')).status === 200 ? true : undefined,
    );
    cluster.proxies().latency('n1', 'n2', 400);
    try {
      const written = await put(n1.url, 'profile', 'new photo');
      expect(written.status).toBe(200);
      const context = written.headers['x-context'] as string;
      expect((await get(n2.url, 'profile')).status).toBe(404);
      // The follower holds a session read until it has caught up (at most readWaitMs, 1 s),
      // then answers 503 "behind: retry", as a client is told to. On a loaded machine the
      // 400 ms link can take longer than that, so retry as a client would, a few times.
      const sessionRead = () =>
        http.request(`${n2.url}/kv/profile`, {
          headers: { 'x-session': 'read-your-writes', 'x-context': context },
        });
      let session = await sessionRead();
      const statuses = [session.status];
      for (let retry = 0; retry < 4 && session.status === 503; retry++) {
        expect(session.json()).toMatchObject({ code: 'DDIA_ERR_REPLICATION_BEHIND' });
        session = await sessionRead();
        statuses.push(session.status);
      }
      console.log(
        `figure 5-3: n2 400 ms behind; plain read 404, read-your-writes session ${statuses.join(' then ')}`,
      );
      expect(session.status).toBe(200);
      expect(session.json()).toMatchObject({ value: 'new photo' });
    } finally {
      cluster.proxies().latency('n1', 'n2', 0);
    }
  });

  it("monotonic reads (Figure 5-4): a second read from a more lagging follower goes back in time unless the session sends the first read's context", {
    timeout: 90_000,
  }, async () => {
    // bench/figure-5-4.ts on this cluster. A try whose timing came out wrong (the fresh follower
    // too slow, or the lagging one caught up before the read: a loaded machine) shows nothing
    // either way: it is logged and the next try runs with a fresh key.
    let shown: Figure54Result | null = null;
    const inconclusive: string[] = [];
    for (let attempt = 1; attempt <= 4 && !shown; attempt++) {
      try {
        shown = await figure54(cluster, 1_200, `fig54-${attempt}-${Date.now()}`);
      } catch (error) {
        const message = (error as Error).message;
        if (!FIGURE_5_4_INCONCLUSIVE.test(message)) throw error;
        inconclusive.push(`try ${attempt}: ${message}`);
        console.log(`figure 5-4 try ${attempt} inconclusive: ${message}`);
      }
    }
    expect(shown, `no try was conclusive: ${inconclusive.join('; ')}`).not.toBeNull();
    const r = shown as Figure54Result;
    const line = (x: Figure54Result['plain'][0]) => `${x.at}@${x.position} ${x.status} ${x.value}`;
    console.log(
      `figure 5-4: no session ${line(r.plain[0])} then ${line(r.plain[1])}; monotonic-reads ${line(r.session[0])} then ${line(r.session[1])}`,
    );
    // Without the session: the second read is older than the first (the write's position).
    expect(r.plain[0]).toMatchObject({ status: 200, value: 'comment' });
    expect(r.plain[0].position).toBeGreaterThanOrEqual(r.written);
    expect(r.plain[1].status).toBe(404);
    expect(r.plain[1].position).toBeLessThan(r.written);
    expect(r.anomaly).toBe(true);
    // With it, on the same lagging follower just after: the comment, or "behind, retry"; never older.
    expect(r.session[0]).toMatchObject({ status: 200, value: 'comment' });
    if (r.session[1].status === 200) {
      expect(r.session[1].value).toBe('comment');
      expect(r.session[1].position).toBeGreaterThanOrEqual(r.session[0].position as number);
    } else {
      expect(r.session[1].status).toBe(503);
      expect(r.session[1].detail).toContain('DDIA_ERR_REPLICATION_BEHIND');
      expect(r.session[1].position).toBeLessThan(r.written);
      // Retried as the client is told to, it answers once caught up: the comment.
      expect(r.sessionRetry).toMatchObject({ status: 200, value: 'comment' });
    }
  });

  it('asynchronous replication: the promoted follower lacks writes the old leader acknowledged', {
    timeout: 90_000,
  }, async () => {
    const [n1, n2] = cluster.nodes as [ClusterNode, ClusterNode];
    const outcome = await failoverTrial(n1, n2, false, 2);
    console.log(`async failover: ${JSON.stringify(outcome)}`);
    // Writes after the lease ran out are refused (fencing); every one acknowledged is lost.
    expect(outcome.acked).toBeGreaterThan(1);
    expect(outcome.lost).toBe(outcome.acked - 1);
    // The old leader comes back as a follower of epoch 2 and throws its diverged writes away.
    await n1.restart();
    const discarded = await eventually('n1 rejoins as a follower', async () => {
      const status = await http.json<{ epoch: number; stats: { entriesDiscarded: number } }>(
        `${n1.url}/cluster`,
      );
      return status.epoch === 2 && status.stats.entriesDiscarded > 0
        ? status.stats.entriesDiscarded
        : undefined;
    });
    console.log(`the old leader discarded ${discarded} entries on rejoining`);
    expect(discarded).toBe(outcome.lost);
  });

  it('synchronous replication (?sync=true): no acknowledged write is lost', { timeout: 90_000 }, async () => {
    const [, n2, n3] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
    const outcome = await failoverTrial(n2, n3, true, 3);
    console.log(`sync failover: ${JSON.stringify(outcome)}`);
    expect(outcome.refused).toBe(WRITES);
    expect(outcome.lost).toBe(0);
  });
});
