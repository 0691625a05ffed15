// Network faults for clusters started with `ddia up`: each clustered service runs through a
// fault proxy daemon (from @ddia/testkit) that carries every node-to-node link, so that
// `ddia latency|partition|heal` change the network on the fly without restarting anyone.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProxyControlClient } from '@ddia/testkit';
import { CliError, type Output } from './lab.js';
import { labHome, repoRoot } from './lab-paths.js';
import { isAlive, portFree, STARTUP_TIMEOUT_MS, spawnDetached } from './processes.js';
import { type LabState, loadState, type NodeRecord } from './state.js';
import type { NodePlan, ServiceDef } from './topology.js';

/** Link proxies sit above a service's ports: n<i> reaches n<j> at basePort + 500 + 10·i + j. */
export const PROXY_PORT_OFFSET = 500;
/** The control API sits just below the link proxies, clear of every node port. */
const CONTROL_PORT_OFFSET = 499;
const POLL_INTERVAL_MS = 100;

export function linkPort(def: ServiceDef, fromOrdinal: number, toOrdinal: number): number {
  return def.basePort + PROXY_PORT_OFFSET + 10 * fromOrdinal + toOrdinal;
}

export function controlPort(def: ServiceDef): number {
  return def.basePort + CONTROL_PORT_OFFSET;
}

/** The peers each node sees: itself directly, every other node through its outgoing link proxy. */
export function proxiedPeers(def: ServiceDef, plan: NodePlan[], self: NodePlan): NodePlan[] {
  const from = plan.indexOf(self) + 1;
  return plan.map((peer, i) =>
    peer === self ? peer : { ...peer, url: `http://127.0.0.1:${linkPort(def, from, i + 1)}` },
  );
}

export async function startProxyDaemon(
  def: ServiceDef,
  plan: NodePlan[],
): Promise<{ pid: number; controlUrl: string }> {
  const entry = join(repoRoot(), 'packages/testkit/dist/proxy/daemon-main.js');
  if (!existsSync(entry)) throw new CliError(`${entry} is missing: run \`pnpm build\` first`);
  const links = plan.flatMap((from, i) =>
    plan
      .filter((to) => to !== from)
      .map((to) => ({ from: from.id, to: to.id, port: linkPort(def, i + 1, plan.indexOf(to) + 1) })),
  );
  if (!(await portFree(controlPort(def)))) {
    throw new CliError(`port ${controlPort(def)} for the ${def.name} fault proxy is in use (another lab?)`);
  }
  const config = {
    controlPort: controlPort(def),
    nodes: plan.map((n) => ({ id: n.id, port: n.port })),
    links,
  };
  const configFile = join(labHome(), `proxy-${def.name}.json`);
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const controlUrl = `http://127.0.0.1:${controlPort(def)}`;
  const pid = spawnDetached(
    [process.execPath, entry, '--config', configFile],
    {},
    join(labHome(), 'logs', `proxy-${def.name}.log`),
  );
  const client = new ProxyControlClient(controlUrl);
  const deadline = performance.now() + STARTUP_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (!isAlive(pid))
      throw new CliError(
        `the fault proxy for ${def.name} exited; see ${join(labHome(), 'logs', `proxy-${def.name}.log`)}`,
      );
    try {
      await client.links();
      return { pid, controlUrl };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  }
  throw new CliError(`the fault proxy for ${def.name} did not start within ${STARTUP_TIMEOUT_MS} ms`);
}

/** Resolves `kv-n1` (or `n1` when only one cluster runs through a proxy) to its record. */
function resolveNode(state: LabState, name: string): NodeRecord {
  const exact = state.nodes.find((n) => n.name === name);
  if (exact) return exact;
  const byId = state.nodes.filter(
    (n) => n.id === name && state.proxies?.some((p) => p.service === n.service),
  );
  if (byId.length === 1) return byId[0]!;
  const known = state.nodes.map((n) => n.name).join(', ') || 'none (run `ddia up <service>` first)';
  throw new CliError(`unknown node '${name}'; nodes: ${known}`, 2);
}

async function withProxy<T>(
  state: LabState,
  nodes: NodeRecord[],
  action: (client: ProxyControlClient) => Promise<T>,
): Promise<T> {
  const { client } = proxyFor(state, nodes);
  try {
    return await action(client);
  } finally {
    await client.close();
  }
}

function proxyFor(state: LabState, nodes: NodeRecord[]): { client: ProxyControlClient; service: string } {
  const services = new Set(nodes.map((n) => n.service));
  if (services.size !== 1)
    throw new CliError(`nodes ${nodes.map((n) => n.name).join(', ')} belong to different clusters`, 2);
  const service = [...services][0]!;
  const proxy = state.proxies?.find((p) => p.service === service);
  if (!proxy || !isAlive(proxy.pid)) {
    throw new CliError(
      `${service} runs without a fault proxy: it must be a cluster started with \`ddia up ${service}\``,
    );
  }
  return { client: new ProxyControlClient(proxy.controlUrl), service };
}

export async function latency(
  from: string,
  to: string,
  ms: number,
  jitterMs: number,
  io: Output,
): Promise<void> {
  const state = loadState();
  const a = resolveNode(state, from);
  const b = resolveNode(state, to);
  await withProxy(state, [a, b], async (client) => {
    await client.latency(a.id, b.id, ms, jitterMs);
    await client.latency(b.id, a.id, ms, jitterMs);
  });
  io.out(`${a.name} <-> ${b.name}: +${ms} ms${jitterMs ? ` ± ${jitterMs} ms` : ''} each way`);
}

export async function partition(groupTexts: string[], io: Output): Promise<void> {
  if (groupTexts.length < 2)
    throw new CliError('partition needs at least two groups, e.g. `ddia partition kv-n1,kv-n2 kv-n3`', 2);
  const state = loadState();
  const groups = groupTexts.map((g) =>
    g
      .split(',')
      .filter(Boolean)
      .map((name) => resolveNode(state, name)),
  );
  await withProxy(state, groups.flat(), (client) => client.partition(groups.map((g) => g.map((n) => n.id))));
  io.out(`partitioned: ${groups.map((g) => `[${g.map((n) => n.name).join(' ')}]`).join(' | ')}`);
}

export async function heal(io: Output): Promise<void> {
  const state = loadState();
  const live = (state.proxies ?? []).filter((p) => isAlive(p.pid));
  if (live.length === 0)
    throw new CliError('no cluster with a fault proxy is running (`ddia up kv` starts one)');
  for (const proxy of live) {
    const client = new ProxyControlClient(proxy.controlUrl);
    await client.clear().finally(() => client.close());
    io.out(`healed ${proxy.service}: no partitions, latency or blackholes`);
  }
}
