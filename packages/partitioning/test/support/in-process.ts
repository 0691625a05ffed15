// Partition nodes inside the test process (real HTTP, the real controller Raft group over
// loopback), for route-level tests and power-loss runs on testkit's FaultFileSystem.
// Real-process clusters with kills and a nemesis live in *.it.test.ts.
import { type FileSystem, parseConfig, pollUntil } from '@ddia/common';
import { freePorts } from '@ddia/testkit';
import {
  PARTITION_FLAGS,
  type PartitionService,
  type PartitionServiceHooks,
  startPartitionService,
} from '../../src/partition-service.js';

export interface InProcessCluster {
  nodes: PartitionService[];
  urls: string[];
  close(): Promise<void>;
}

/** Starts `count` nodes n1..nN with `args` (--scheme, --partitions, --data-dir...), each on its
 *  own `fs` when given, and waits until every node has the configuration. */
export async function startInProcess(
  count: number,
  args: string[],
  fsOf?: (index: number) => FileSystem,
  hooks: Omit<PartitionServiceHooks, 'fs' | 'onFatal'> = {},
): Promise<InProcessCluster> {
  const ports = await freePorts(count);
  const peers = ports.map((port, i) => `n${i + 1}=http://127.0.0.1:${port}`).join(',');
  const nodes: PartitionService[] = [];
  let fatal: Error | undefined;
  const close = async () => {
    await Promise.all(nodes.filter(Boolean).map((n) => n.close().catch(() => undefined)));
  };
  try {
    await Promise.all(
      ports.map(async (port, i) => {
        const id = `n${i + 1}`;
        const flags = [
          `--id=${id}`,
          `--port=${port}`,
          `--peers=${peers}`,
          '--log-level=error',
          '--tick-ms=20',
        ];
        const config = parseConfig(
          [...flags, ...args.map((a) => a.replaceAll('{id}', id))],
          {},
          PARTITION_FLAGS,
        );
        nodes[i] = await startPartitionService(config, {
          ...hooks,
          ...(fsOf ? { fs: fsOf(i) } : {}),
          onFatal: (error) => {
            fatal ??= error as Error;
          },
        });
      }),
    );
    await pollUntil(
      () => {
        // A node whose controller group stopped (its disk failed) will never apply anything.
        if (fatal) throw fatal;
        return nodes.every((n) => n.machine.config !== null);
      },
      {
        what: 'every node to apply the bootstrap configuration',
        timeoutMs: 30_000,
        intervalMs: 20,
      },
    );
  } catch (error) {
    await close();
    throw error;
  }
  return { nodes, urls: nodes.map((n) => n.url), close };
}
