// Test helpers: a broker started in this process on free ports and a temp data dir, and
// kafkajs clients pointed at it.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '@ddia/common';
import { Kafka, logLevel } from 'kafkajs';
import { BROKER_FLAGS, type BrokerNode, startBrokerNode } from '../../src/node.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

export async function tempDir(prefix = 'ddia-streaming-test-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Starts a broker in-process; `flags` are extra command-line flags, e.g. ['--auto-create-topics=false']. */
export async function startBroker(
  dataDir: string,
  flags: string[] = [],
  hooks: { onFrame?: (frame: Uint8Array) => void } = {},
): Promise<BrokerNode> {
  const config = parseConfig(
    ['--port', '0', '--kafka-port', '0', '--data-dir', dataDir, '--log-level', 'error', ...flags],
    {},
    BROKER_FLAGS,
  );
  return startBrokerNode(config, { ...hooks, handleSignals: false });
}

export function kafkaClient(bootstrap: string | string[], clientId = 'test'): Kafka {
  return new Kafka({
    brokers: Array.isArray(bootstrap) ? bootstrap : [bootstrap],
    clientId,
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 100 },
  });
}

/** Waits until `check` returns true, polling; fails with `what` after the deadline. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
