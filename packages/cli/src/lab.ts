// `ddia up|down|ps|logs|kill|pause|resume|restart|clean`: clusters of local processes, recorded
// in the lab's state.json. `pnpm start` (start.ts) brings the whole topology up through `up`.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CommandError, type CommandOutput, processState } from '@ddia/common';
import { labHome, portOffset, serviceEntry } from './lab-paths.js';
import { health, isAlive, portFree, spawnDetached, stopProcess, waitHealthy } from './processes.js';
import { proxiedPeers, startProxyDaemon } from './proxy.js';
import { findNode, type LabState, loadState, type NodeRecord, saveState } from './state.js';
import {
  findService,
  MONITORING,
  type NodePlan,
  nodeArgs,
  nodePorts,
  type PlanContext,
  planNodes,
  type ServiceDef,
} from './topology.js';

/** A service's nodes on this machine: the topology's ports shifted by DDIA_PORT_OFFSET. */
export function localPlan(def: ServiceDef, count = def.nodes): NodePlan[] {
  const offset = portOffset();
  return planNodes(def, count).map((node) => {
    const port = node.port + offset;
    return { ...node, port, url: `http://127.0.0.1:${port}` };
  });
}

/** What of the lab runs right now, in words (empty when nothing does). */
export function runningParts(state: LabState): string[] {
  const parts: string[] = [];
  const nodes = state.nodes.filter((n) => isAlive(n.pid)).map((n) => n.name);
  if (nodes.length > 0) parts.push(`${nodes.length} node${nodes.length > 1 ? 's' : ''}: ${nodes.join(' ')}`);
  const proxies = (state.proxies ?? []).filter((p) => isAlive(p.pid)).map((p) => p.service);
  if (proxies.length > 0) parts.push(`fault proxy of ${proxies.join(' ')}`);
  if (state.landing && isAlive(state.landing.pid))
    parts.push(`landing page ${state.landing.url} (pnpm start, pid ${state.landing.pid})`);
  return parts;
}

export async function up(
  serviceName: string,
  nodes: number | undefined,
  io: CommandOutput,
): Promise<NodeRecord[]> {
  const def = findService(serviceName);
  const state = loadState();
  const traces = state.nodes.some((n) => n.service === MONITORING && isAlive(n.pid));
  const started = await launch(def, nodes ?? def.nodes, state, io, { traces });
  await saveState(state);
  await awaitHealthy(started, io);
  return started;
}

/**
 * Starts one service's nodes (and its fault proxy) and records them in `state`, without waiting
 * for them: `pnpm start` launches every service this way, saves the state once, then waits for all.
 * `traces`: the lab's monitoring node runs (or starts with these), so the nodes export spans to it.
 */
export async function launch(
  def: ServiceDef,
  count: number,
  state: LabState,
  io: CommandOutput,
  options: { traces?: boolean } = {},
): Promise<NodeRecord[]> {
  const lab: PlanContext = { ...LOCAL, traces: options.traces === true };
  const plan = localPlan(def, count);
  const entry = serviceEntry(def.pkg);
  if (!existsSync(entry)) {
    throw new CommandError(`${entry} is missing: run \`pnpm build\` first`);
  }
  const running = state.nodes.filter((n) => n.service === def.name && isAlive(n.pid));
  if (running.length > 0) {
    throw new CommandError(
      `${def.name} is already up (${running.map((n) => n.name).join(', ')}); \`ddia down ${def.name}\` first`,
    );
  }
  state.nodes = state.nodes.filter((n) => n.service !== def.name);
  await mkdir(labHome(), { recursive: true });
  // A node that cannot bind its port dies at once, and a health check could then be answered
  // by whatever holds the port: refuse up front, naming the port.
  for (const node of plan) {
    for (const port of nodePorts(def, node, LOCAL)) {
      if (!(await portFree(port))) {
        throw new CommandError(
          `port ${port} for ${node.name} is in use (another lab? \`ddia ps\`, \`ddia down\`, or set DDIA_PORT_OFFSET)`,
        );
      }
    }
  }
  const started: NodeRecord[] = [];
  // Clusters talk through a fault proxy, so that `ddia latency|partition|heal` can act later.
  if (def.clustered && plan.length > 1) {
    const proxy = await startProxyDaemon(def.name, plan);
    state.proxies = [...(state.proxies ?? []).filter((p) => p.service !== def.name), proxy];
    io.out(`${def.name} fault proxy  pid ${proxy.pid}  ${proxy.controlUrl}`);
  }
  for (const node of plan) {
    const dataDir = join(labHome(), 'data', node.name);
    const logFile = join(labHome(), 'logs', `${node.name}.log`);
    const peers = def.clustered && plan.length > 1 ? proxiedPeers(plan, node) : plan;
    const command = [process.execPath, entry, ...nodeArgs(def, node, peers, dataDir, lab)];
    const env = { DDIA_LOG_LEVEL: process.env.DDIA_LOG_LEVEL ?? 'info' };
    const pid = spawnDetached(command, env, logFile);
    started.push({ ...node, pid, dataDir, logFile, command, env });
  }
  state.nodes.push(...started);
  return started;
}

/** Local processes reach each other on 127.0.0.1, every port shifted by DDIA_PORT_OFFSET. */
export const LOCAL: PlanContext = {
  urlOf(service, ordinal) {
    const def = findService(service);
    return `http://127.0.0.1:${def.basePort + ordinal - 1 + portOffset()}`;
  },
  port: (port) => port + portOffset(),
};

