// `ddia up|down|ps|logs|kill|pause|resume|restart`: clusters of local processes.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { processState } from '@ddia/common';
import { proxiedPeers, startProxyDaemon } from './faults.js';
import { labHome, serviceEntry } from './lab-paths.js';
import { health, isAlive, portFree, spawnDetached, stopProcess, waitHealthy } from './processes.js';
import { findNode, type LabState, loadState, type NodeRecord, saveState } from './state.js';
import { findService, nodeArgs, planNodes, TopologyError } from './topology.js';

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** A failure the user can fix; main prints it and exits with `exitCode`. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export async function up(serviceName: string, nodes: number | undefined, io: Output): Promise<NodeRecord[]> {
  const def = findService(serviceName);
  const plan = planNodes(def, nodes ?? def.nodes);
  const entry = serviceEntry(def.pkg);
  if (!existsSync(entry)) {
    throw new CliError(`${entry} is missing: run \`pnpm build\` first`);
  }
  const state = loadState();
  const running = state.nodes.filter((n) => n.service === def.name && isAlive(n.pid));
  if (running.length > 0) {
    throw new CliError(
      `${def.name} is already up (${running.map((n) => n.name).join(', ')}); \`ddia down ${def.name}\` first`,
    );
  }
  state.nodes = state.nodes.filter((n) => n.service !== def.name);
  await mkdir(labHome(), { recursive: true });
  // A node that cannot bind its port dies at once, and a health check could then be answered
  // by whatever holds the port: refuse up front, naming the port.
  for (const node of plan) {
    if (!(await portFree(node.port))) {
      throw new CliError(
        `port ${node.port} for ${node.name} is in use (another lab, or \`ddia down\` first)`,
      );
    }
  }
  const started: NodeRecord[] = [];
  // Clusters talk through a fault proxy, so that `ddia latency|partition|heal` can act later.
  if (def.clustered && plan.length > 1) {
    const proxy = await startProxyDaemon(def, plan);
    state.proxies = [
      ...(state.proxies ?? []).filter((p) => p.service !== def.name),
      { ...proxy, service: def.name },
    ];
    io.out(`${def.name} fault proxy  pid ${proxy.pid}  ${proxy.controlUrl}`);
  }
  for (const node of plan) {
    const dataDir = join(labHome(), 'data', node.name);
    const logFile = join(labHome(), 'logs', `${node.name}.log`);
    const peers = def.clustered && plan.length > 1 ? proxiedPeers(def, plan, node) : plan;
    const command = [process.execPath, entry, ...nodeArgs(def, node, peers, dataDir)];
    const env = { DDIA_LOG_LEVEL: process.env.DDIA_LOG_LEVEL ?? 'info' };
    const pid = spawnDetached(command, env, logFile);
    started.push({ ...node, pid, dataDir, logFile, command, env });
  }
  state.nodes.push(...started);
  await saveState(state);
  for (const node of started) {
    const healthy = await waitHealthy(node.url, node.pid);
    if (!healthy) {
      throw new CliError(`${node.name} did not become healthy; last log lines:\n${tail(node.logFile, 20)}`);
    }
    io.out(`${node.name}  pid ${node.pid}  ${node.url}`);
  }
  return started;
}

export async function down(serviceName: string | undefined, io: Output): Promise<void> {
  const state = loadState();
  if (serviceName) findService(serviceName);
  const stopping = state.nodes.filter((n) => !serviceName || n.service === serviceName);
  await Promise.all(stopping.map((n) => stopProcess(n.pid)));
  for (const n of stopping) io.out(`stopped ${n.name}`);
  state.nodes = state.nodes.filter((n) => !stopping.includes(n));
  const proxies = (state.proxies ?? []).filter((p) => !serviceName || p.service === serviceName);
  await Promise.all(proxies.map((p) => stopProcess(p.pid)));
  state.proxies = (state.proxies ?? []).filter((p) => !proxies.includes(p));
  await saveState(state);
}

export async function ps(io: Output): Promise<void> {
  const state = loadState();
  if (state.nodes.length === 0) {
    io.out('no nodes running (try `ddia up kv`)');
    return;
  }
  io.out(`${'NODE'.padEnd(22)}${'PID'.padEnd(9)}${'PORT'.padEnd(7)}${'PROCESS'.padEnd(10)}HEALTH`);
  for (const node of state.nodes) {
    const process = processState(node.pid);
    const status = process === 'running' ? await health(node.url) : 'down';
    const shown = process === 'gone' ? 'exited' : process;
    io.out(
      `${node.name.padEnd(22)}${String(node.pid).padEnd(9)}${String(node.port).padEnd(7)}${shown.padEnd(10)}${status}`,
    );
  }
}

export function logs(nodeName: string, lines: number, io: Output): void {
  const node = findNode(loadState(), nodeName);
  io.out(tail(node.logFile, lines));
}

export type Signal = 'kill' | 'pause' | 'resume';
const SIGNALS: Record<Signal, NodeJS.Signals> = { kill: 'SIGKILL', pause: 'SIGSTOP', resume: 'SIGCONT' };

export function signal(nodeName: string, what: Signal, io: Output): void {
  const node = findNode(loadState(), nodeName);
  if (!isAlive(node.pid)) throw new CliError(`${node.name} is not running (pid ${node.pid})`);
  process.kill(node.pid, SIGNALS[what]);
  io.out(`${what} ${node.name} (pid ${node.pid})`);
}

export async function restart(nodeName: string, io: Output): Promise<void> {
  const state = loadState();
  const node = findNode(state, nodeName);
  await stopProcess(node.pid);
  node.pid = spawnDetached(node.command, node.env, node.logFile);
  await saveState(state);
  if (!(await waitHealthy(node.url, node.pid))) {
    throw new CliError(`${node.name} did not come back; last log lines:\n${tail(node.logFile, 20)}`);
  }
  io.out(`restarted ${node.name} (pid ${node.pid})`);
}

/** Removes the lab's data and logs (only when nothing runs). */
export async function clean(io: Output): Promise<void> {
  const state: LabState = loadState();
  if (state.nodes.some((n) => isAlive(n.pid)))
    throw new CliError('nodes are still running: `ddia down` first');
  // Only ever delete a folder that looks like a lab home: DDIA_HOME may point anywhere.
  const known = /^(state\.json|data|logs|proxy-[a-z0-9-]+\.json|\..*\.tmp)$/;
  const strangers = existsSync(labHome()) ? readdirSync(labHome()).filter((name) => !known.test(name)) : [];
  if (strangers.length > 0) {
    throw new CliError(
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

export { TopologyError };
