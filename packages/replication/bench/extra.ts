// `bench --extra`: what the issue asks beyond the PostgreSQL comparison, our side only.
// - Failover time: single-leader with automatic failover; the leader is SIGKILLed and we time
//   until another node acknowledges a write (the detection timeout, the election and the
//   fencing wait of one lease are all in it).
// - Staleness vs R + W: leaderless N = 3 with link latency between the nodes (testkit's fault
//   proxy); each trial writes a fresh key with W at one node and at once reads it with R at
//   another; stale = the read does not return the value just acknowledged. R + W > N must
//   show none, R + W <= N some (the data the geo package plots).
import type { Cluster } from '@ddia/testkit';
import { call } from './http.js';

export interface FailoverResult {
  trial: number;
  /** How the writes just before the kill were committed. */
  commit: 'async' | 'sync';
  killed: string;
  newLeader: string;
  ms: number;
  /** Writes acknowledged in the burst right before the kill, and those the new leader lacks. */
  acked: number;
  lost: number;
}

/** Concurrent writes sent to the leader just before it is killed. */
const BURST_WRITES = 50;

export interface StalenessResult {
  n: number;
  w: number;
  r: number;
  linkLatencyMs: number;
  trials: number;
  stale: number;
  staleFraction: number;
}

async function leaderOf(cluster: Cluster): Promise<string | null> {
  for (const node of cluster.nodes) {
    if (node.state !== 'running') continue;
    try {
      const answer = await call(`${node.directUrl}/cluster`, 'GET');
      const leader = (JSON.parse(answer.text) as { leader: string | null }).leader;
      if (leader) return leader;
    } catch {
      // next node
    }
  }
  return null;
}

/**
 * Kills the leader `trials` times, alternating asynchronous and synchronous commit: a burst of
 * writes, the kill as soon as they are answered, then the time until another node acknowledges
 * a write and how many of the burst's acknowledged writes the new leader lacks.
 */
export async function failoverTimes(cluster: Cluster, trials: number): Promise<FailoverResult[]> {
  const results: FailoverResult[] = [];
  for (let trial = 1; trial <= trials; trial++) {
    const commit = trial % 2 === 1 ? 'async' : 'sync';
    // A leader that takes writes, and every node running and caught up enough to vote.
    let leader: string | null = null;
    for (const deadline = performance.now() + 60_000; performance.now() < deadline; ) {
      leader = await leaderOf(cluster);
      if (leader) {
        const ok = await call(`${cluster.node(leader).directUrl}/kv/probe`, 'PUT', `t${trial}`).catch(
          () => null,
        );
        if (ok?.status === 200) break;
      }
      leader = null;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!leader) throw new Error('no leader took writes within 60 s');
    const killed = cluster.node(leader);
    const burst = await Promise.all(
      Array.from({ length: BURST_WRITES }, async (_, i) => {
        const key = `burst-${trial}-${i}`;
        const answer = await call(
          `${killed.directUrl}/kv/${key}?sync=${commit === 'sync'}`,
          'PUT',
          `b${i}`,
        ).catch(() => null);
        return answer?.status === 200 ? key : null;
      }),
    );
    const acked = burst.filter((key): key is string => key !== null);
    const started = performance.now();
    await killed.kill();
    let newLeader = '';
    while (!newLeader) {
      for (const node of cluster.nodes) {
        if (node === killed) continue;
        const answer = await call(`${node.directUrl}/kv/probe?sync=false`, 'PUT', `after${trial}`).catch(
          () => null,
        );
        if (answer?.status === 200) {
          newLeader = node.id;
          break;
        }
      }
      if (!newLeader) await new Promise((r) => setTimeout(r, 20));
      if (performance.now() - started > 120_000) throw new Error('no new leader within 120 s');
    }
    const ms = Math.round(performance.now() - started);
    let lost = 0;
    for (const key of acked) {
      const answer = await call(`${cluster.node(newLeader).directUrl}/kv/${key}`, 'GET').catch(() => null);
      if (answer?.status !== 200) lost++;
    }
    results.push({ trial, commit, killed: killed.id, newLeader, ms, acked: acked.length, lost });
    console.log(
      `failover ${trial} (${commit}): killed ${killed.id}, ${newLeader} took a write after ${ms} ms; ${lost} of ${acked.length} acknowledged burst writes lost`,
    );
    await killed.start(); // rejoins as a follower of the new epoch
  }
  return results;
}

/** Write-then-read staleness for each (W, R) on a proxied leaderless cluster. */
export async function staleness(
  cluster: Cluster,
  n: number,
  pairs: readonly [number, number][],
  trials: number,
  linkLatencyMs: number,
): Promise<StalenessResult[]> {
  const ids = cluster.ids();
  for (const from of ids)
    for (const to of ids)
      if (from !== to) cluster.proxies().latency(from, to, linkLatencyMs, linkLatencyMs / 2);
  const results: StalenessResult[] = [];
  try {
    for (const [w, r] of pairs) {
      let stale = 0;
      let done = 0;
      for (let i = 0; i < trials; i++) {
        const writer = cluster.nodes[i % ids.length];
        const reader = cluster.nodes[(i + 1) % ids.length];
        if (!writer || !reader) break;
        const key = `stale-w${w}-r${r}-${i}`;
        const put = await call(`${writer.directUrl}/kv/${key}?w=${w}`, 'PUT', `v${i}`).catch(() => null);
        if (put?.status !== 200) continue;
        const got = await call(`${reader.directUrl}/kv/${key}?r=${r}`, 'GET').catch(() => null);
        if (!got) continue;
        done++;
        if (got.status !== 200 || !got.text.includes(`"v${i}"`)) stale++;
      }
      const result = {
        n,
        w,
        r,
        linkLatencyMs,
        trials: done,
        stale,
        staleFraction: done > 0 ? Math.round((stale / done) * 1000) / 1000 : Number.NaN,
      };
      results.push(result);
      console.log(`staleness ${JSON.stringify(result)}`);
    }
  } finally {
    cluster.proxies().clear();
  }
  return results;
}