/** Waits until every node answers /health; a node that does not fails with its last log lines. */
export async function awaitHealthy(nodes: NodeRecord[], io: CommandOutput): Promise<void> {
  const results = await Promise.all(nodes.map((node) => waitHealthy(node.url, node.pid)));
  nodes.forEach((node, i) => {
    if (!results[i]) {
      throw new CommandError(
        `${node.name} did not become healthy; last log lines:\n${tail(node.logFile, 20)}`,
      );
    }
    io.out(`${node.name}  pid ${node.pid}  ${node.url}`);
  });
}

export async function down(serviceName: string | undefined, io: CommandOutput): Promise<void> {
  const state = loadState();
  if (serviceName) findService(serviceName);
  const stopping = state.nodes.filter((n) => !serviceName || n.service === serviceName);
  await Promise.all(stopping.map((n) => stopProcess(n.pid)));
  for (const n of stopping) io.out(`stopped ${n.name}`);
  state.nodes = state.nodes.filter((n) => !stopping.includes(n));
  const proxies = (state.proxies ?? []).filter((p) => !serviceName || p.service === serviceName);
  await Promise.all(proxies.map((p) => stopProcess(p.pid)));
  state.proxies = (state.proxies ?? []).filter((p) => !proxies.includes(p));
  // `ddia down` of everything also ends a `pnpm start` running in another terminal: it serves
  // the landing page, and on SIGTERM it stops what it started (nothing is left by now).
  const landing = state.landing;
  if (!serviceName) delete state.landing;
  await saveState(state);
  if (!serviceName && landing && landing.pid !== process.pid && isAlive(landing.pid)) {
    await stopProcess(landing.pid);
    io.out(`stopped pnpm start (pid ${landing.pid})`);
  }
}

export async function ps(io: CommandOutput): Promise<void> {
  const state = loadState();
  if (state.landing && isAlive(state.landing.pid))
    io.out(`landing page ${state.landing.url}  (pnpm start, pid ${state.landing.pid})`);
  for (const p of state.proxies ?? [])
    io.out(
      `${p.service} fault proxy  pid ${p.pid}  ${p.controlUrl}  ${isAlive(p.pid) ? 'running' : 'exited'}`,
    );
  if (state.nodes.length === 0) {
    io.out('no nodes running (try `ddia up kv` or `pnpm start`)');
    return;
  }
  io.out(`${'NODE'.padEnd(22)}${'PID'.padEnd(9)}${'PORT'.padEnd(7)}${'PROCESS'.padEnd(10)}HEALTH`);
  // Probed all at once: one by one, every paused or slow node added a full probe deadline.
  const states = state.nodes.map((node) => processState(node.pid));
  const statuses = await Promise.all(
    state.nodes.map((node, i) => (states[i] === 'running' ? health(node.url) : 'down')),
  );
  for (const [i, node] of state.nodes.entries()) {
    const process = states[i]!;
    const status = statuses[i]!;
    const shown = process === 'gone' ? 'exited' : process;
    io.out(
      `${node.name.padEnd(22)}${String(node.pid).padEnd(9)}${String(node.port).padEnd(7)}${shown.padEnd(10)}${status}`,
    );
  }
}

export function logs(nodeName: string, lines: number, io: CommandOutput): void {
  const node = findNode(loadState(), nodeName);
  io.out(tail(node.logFile, lines));
}

export type Signal = 'kill' | 'pause' | 'resume';
const SIGNALS: Record<Signal, NodeJS.Signals> = { kill: 'SIGKILL', pause: 'SIGSTOP', resume: 'SIGCONT' };

export function signal(nodeName: string, what: Signal, io: CommandOutput): void {
  const node = findNode(loadState(), nodeName);
  if (!isAlive(node.pid)) throw new CommandError(`${node.name} is not running (pid ${node.pid})`);
  process.kill(node.pid, SIGNALS[what]);
  io.out(`${what} ${node.name} (pid ${node.pid})`);
}

export async function restart(nodeName: string, io: CommandOutput): Promise<void> {
  const state = loadState();
  const node = findNode(state, nodeName);
  await stopProcess(node.pid);
  node.pid = spawnDetached(node.command, node.env, node.logFile);
  await saveState(state);
  if (!(await waitHealthy(node.url, node.pid))) {
    throw new CommandError(`${node.name} did not come back; last log lines:\n${tail(node.logFile, 20)}`);
  }
  io.out(`restarted ${node.name} (pid ${node.pid})`);
}

/** Removes the lab's data and logs (only when nothing runs). */
export async function clean(io: CommandOutput): Promise<void> {
  const state: LabState = loadState();
  const running = runningParts(state);
  if (running.length > 0) throw new CommandError(`still running: ${running.join(', ')}; \`ddia down\` first`);
  // Only ever delete a folder that looks like a lab home: DDIA_HOME may point anywhere.
  const known = /^(state\.json|data|logs|proxy-[a-z0-9-]+\.json|\..*\.tmp)$/;
  const strangers = existsSync(labHome()) ? readdirSync(labHome()).filter((name) => !known.test(name)) : [];
  if (strangers.length > 0) {
    throw new CommandError(
      `${labHome()} holds files the lab did not make (${strangers.slice(0, 3).join(', ')}); not deleting it`,
    );
  }
  await rm(labHome(), { recursive: true, force: true });
  io.out(`removed ${labHome()}`);
}

export function tail(file: string, lines: number): string {
  if (!existsSync(file)) return `(no log at ${file})`;
  return readFileSync(file, 'utf8')
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
}
