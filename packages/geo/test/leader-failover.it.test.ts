// Experiment 1 on real processes: the replication service in single-leader mode, one node per
// region behind the fault proxy (the WAN matrix at half scale), leader in us, eu promoted when
// us is cut off and killed. Asynchronous followers answer at local speed and lose what the
// cut-off leader acknowledged; a synchronous follower in ap makes every write pay the us–ap round
// trip and loses nothing; a quorum of any one follower pays only the nearest round trip.
import { existsSync } from 'node:fs';
import { HttpClient } from '@ddia/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rttMs } from '../src/core/latency-matrix.js';
import {
  type Exclusive,
  FAILOVER_WRITES,
  type FailoverOutcome,
  failoverModes,
  LATENCY_WRITES_QUICK,
  measureFailover,
} from '../src/experiments/leader-failover.js';
import { REPLICATION_MAIN_JS } from '../src/experiments/replication-cluster.js';
import { halfScaleOptions, matrix, regions } from './support/half-scale-wan.js';

describe.skipIf(!existsSync(REPLICATION_MAIN_JS))(
  'single-leader across regions, failover (real processes)',
  () => {
    const http = new HttpClient({ deadlineMs: 8_000, retries: 0 });
    const [asyncMode, syncMode, quorumMode] = failoverModes(regions) as [
      ReturnType<typeof failoverModes>[0],
      ReturnType<typeof failoverModes>[0],
      ReturnType<typeof failoverModes>[0],
    ];
    const outcomes = new Map<string, FailoverOutcome>();

    // The three modes run at once, each on its own cluster, in three phases: all clusters start
    // together; then their write latencies are measured one mode at a time while the others wait
    // (the comparisons between modes must not depend on what the other clusters were doing);
    // then the three failovers run together.
    beforeAll(async () => {
      const modes = [asyncMode, syncMode, quorumMode];
      const barrier = (count: number) => {
        let arrived = 0;
        let open = () => {};
        const opened = new Promise<void>((resolve) => {
          open = resolve;
        });
        return {
          arrive: () => {
            if (++arrived === count) open();
            return opened;
          },
          open,
        };
      };
      const allStarted = barrier(modes.length);
      const allMeasured = barrier(modes.length);
      let turn: Promise<unknown> = Promise.resolve();
      const latencyPhase: Exclusive = async (step) => {
        await allStarted.arrive();
        const run = turn.then(step);
        turn = run.catch(() => {});
        try {
          return await run;
        } finally {
          await allMeasured.arrive();
        }
      };
      // A mode that fails before its turn must not leave the others waiting for it.
      const results = await Promise.all(
        modes.map((mode) =>
          measureFailover(halfScaleOptions, mode, LATENCY_WRITES_QUICK, http, latencyPhase).catch((err) => {
            allStarted.open();
            allMeasured.open();
            throw err;
          }),
        ),
      );
      for (const [i, mode] of modes.entries()) outcomes.set(mode.name, results[i]!);
    }, 300_000);
    afterAll(() => http.close());

    it('asynchronous: the cut-off leader acknowledges every write, and the promoted follower lacks all of them', () => {
      const o = outcomes.get(asyncMode.name)!;
      expect(o.acked).toBe(FAILOVER_WRITES);
      expect(o.lost).toBe(o.acked);
    });

    it('synchronous with ap: writes wait for the us–ap round trip; during the cut none is acknowledged, none lost', () => {
      const o = outcomes.get(syncMode.name)!;
      expect(o.write.p50Ms).toBeGreaterThanOrEqual(rttMs(matrix, 'us', 'ap') * 0.95);
      expect(o.acked).toBe(0);
      expect(o.refused).toBe(FAILOVER_WRITES);
      expect(o.lost).toBe(0);
    });

    it('quorum of any one follower: waits for the nearest round trip only, loses nothing', () => {
      const o = outcomes.get(quorumMode.name)!;
      expect(o.write.p50Ms).toBeGreaterThanOrEqual(rttMs(matrix, 'us', 'eu') * 0.95);
      expect(o.lost).toBe(0);
      // Faster than waiting for ap: the nearest confirmation is enough (compared with the
      // synchronous run's own median, not a fixed bound, so a loaded machine cannot fail it).
      expect(o.write.p50Ms).toBeLessThan(outcomes.get(syncMode.name)!.write.p50Ms);
    });

    it('asynchronous writes do not wait for any follower: faster than the quorum wait', () => {
      expect(outcomes.get(asyncMode.name)!.write.p50Ms).toBeLessThan(
        outcomes.get(quorumMode.name)!.write.p50Ms,
      );
    });
  },
);
