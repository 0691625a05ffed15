// Starting, signalling and watching local service processes.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { HttpClient, isProcessAlive, PollTimeoutError, pollUntil } from '@ddia/common';

export const STARTUP_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 100;
const HEALTH_DEADLINE_MS = 1_000;
export const STOP_GRACE_MS = 5_000;
/** How often a stopping process is checked for exit. */
const STOP_POLL_MS = 50;

const client = new HttpClient({ retries: 0, deadlineMs: HEALTH_DEADLINE_MS });
/** The one client the CLI and the landing page probe nodes with (short deadline, no retries). */
export const healthClient = client;

export const isAlive = isProcessAlive;

/** Starts a detached process whose stdout and stderr go to `logFile`; it outlives this CLI. */
export function spawnDetached(command: string[], env: Record<string, string>, logFile: string): number {
  mkdirSync(dirname(logFile), { recursive: true });
  const out = openSync(logFile, 'a');
  const child = spawn(command[0]!, command.slice(1), {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, ...env },
  });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${command.join(' ')}`);
  return child.pid;
}

export async function health(url: string, path = '/health'): Promise<'up' | 'not ready' | 'down'> {
  try {
    const res = await client.request(`${url}${path}`);
    return res.status === 200 ? 'up' : 'not ready';
  } catch {
    return 'down';
  }
}

/** Waits until `url` answers /health with 200, or the process dies, or the timeout passes. */
export async function waitHealthy(
  url: string,
  pid: number,
  timeoutMs = STARTUP_TIMEOUT_MS,
): Promise<boolean> {
  const up = await pollUntil(
    async () => {
      if (!isAlive(pid)) return 'dead';
      return (await health(url)) === 'up' ? 'up' : undefined;
    },
    { timeoutMs, intervalMs: POLL_INTERVAL_MS, what: `${url} to answer /health` },
  ).catch((err) => {
    if (err instanceof PollTimeoutError) return 'late';
    throw err;
  });
  return up === 'up';
}

/** SIGTERM, then SIGKILL after the grace period. Resolves once the process is gone. */
export async function stopProcess(pid: number, graceMs = STOP_GRACE_MS): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGCONT'); // a paused process cannot handle SIGTERM
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const gone = await pollUntil(() => !isAlive(pid), {
    timeoutMs: graceMs,
    intervalMs: STOP_POLL_MS,
    what: `pid ${pid} to exit`,
  }).catch(() => false);
  if (gone) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export async function closeHealthClient(): Promise<void> {
  await client.close();
}

/** Whether nothing listens on 127.0.0.1:`port` right now. */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}
