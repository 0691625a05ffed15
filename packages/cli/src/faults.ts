// `ddia latency|partition|heal`: network faults between the nodes of a cluster, through the
// cluster's fault proxy daemon (proxy.ts), whether `ddia up` or `pnpm start` started it.

import { CommandError, type CommandOutput, EXIT_USAGE } from '@ddia/common';
import type { ProxyControlClient } from '@ddia/testkit';
import { isAlive } from './processes.js';
import { type LabState, loadState, type NodeRecord, UnknownNodeError } from './state.js';

/** testkit loads on use only: every other `ddia` call would pay for importing it. */
async function controlClient(url: string): Promise<ProxyControlClient> {
  const { ProxyControlClient } = await import('@ddia/testkit');
  return new ProxyControlClient(url);
}

/** Resolves `kv-n1` (or `n1` when only one cluster runs through a proxy) to its record. */
function resolveNode(state: LabState, name: string): NodeRecord {
  const exact = state.nodes.find((n) => n.name === name);
  if (exact) return exact;
  const byId = state.nodes.filter(
    (n) => n.id === name && state.proxies?.some((p) => p.service === n.service),
  );
  if (byId.length === 1) return byId[0]!;
  const known =
    state.nodes.map((n) => n.name).join(', ') || 'none (run `ddia up <service>` or `pnpm start` first)';
  throw new UnknownNodeError(`unknown node '${name}'; nodes: ${known}`);
}

async function withProxy<T>(
  state: LabState,
  nodes: NodeRecord[],
  action: (client: ProxyControlClient) => Promise<T>,
): Promise<T> {
  const services = new Set(nodes.map((n) => n.service));
  if (services.size !== 1)
    throw new CommandError(
      `nodes ${nodes.map((n) => n.name).join(', ')} belong to different clusters`,
      EXIT_USAGE,
    );
  const service = [...services][0]!;
  const proxy = state.proxies?.find((p) => p.service === service);
  if (!proxy || !isAlive(proxy.pid)) {
    throw new CommandError(
      `${service} runs without a fault proxy: only a cluster of several nodes (\`ddia up ${service}\` or \`pnpm start\`) has one`,
    );
  }
  const client = await controlClient(proxy.controlUrl);
  try {
    return await action(client);
  } finally {
    await client.close();
  }
}

export async function latency(
  from: string,
  to: string,
  ms: number,
  jitterMs: number,
  io: CommandOutput,
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

export async function partition(groupTexts: string[], io: CommandOutput): Promise<void> {
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

export async function heal(io: CommandOutput): Promise<void> {
  const state = loadState();
  const live = (state.proxies ?? []).filter((p) => isAlive(p.pid));
  if (live.length === 0)
    throw new CommandError(
      'no cluster with a fault proxy is running (`ddia up kv` or `pnpm start` starts one)',
    );
  for (const proxy of live) {
    const client = await controlClient(proxy.controlUrl);
    await client.clear().finally(() => client.close());
    io.out(`healed ${proxy.service}: no partitions, latency or blackholes`);
  }
}
