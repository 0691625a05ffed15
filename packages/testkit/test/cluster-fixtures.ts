// Shared by the harness, nemesis and end-to-end tests: how to run the register server (built
// to dist/, never through tsx), plain HTTP calls, and whether a pid is still alive.
import { fileURLToPath } from 'node:url';
import type { NodeSpec } from '../src/harness/index.js';

export const REGISTER_MAIN = fileURLToPath(new URL('../dist/register/main.js', import.meta.url));

export function registerCommand(extraArgs: string[] = []) {
  return (node: NodeSpec) => ({ args: [REGISTER_MAIN, ...node.flags, '--log-level', 'warn', ...extraArgs] });
}

export interface CallResult {
  status: number;
  body: Record<string, unknown>;
}

/** One request on a fresh connection with a deadline; status 0 means no answer. */
export async function call(
  url: string,
  method: 'GET' | 'PUT' | 'POST' = 'GET',
  body?: object,
  timeoutMs = 3_000,
): Promise<CallResult> {
  try {
    const response = await fetch(url, {
      method,
      headers: body ? { 'content-type': 'application/json', connection: 'close' } : { connection: 'close' },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  } catch {
    return { status: 0, body: {} };
  }
}

export { isProcessAlive as isAlive } from '@ddia/common';

export async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return condition();
}
