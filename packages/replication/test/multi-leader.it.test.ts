// Multi-leader replication with real processes (DDIA ch. 5 "Handling Write Conflicts", ch. 8
// Figure 8-3): concurrent writes on both sides of a partition, and a node whose clock runs
// behind. Last-write-wins loses acknowledged writes in both; siblings (version vectors) lose none.
import type { Cluster } from '@ddia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, get, http, lostWrites, put, startReplicationCluster } from './support/real-cluster.js';

const KEYS = 8;
let cluster: Cluster;

/** Waits until every node answers the same values for every key; returns them. */
async function converged(keys: string[]): Promise<Map<string, string[]>> {
  return eventually(
    'convergence',
    async () => {
      const final = new Map<string, string[]>();
      for (const key of keys) {
        const answers = await Promise.all(
          cluster.nodes.map(async (n) => (await get(n.url, key)).values.sort().join('|')),
        );
        if (new Set(answers).size !== 1) return undefined;
        final.set(key, (answers[0] as string).split('|'));
      }
      return final;
    },
    45_000,
  );
}

describe('multi-leader with real processes', () => {
  beforeAll(async () => {
    cluster = await startReplicationCluster('multi-leader', ['--chaos', '--anti-entropy-ms', '1000'], {
      proxied: true,
    });
  }, 90_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('a partition: concurrent writes on both sides — LWW loses one per key, siblings lose none', {
    timeout: 90_000,
  }, async () => {
    const [n1, , n3] = cluster.nodes as [Cluster['nodes'][0], Cluster['nodes'][0], Cluster['nodes'][0]];
    cluster.proxies().partition([['n1'], ['n2', 'n3']], 'reset');
    const acked = { mv: new Map<string, string[]>(), lww: new Map<string, string[]>() };
    for (const type of ['mv', 'lww'] as const) {
      for (let i = 0; i < KEYS; i++) {
        const key = `part-${type}-${i}`;
        const values: string[] = [];
        for (const [node, side] of [
          [n1, 'left'],
          [n3, 'right'],
        ] as const) {
          const response = await put(node.url, key, `${side}-${i}`, { query: `type=${type}` });
          if (response.status === 200) values.push(`${side}-${i}`);
        }
        acked[type].set(key, values);
      }
    }
    cluster.proxies().heal();
    const lost = {
      mv: lostWrites(acked.mv, await converged([...acked.mv.keys()])),
      lww: lostWrites(acked.lww, await converged([...acked.lww.keys()])),
    };
    console.log(`partition, ${KEYS} keys x 2 concurrent acknowledged writes: lost ${JSON.stringify(lost)}`);
    expect([...acked.mv.values()].flat()).toHaveLength(2 * KEYS);
    expect(lost.mv).toBe(0);
    expect(lost.lww).toBe(KEYS);
    const sample = await get(n1.url, 'part-mv-0');
    expect(sample.status).toBe(300);
  });

  it('clock skew (Figure 8-3): a write that came later in real time loses under LWW, not with contexts', {
    timeout: 90_000,
  }, async () => {
    const [n1, n2] = cluster.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
    const skew = await http.json<{ clockSkewMs: number }>(`${n1.url}/chaos/clock-skew`, {
      method: 'POST',
      body: { ms: -60_000 },
    });
    expect(skew.clockSkewMs).toBe(-60_000);
    const last = { mv: new Map<string, string[]>(), lww: new Map<string, string[]>() };
    for (const type of ['mv', 'lww'] as const) {
      for (let i = 0; i < KEYS; i++) {
        const key = `skew-${type}-${i}`;
        expect((await put(n2.url, key, `first-${i}`, { query: `type=${type}` })).status).toBe(200);
        // n1 sees the first write before it writes: its write is causally later.
        const seen = await eventually('replication to n1', async () => {
          const read = await get(n1.url, key);
          return read.values.includes(`first-${i}`) ? read : undefined;
        });
        const second = await put(n1.url, key, `second-${i}`, {
          query: `type=${type}`,
          context: seen.context,
        });
        expect(second.status).toBe(200);
        last[type].set(key, [`second-${i}`]);
      }
    }
    await http.json(`${n1.url}/chaos/clock-skew`, { method: 'POST', body: { ms: 0 } });
    const lost = {
      mv: lostWrites(last.mv, await converged([...last.mv.keys()])),
      lww: lostWrites(last.lww, await converged([...last.lww.keys()])),
    };
    console.log(
      `clock skew -60 s on n1, ${KEYS} keys: later acknowledged writes lost ${JSON.stringify(lost)}`,
    );
    expect(lost.mv).toBe(0);
    expect(lost.lww).toBe(KEYS);
  });
});
