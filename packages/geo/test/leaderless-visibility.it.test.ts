// Measured t-visibility on real replication processes (leaderless, N = 3, R = W = 1, one node per
// region, half-scale WAN delays injected by testkit's proxy) against the WARS model fed the same
// injected distributions. Bounded (10 trials) and loose enough for a loaded CI machine: the
// measurement can never beat the injected delay by much (a read cannot see a write before it
// crosses the link), and its median stays within a loaded machine's overhead of the model's.
// The experiment (leaderless-visibility) and the README report the full comparison.
import { SeededRandom } from '@ddia/common';
import type { Cluster } from '@ddia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkDelay, percentile, simulateVersionsBehind, simulateWars } from '../src/core/index.js';
import { applyLink } from '../src/experiments/apply-link.js';
import {
  LeaderlessClient,
  measurePair,
  measureVersionsBehind,
  placementModel,
  startLeaderlessCluster,
} from '../src/experiments/leaderless-visibility.js';
import { matrix, regions } from './support/half-scale-wan.js';

/** The model's own WARS delays are all zero: it sees only the link delays the proxy injects. */
const zero = { kind: 'constant', ms: 0 } as const;
const injectedOnly = { name: 'injected', description: 'injected delays', w: zero, a: zero, r: zero, s: zero };

describe('leaderless t-visibility on real processes vs the WARS model', { timeout: 120_000 }, () => {
  let cluster: Cluster;
  const client = new LeaderlessClient();

  beforeAll(async () => {
    cluster = await startLeaderlessCluster(regions);
    const network = cluster.proxies();
    for (const from of regions)
      for (const to of regions) if (from !== to) applyLink(network, from, to, linkDelay(matrix, from, to));
  }, 120_000);

  afterAll(async () => {
    await client.close();
    await cluster?.close();
  });

  it('a write in us becomes visible in eu about one injected one-way delay after its ack', async () => {
    const measured = await measurePair(cluster, client, 'us', 'eu', 10, 'it');
    const model = simulateWars(
      {
        n: 3,
        r: 1,
        w: 1,
        trials: 50_000,
        profile: injectedOnly,
        replicas: placementModel(matrix, regions, 'us', 'eu', null),
      },
      new SeededRandom(1),
    );
    const modelP50 = percentile(model.thresholdsMs, 0.5).value;
    const sorted = Float64Array.from(measured.thresholdsMs).sort();
    const measuredP50 = percentile(sorted, 0.5).value;
    console.log(
      `us -> eu: measured p50 ${measuredP50.toFixed(1)} ms (${[...sorted].map((x) => x.toFixed(0)).join(' ')}), model p50 ${modelP50.toFixed(1)} ms`,
    );
    // The model: the write crosses us -> eu (19 ± 0.95 ms) after a local ack at ~0.
    expect(modelP50).toBeGreaterThan(17);
    expect(modelP50).toBeLessThan(21);
    // Never seen before the write can have crossed: from sending the write to the end of the
    // read that saw it is at least the injected one-way delay (19 ms less its 0.95 ms jitter).
    // (t from the ack may be shorter: under load the ack itself takes several ms.)
    const d = linkDelay(matrix, 'us', 'eu');
    for (const x of measured.sendToSeenMs) expect(x).toBeGreaterThanOrEqual(d.latencyMs - d.jitterMs - 0.5);
    // The median within a loaded machine's overhead (a 4 ms poll gap, HTTP, event loops).
    expect(measuredP50).toBeLessThan(modelP50 * 2 + 40);
  });

  it('k-staleness: three writes 25 ms apart in us, read in eu right after the last ack, are one version behind', async () => {
    const behind = await measureVersionsBehind(cluster, client, 'us', 'eu', 3, 25, 8, 'it');
    const model = simulateVersionsBehind(
      {
        n: 3,
        r: 1,
        w: 1,
        trials: 20_000,
        profile: injectedOnly,
        replicas: placementModel(matrix, regions, 'us', 'eu', null),
        versions: 3,
        writeGapMs: 25,
        readAfterMs: 0,
      },
      new SeededRandom(2),
    );
    const sorted = [...behind].sort((a, b) => a - b);
    const measuredMedian = sorted[Math.floor(sorted.length / 2)]!;
    const modelMode = model.indexOf(Math.max(...model));
    console.log(
      `versions behind, measured: ${behind.join(' ')}; model: ${model.map((p, b) => `${b}: ${(p * 100).toFixed(1)}%`).join(', ')}`,
    );
    // The model: v1 reached eu (19 ms) long before the read at ~50 ms, v2 just (44 ms), v3 not (69 ms).
    expect(modelMode).toBe(1);
    expect(model[1]!).toBeGreaterThan(0.95);
    // Measured: within one version of it (a loaded machine delays writes, reads and deliveries).
    expect(Math.abs(measuredMedian - modelMode)).toBeLessThanOrEqual(1);
    // The staleness is real: reads right after the acks miss the last version (v3 needs 19 ms to cross).
    expect(behind.some((b) => b >= 1)).toBe(true);
  });
});
