// DDIA Figure 9-6 on real processes (bench/figure-9-6.ts): with N = 3, W = 3, R = 2 (a strict
// quorum) a reader that starts after another reader saw a write still reads the old value
// while the write is in flight, and testkit's linearizability checker says so.
import type { Cluster } from '@ddia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { figure96, startFigure96Cluster } from '../bench/figure-9-6.js';
import { MAIN_JS } from './support/real-cluster.js';

let cluster: Cluster;
/** Tries with fresh keys before the test gives up on seeing the anomaly. */
const TRIES = 5;

describe('Figure 9-6: strict quorums are not linearizable', () => {
  beforeAll(async () => {
    cluster = await startFigure96Cluster(MAIN_JS);
  }, 120_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('A reads the new value, B (after A) reads the old one; the checker finds exactly that violation', {
    timeout: 120_000,
  }, async () => {
    // The timing is the figure's, but a loaded machine can stretch a hop past the slow links:
    // a few tries with fresh keys, each judged by the checker against what the readers saw. A
    // try whose timing came out wrong (reader A too late, a read that timed out behind the slow
    // links) shows nothing either way: it is logged and the next try runs.
    let anomaly = false;
    const inconclusive: string[] = [];
    for (let attempt = 1; attempt <= TRIES && !anomaly; attempt++) {
      let r: Awaited<ReturnType<typeof figure96>>;
      try {
        r = await figure96(cluster, 2_000, `fig96-${attempt}-${Date.now()}`);
      } catch (error) {
        const message = (error as Error).message;
        if (!/never saw the write|read answered 503/.test(message)) throw error;
        inconclusive.push(`try ${attempt}: ${message.slice(0, 120)}`);
        console.log(`figure 9-6 try ${attempt} inconclusive: ${message.slice(0, 200)}`);
        continue;
      }
      console.log(
        `figure 9-6 try ${attempt}: A at ${r.readA.at} read ${r.readA.value} at ${r.readA.ms} ms, B at ${r.readB.at} read ${r.readB.value} at ${r.readB.ms} ms; checker: ${r.verdict}`,
      );
      expect(r.readA.value).toBe('new');
      anomaly = r.readB.value === null;
      // B's stale read after A's fresh one is the violation, and the only one.
      expect(r.verdict).toBe(anomaly ? 'not-linearizable' : 'linearizable');
      expect(r.verdictWithoutB).toBe('linearizable');
    }
    expect(anomaly, `no try showed the anomaly; inconclusive: ${inconclusive.join('; ')}`).toBe(true);
  });
});
