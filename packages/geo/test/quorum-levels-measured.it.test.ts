// Experiment 4 on real processes: the replication service with two nodes per region tagged by
// datacenter (--dcs), half-scale WAN delays injected by testkit's proxy. What must hold whatever
// the machine's load: a LOCAL_QUORUM write need not wait for another region, QUORUM (4 of 6)
// waits at least for the nearest one, EACH_QUORUM for the farthest; and the strict combinations
// (QUORUM/QUORUM, EACH_QUORUM writes with LOCAL_QUORUM reads) never return a stale read anywhere.
import type { Cluster } from '@ddia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rttMs } from '../src/core/index.js';
import { LeaderlessClient } from '../src/experiments/leaderless-visibility.js';
import {
  type LevelSample,
  measureLevels,
  startDatacenterCluster,
} from '../src/experiments/quorum-levels-measured.js';
import { matrix, regions } from './support/half-scale-wan.js';

const TRIALS = 4;

describe('LOCAL_QUORUM vs EACH_QUORUM vs QUORUM on real processes', { timeout: 180_000 }, () => {
  let cluster: Cluster;
  const client = new LeaderlessClient();

  beforeAll(async () => {
    cluster = (await startDatacenterCluster(matrix, regions, 2)).cluster;
  }, 120_000);

  afterAll(async () => {
    await client.close();
    await cluster?.close();
  });

  const run = (pair: Parameters<typeof measureLevels>[4]) =>
    measureLevels(cluster, client, regions, 'us', pair, TRIALS, 'it');
  const show = (samples: LevelSample[]) =>
    samples
      .map(
        (s) =>
          `${s.writeLevel}/${s.readLevel} read in ${s.readRegion}: writes ${s.writeMs.map((x) => x.toFixed(0)).join(' ')} ms, ` +
          `first reads stale ${s.firstReadStale.filter(Boolean).length}/${s.firstReadStale.length}`,
      )
      .join('\n');

  it('write latency: LOCAL_QUORUM stays in us, QUORUM crosses to eu, EACH_QUORUM waits for ap', async () => {
    const local = await run(['LOCAL_QUORUM', 'LOCAL_QUORUM']);
    const quorum = await run(['QUORUM', 'QUORUM']);
    const each = await run(['EACH_QUORUM', 'LOCAL_QUORUM']);
    console.log(show([...local, ...quorum, ...each]));
    const writes = (samples: LevelSample[]) => samples[0]!.writeMs;
    // A LOCAL_QUORUM write that waited for any other region would take a full round trip to it.
    expect(Math.min(...writes(local))).toBeLessThan(rttMs(matrix, 'us', 'eu'));
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
