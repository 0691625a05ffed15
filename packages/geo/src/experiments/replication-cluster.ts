// The replication service on real processes, one node per region behind testkit's fault proxy:
// how the leaderless and the single-leader experiments start it, so that the two measure the
// same service under the same conditions and differ only in the flags of their mode.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Cluster, startCluster } from '@ddia/testkit';
import { ExperimentUsageError } from './types.js';

export const REPLICATION_MAIN_JS = fileURLToPath(
  new URL('../../../replication/dist/main.js', import.meta.url),
);

const READY_TIMEOUT_MS = 60_000;

/** A usage error (not a crash) when the replication package has not been built. */
export function requireReplicationBuild(): void {
  if (!existsSync(REPLICATION_MAIN_JS))
    throw new ExperimentUsageError(
      `${REPLICATION_MAIN_JS} is missing: build the replication package first (pnpm build)`,
    );
}

export function withoutDataDir(flags: string[]): string[] {
  const i = flags.indexOf('--data-dir');
  return i < 0 ? flags : [...flags.slice(0, i), ...flags.slice(i + 2)];
}

/**
 * Starts one replication node per region with `modeFlags` (--mode and its options). Without
 * --data-dir each node keeps its journal in memory: no fsync per message, so the delays measured
 * are the network's (what the experiments are about), not a loaded disk's. `seed` seeds the
 * proxies' jitter and loss, so the experiment's seed replays the injected delays too.
 */
export async function startReplicationCluster(
  regions: string[],
  modeFlags: string[],
  seed: number,
): Promise<Cluster> {
  requireReplicationBuild();
  return startCluster({
    nodes: regions,
    proxied: true,
    proxySeed: seed,
    readyTimeoutMs: READY_TIMEOUT_MS,
    command: (spec) => ({
      args: [REPLICATION_MAIN_JS, ...withoutDataDir(spec.flags), ...modeFlags, '--log-level', 'warn'],
      env: { NODE_ENV: 'production' },
    }),
  });
}

/**
 * Runs `measure` on a started cluster; a failure carries the nodes' log tails, and the client
 * (unless null: one the caller keeps) and the cluster are closed whatever happens.
 */
export async function measureOn<T>(
  cluster: Cluster,
  client: { close(): Promise<void> } | null,
  measure: () => Promise<T>,
): Promise<T> {
  try {
    return await measure();
  } catch (err) {
    const tails = await cluster.logTails(20);
    throw new Error(`${(err as Error).message}\n${tails}`);
  } finally {
    await client?.close();
    await cluster.close();
  }
}

/** Waits `ms` (none when it is negative: a deadline already passed). */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
