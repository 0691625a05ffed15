// The lab's record of the local processes it started, in `<lab home>/state.json`, so that
// `ddia ps`, `ddia kill n1` and `ddia down` work from any later shell.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CommandError, EXIT_USAGE, writeFileAtomic } from '@ddia/common';
import { labHome } from './lab-paths.js';
import type { ProxyRecord } from './proxy.js';

export interface NodeRecord {
  name: string;
  id: string;
  service: string;
  pid: number;
  port: number;
  url: string;
  dataDir: string;
  logFile: string;
  /** The command that starts it again (`ddia restart`). */
  command: string[];
  env: Record<string, string>;
}

export interface LabState {
  nodes: NodeRecord[];
  /** The fault proxy daemon of each cluster (started by `ddia up` and `pnpm start`). */
  proxies?: ProxyRecord[];
  /** The `pnpm start` (`ddia start`) process serving the landing page, while it runs. */
  landing?: { pid: number; url: string };
}

export function statePath(): string {
  return join(labHome(), 'state.json');
}

export function loadState(): LabState {
  const path = statePath();
  if (!existsSync(path)) return { nodes: [] };
  return JSON.parse(readFileSync(path, 'utf8')) as LabState;
}

export async function saveState(state: LabState): Promise<void> {
  await mkdir(labHome(), { recursive: true });
  await writeFileAtomic(statePath(), `${JSON.stringify(state, null, 2)}\n`);
}

/** Thrown when a command names a node the lab did not start. */
export class UnknownNodeError extends CommandError {
  override name = 'UnknownNodeError';
  constructor(message: string) {
    super(message, EXIT_USAGE);
  }
}

export function findNode(state: LabState, name: string): NodeRecord {
  const node = state.nodes.find((n) => n.name === name);
  if (!node) {
    const known =
      state.nodes.map((n) => n.name).join(', ') || 'none (run `ddia up <service>` or `pnpm start` first)';
    throw new UnknownNodeError(`unknown node '${name}'; nodes: ${known}`);
  }
  return node;
}
