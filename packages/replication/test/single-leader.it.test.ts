// Single-leader failover with real processes (DDIA ch. 5 "Handling Node Outages": "if
// asynchronous replication is used, the new leader may not have received all the writes from
// the old leader"). The leader is cut off from its followers while clients still reach it,
// takes writes, dies; a follower is promoted (manual failover, a new epoch). Asynchronous
// writes the old leader acknowledged are gone; synchronous writes were never acknowledged
// without a standby, so none is lost.
import type { Cluster } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { eventually, get, http, put, startReplicationCluster } from './support/real-cluster.js';

const WRITES = 10;

async function failoverTrial(sync: boolean): Promise<{ acked: number; lost: number; refused: number }> {
  const cluster: Cluster = await startReplicationCluster(
    'single-leader',
    ['--lease-ms', '3000', '--request-timeout-ms', '1000'],
    { proxied: true },
  );
  try {
    const [n1, n2] = cluster.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
    const query = `sync=${sync}`;
    // Before the fault: replication works, and these writes are acknowledged too.
    await eventually('a leader with a lease', async () =>
      (await put(n1.url, 'before', 'x', { query })).status === 200 ? true : undefined,
    );
    await eventually('the follower has it', async () =>
      (await get(n2.url, 'before')).status === 200 ? true : undefined,
    );
    const acked: string[] = ['before'];
    cluster.proxies().partition([['n1'], ['n2', 'n3']], 'reset');
    let refused = 0;
    // Concurrent clients: each write is answered by the old leader alone (or times out).
    await Promise.all(
      Array.from({ length: WRITES }, async (_, i) => {
        const response = await put(n1.url, `during-${i}`, `v${i}`, { query });
        if (response.status === 200) acked.push(`during-${i}`);
        else {
          refused++;
          if (process.env.DEBUG_REP) console.log(response.status, response.text());
        }
      }),
    );
    await n1.kill();
    const promoted = await http.request(`${n2.url}/cluster/promote`, { method: 'POST', retry: false });
    expect(promoted.status).toBe(200);
    await eventually('the new leader takes writes', async () =>
      (await put(n2.url, 'after', 'y')).status === 200 ? true : undefined,
    );
    const cluster2 = await http.json<{ epoch: number; leader: string }>(`${n2.url}/cluster`);
    expect(cluster2).toMatchObject({ epoch: 2, leader: 'n2' });
    let lost = 0;
    for (const key of acked) if ((await get(n2.url, key)).status !== 200) lost++;
    return { acked: acked.length, lost, refused };
  } finally {
    await cluster.close();
  }
}

describe('single-leader failover with real processes', () => {
  it('asynchronous replication: the promoted follower lacks writes the old leader acknowledged', {
    timeout: 120_000,
  }, async () => {
    const outcome = await failoverTrial(false);
    console.log(`async failover: ${JSON.stringify(outcome)}`);
    // Writes after the lease ran out are refused (fencing); every one acknowledged is lost.
    expect(outcome.acked).toBeGreaterThan(1);
    expect(outcome.lost).toBe(outcome.acked - 1);
  });

  it('synchronous replication (?sync=true): no acknowledged write is lost', {
    timeout: 120_000,
  }, async () => {
    const outcome = await failoverTrial(true);
    console.log(`sync failover: ${JSON.stringify(outcome)}`);
    expect(outcome.refused).toBe(WRITES);
    expect(outcome.lost).toBe(0);
  });
});
