// Test helpers: a broker started in this process on free ports and a temp data dir, and
// kafkajs clients pointed at it.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '@ddia/common';
import { Kafka, logLevel } from 'kafkajs';
import { apiName } from '../../src/core/index.js';
import { BROKER_FLAGS, type BrokerNode, startBrokerNode } from '../../src/node.js';
import { decodeRequestHeader } from '../../src/protocol/header.js';

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

/**
 * A broker that keeps the first request frame of each (API, version) it is sent, by
 * `<Api>-v<N>`: the fixture captures (support/capture-*fixtures.ts) run real clients against it.
 */
export async function startCapturingBroker(
  dataDir: string,
): Promise<{ node: BrokerNode; captured: Map<string, Uint8Array> }> {
  const captured = new Map<string, Uint8Array>();
  const node = await startBroker(dataDir, [], {
    onFrame: (frame) => {
      const { header } = decodeRequestHeader(frame);
      const name = `${apiName(header.apiKey)}-v${header.apiVersion}`;
      if (!captured.has(name)) captured.set(name, frame.slice());
    },
  });
  return { node, captured };
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
