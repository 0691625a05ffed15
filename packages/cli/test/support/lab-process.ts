// Runs `ddia` and `ddia start` (what `pnpm start` runs) as a user does, in a temp lab home and on
// ports shifted by DDIA_PORT_OFFSET, so the test's lab never meets a developer's lab or another
// test's: each test file draws its offsets from its own band, and a start that finds a port taken
// (another engineer's process on this machine) tries the next offset.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../../../', import.meta.url));
export const cli = join(root, 'packages/cli/dist/main.js');
const START_DEADLINE_MS = 200_000;
const POLL_MS = 200;
const OFFSET_STEP = 1_000;
const ATTEMPTS = 4;

export interface Lab {
  home: string;
  offset: number;
  env: NodeJS.ProcessEnv;
  /** The running `ddia start` process. */
  child: ChildProcess;
  landingUrl: string;
  output: () => string;
  exited: Promise<number | null>;
}

export function ddia(env: NodeJS.ProcessEnv, ...args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

export function newHome(): string {
  return mkdtempSync(join(tmpdir(), 'ddia-home-'));
}

export function labEnv(home: string, offset: number): NodeJS.ProcessEnv {
  return { ...process.env, DDIA_HOME: home, DDIA_PORT_OFFSET: String(offset), DDIA_LOG_LEVEL: 'warn' };
}

export function readState(home: string): {
  nodes: { name: string; service: string; pid: number; port: number; url: string; command: string[] }[];
  proxies?: { pid: number; service: string }[];
  landing?: { pid: number; url: string };
} {
  return JSON.parse(readFileSync(join(home, 'state.json'), 'utf8'));
}

/**
 * Starts `ddia start` with an offset from [bandStart, bandStart + 4 steps) and waits until the
 * lab is up. Bands of test files must be 4000 apart.
 */
export async function startLab(bandStart: number, args: string[] = []): Promise<Lab> {
  const first = Math.floor(Math.random() * ATTEMPTS);
  let lastOutput = '';
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const offset = bandStart + ((first + attempt) % ATTEMPTS) * OFFSET_STEP;
    const home = newHome();
    const env = labEnv(home, offset);
    const child = spawn(process.execPath, [cli, 'start', ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + START_DEADLINE_MS;
    while (!output.includes('DDIA Lab is up') && Date.now() < deadline && child.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    const up = /DDIA Lab is up: (http:\/\/\S+)/.exec(output);
    if (up?.[1]) return { home, offset, env, child, landingUrl: up[1], output: () => output, exited };
    child.kill('SIGINT');
    await exited;
    lastOutput = output;
    if (!output.includes('in use')) break;
  }
  throw new Error(`ddia start did not come up:\n${lastOutput}`);
}

/** Stops the lab like Ctrl-C and returns the exit code; falls back to `ddia down`. */
export async function stopLab(lab: Lab): Promise<number | null> {
  if (lab.child.exitCode === null) lab.child.kill('SIGINT');
  const code = await Promise.race([
    lab.exited,
    new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 60_000)),
  ]);
  ddia(lab.env, 'down');
  return code === 'late' ? null : code;
}

/** Waits for `check` to hold, polling; returns its last value. */
export async function eventually<T>(check: () => Promise<T | undefined>, deadlineMs = 30_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
