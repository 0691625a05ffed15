// Experiment 4 on real processes: the replication service with two nodes per region tagged by
// datacenter (--dcs), half-scale WAN delays injected by testkit's proxy. What must hold whatever
// the machine's load: a LOCAL_QUORUM write needs no other region (it succeeds with us cut off,
// and a LOCAL_QUORUM read elsewhere then misses it), QUORUM (4 of 6) and EACH_QUORUM do not;
// QUORUM waits at least for the nearest region, EACH_QUORUM for the farthest; and the strict
// combinations (QUORUM/QUORUM, EACH_QUORUM writes with LOCAL_QUORUM reads) never return a stale
// read anywhere.
import { type Cluster, replaySeed } from '@ddia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rttMs } from '../src/core/index.js';
import { LeaderlessClient } from '../src/experiments/leaderless-visibility.js';
import {
  type LevelSample,
  measureLevels,
  startDatacenterCluster,
} from '../src/experiments/quorum-levels-measured.js';
import { matrix, regions } from './support/half-scale-wan.js';

const TRIALS = 3;

describe('LOCAL_QUORUM vs EACH_QUORUM vs QUORUM on real processes', { timeout: 180_000 }, () => {
  let cluster: Cluster;
  const client = new LeaderlessClient();

  beforeAll(async () => {
    cluster = (await startDatacenterCluster(matrix, regions, 2, replaySeed() ?? 1)).cluster;
  }, 120_000);

  afterAll(async () => {
    await client.close();
    await cluster?.close();
  });

  const run = (pair: Parameters<typeof measureLevels>[4]) =>
    measureLevels(cluster, client, regions, 'us', pair, TRIALS, `it/${pair.join('-')}`);
  const show = (samples: LevelSample[]) =>
    samples
      .map(
        (s) =>
          `${s.writeLevel}/${s.readLevel} read in ${s.readRegion}: writes ${s.writeMs.map((x) => x.toFixed(0)).join(' ')} ms, ` +
          `first reads stale ${s.firstReadStale.filter(Boolean).length}/${s.firstReadStale.length}`,
      )
      .join('\n');

  it('with us cut off, LOCAL_QUORUM writes there still succeed (and eu misses them); QUORUM and EACH_QUORUM fail', async () => {
    const network = cluster.proxies();
    network.partition([['us1', 'us2']]);
    try {
      const us = cluster.node('us1').url;
      await client.put(us, 'cut/local', 'v', 'local_quorum');
      await expect(client.put(us, 'cut/quorum', 'v', 'quorum')).rejects.toThrow(/503/);
      await expect(client.put(us, 'cut/each', 'v', 'each_quorum')).rejects.toThrow(/503/);
      expect((await client.get(cluster.node('us2').url, 'cut/local', 'local_quorum')).values).toEqual(['v']);
      expect((await client.get(cluster.node('eu1').url, 'cut/local', 'local_quorum')).values).toEqual([]);
    } finally {
      network.heal();
    }
  });

  it('write latency: QUORUM crosses to eu, EACH_QUORUM waits for ap; strict combinations are never stale', async () => {
    // The three levels at once, on keys of their own: the assertions are floors and
    // never-stale checks, which concurrent traffic cannot make pass wrongly.
    const [local, quorum, each] = await Promise.all([
      run(['LOCAL_QUORUM', 'LOCAL_QUORUM']),
      run(['QUORUM', 'QUORUM']),
      run(['EACH_QUORUM', 'LOCAL_QUORUM']),
    ]);
    console.log(show([...local, ...quorum, ...each]));
    const writes = (samples: LevelSample[]) => samples[0]!.writeMs;
    // 4 of 6 replicas: us has 2, so at least 2 from another region, the nearest being eu.
    for (const ms of writes(quorum)) expect(ms).toBeGreaterThanOrEqual(rttMs(matrix, 'us', 'eu'));
    // A majority in every region, ap included.
    for (const ms of writes(each)) expect(ms).toBeGreaterThanOrEqual(rttMs(matrix, 'us', 'ap'));
    // Strict combinations: the read set meets the write set, so no read right after the ack is stale.
    for (const s of [...quorum, ...each]) expect(s.firstReadStale.filter(Boolean)).toEqual([]);
    // Every region sees every write in the end, at every level.
    for (const s of [...local, ...quorum, ...each]) expect(s.thresholdsMs).toHaveLength(TRIALS);
  });
});
