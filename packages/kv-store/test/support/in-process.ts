// Starts kv-store nodes inside the test process (real HTTP, real Raft over loopback), for
// route-level tests. Real-process clusters with faults live in *.it.test.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '@ddia/common';
import { freePorts } from '@ddia/testkit';
import { KV_FLAGS, type KvNode, startKvNode } from '../../src/kv-node.js';

export interface InProcessCluster {
  nodes: KvNode[];
  urls: string[];
  close(): Promise<void>;
}

export async function startInProcess(count: number, extraArgs: string[] = []): Promise<InProcessCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'kv-http-'));
  const ports = await freePorts(count);
  const peers = ports.map((port, i) => `n${i + 1}=http://127.0.0.1:${port}`).join(',');
  const nodes: KvNode[] = [];
  try {
    await Promise.all(
      ports.map(async (port, i) => {
        const config = parseConfig(
          [
            '--id',
            `n${i + 1}`,
            '--port',
            String(port),
            '--peers',
            peers,
            '--data-dir',
            join(dir, `n${i + 1}`),
            '--log-level',
            'error',
            '--tick-ms',
            '20',
            ...extraArgs,
          ],
          {},
          KV_FLAGS,
        );
        nodes[i] = await startKvNode({ ...config });
      }),
    );
  } catch (error) {
    await Promise.all(nodes.filter(Boolean).map((n) => n.close()));
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    async close() {
      await Promise.all(nodes.map((n) => n.close()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function leaderOf(cluster: InProcessCluster): Promise<KvNode> {
  return waitFor('a leader', () => cluster.nodes.find((n) => n.raft.status().role === 'leader'));
}
