// The fault proxy daemon (from @ddia/testkit) in front of a cluster started by `ddia up` or
// `pnpm start`: every node reaches every other node through a TCP proxy of its own directed
// link, so `ddia latency|partition|heal` change the network on the fly without a restart.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CommandError, PollTimeoutError, pollUntil } from '@ddia/common';
import { labHome, repoRoot } from './lab-paths.js';
import { isAlive, portFree, STARTUP_TIMEOUT_MS, spawnDetached } from './processes.js';
import type { NodePlan } from './topology.js';

/** Link proxies sit above a cluster's ports: n<i> reaches n<j> at port(n1) + 500 + 10·i + j. */
export const PROXY_PORT_OFFSET = 500;
/** The control API sits just below the link proxies, clear of every node port. */
const CONTROL_PORT_OFFSET = 499;
const POLL_INTERVAL_MS = 100;

function firstPort(plan: NodePlan[]): number {
  const first = plan[0];
  if (!first) throw new CommandError('a cluster needs at least one node');
  return first.port;
}

export function linkPort(plan: NodePlan[], fromOrdinal: number, toOrdinal: number): number {
  return firstPort(plan) + PROXY_PORT_OFFSET + 10 * fromOrdinal + toOrdinal;
}

export function controlPort(plan: NodePlan[]): number {
  return firstPort(plan) + CONTROL_PORT_OFFSET;
}

/** The peers each node sees: itself directly, every other node through its outgoing link proxy. */
export function proxiedPeers(plan: NodePlan[], self: NodePlan): NodePlan[] {
  const from = plan.indexOf(self) + 1;
  return plan.map((peer, i) =>
    peer === self ? peer : { ...peer, url: `http://127.0.0.1:${linkPort(plan, from, i + 1)}` },
  );
}

export interface ProxyRecord {
  pid: number;
  controlUrl: string;
  service: string;
}

/** Starts a detached proxy daemon for `plan` and waits until its control API answers. */
export async function startProxyDaemon(service: string, plan: NodePlan[]): Promise<ProxyRecord> {
  const entry = join(repoRoot(), 'packages/testkit/dist/proxy/daemon-main.js');
  if (!existsSync(entry)) throw new CommandError(`${entry} is missing: run \`pnpm build\` first`);
  const links = plan.flatMap((from, i) =>
    plan
      .filter((to) => to !== from)
      .map((to) => ({ from: from.id, to: to.id, port: linkPort(plan, i + 1, plan.indexOf(to) + 1) })),
  );
  for (const port of [controlPort(plan), ...links.map((l) => l.port)]) {
    if (!(await portFree(port))) {
      throw new CommandError(
        `port ${port} for the ${service} fault proxy is in use (another lab? \`ddia ps\`, or set DDIA_PORT_OFFSET)`,
      );
    }
  }
  const config = {
    controlPort: controlPort(plan),
    nodes: plan.map((n) => ({ id: n.id, port: n.port })),
    links,
  };
  const configFile = join(labHome(), `proxy-${service}.json`);
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const controlUrl = `http://127.0.0.1:${controlPort(plan)}`;
  const logFile = join(labHome(), 'logs', `proxy-${service}.log`);
  const pid = spawnDetached([process.execPath, entry, '--config', configFile], {}, logFile);
  // testkit loads on use only: every other `ddia` call would pay for importing it.
  const { ProxyControlClient } = await import('@ddia/testkit');
  const client = new ProxyControlClient(controlUrl);
  try {
    await pollUntil(
      async () => {
        if (!isAlive(pid)) throw new CommandError(`the fault proxy for ${service} exited; see ${logFile}`);
        return client.links().then(
          () => true,
          () => false, // not listening yet
        );
      },
      { timeoutMs: STARTUP_TIMEOUT_MS, intervalMs: POLL_INTERVAL_MS, what: `the fault proxy for ${service}` },
    );
    return { pid, controlUrl, service };
  } catch (err) {
    if (err instanceof PollTimeoutError) throw new CommandError(`${err.message}; see ${logFile}`);
    throw err;
  } finally {
    await client.close();
  }
}
