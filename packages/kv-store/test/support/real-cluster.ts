// Real-process clusters of the built kv-store (node packages/kv-store/dist/main.js) through
// testkit's harness, with the Raft timing the failover bound is stated in.
import { fileURLToPath } from 'node:url';
import { HttpClient } from '@ddia/common';
import { type Cluster, type NodeSpec, startCluster } from '@ddia/testkit';

export const MAIN_JS = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
export const TICK_MS = 50;
export const ELECTION_TICKS = 10;
/** Raft draws election timeouts from [electionTicks, 2 * electionTicks) ticks. */
export const ELECTION_TIMEOUT_MAX_MS = 2 * ELECTION_TICKS * TICK_MS;
export const REQUEST_TIMEOUT_MS = 3_000;

export function kvArgs(spec: NodeSpec, extra: string[] = []): string[] {
  return [
    MAIN_JS,
    ...spec.flags,
    '--log-level',
    'info',
    '--tick-ms',
    String(TICK_MS),
    '--election-ticks',
    String(ELECTION_TICKS),
    '--request-timeout-ms',
    String(REQUEST_TIMEOUT_MS),
    ...extra,
  ];
}

export async function startKvCluster(
  nodes: number | string[],
  options: { proxied?: boolean; extra?: (spec: NodeSpec) => string[]; readyPath?: string } = {},
): Promise<Cluster> {
  return startCluster({
    nodes,
    proxied: options.proxied ?? false,
    // Generous: on a loaded 2-core CI machine three node processes can take half a minute to
    // load their modules and open their stores.
    readyTimeoutMs: 60_000,
    ...(options.readyPath ? { readyPath: options.readyPath } : {}),
    command: (spec) => ({ args: kvArgs(spec, options.extra?.(spec) ?? []), env: { NODE_ENV: 'test' } }),
  });
}

interface NodeStatus {
  id: string;
  role: string;
  leaderId: string | null;
  appliedIndex: number;
  snapshotIndex: number;
  members: { id: string; voter: boolean }[];
}

const control = new HttpClient({ deadlineMs: 1_000, retries: 0 });

export async function nodeStatus(url: string): Promise<NodeStatus | undefined> {
  try {
    return await control.json<NodeStatus>(`${url}/cluster/node`, { retry: false });
  } catch {
    return undefined;
  }
}

/** The id of the node that says it leads (asking every running node directly). */
export async function findLeader(cluster: Cluster, timeoutMs = 15_000): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    for (const node of cluster.nodes) {
      if (node.state !== 'running') continue;
      const status = await nodeStatus(node.directUrl);
      if (status?.role === 'leader') return status.id;
    }
    if (performance.now() > deadline) throw new Error('no leader found');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
