// Real-process clusters of the built service (node packages/replication/dist/main.js) through
// testkit's harness (and its fault proxy when proxied), plus the small client the
// experiments share: put/get with X-Context, waiting for a condition, counting lost writes.
import { fileURLToPath } from 'node:url';
import { HttpClient, type HttpResponse, pollUntil } from '@ddia/common';
import { type Cluster, startCluster } from '@ddia/testkit';

export const MAIN_JS = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
export const http = new HttpClient({ deadlineMs: 8_000, retries: 0 });

export async function startReplicationCluster(
  mode: 'single-leader' | 'multi-leader' | 'leaderless',
  extra: string[] = [],
  options: { nodes?: number; proxied?: boolean } = {},
): Promise<Cluster> {
  return startCluster({
    nodes: options.nodes ?? 3,
    proxied: options.proxied ?? false,
    readyTimeoutMs: 60_000,
    command: (spec) => ({
      args: [MAIN_JS, ...spec.flags, '--mode', mode, '--log-level', 'warn', ...extra],
      env: { NODE_ENV: 'test' },
    }),
  });
}

export async function put(
  url: string,
  key: string,
  value: string,
  options: { query?: string; context?: string | null; deadlineMs?: number } = {},
): Promise<HttpResponse> {
  return http.request(`${url}/kv/${encodeURIComponent(key)}${options.query ? `?${options.query}` : ''}`, {
    method: 'PUT',
    body: value,
    headers: { 'content-type': 'text/plain', ...(options.context ? { 'x-context': options.context } : {}) },
    retry: false,
    ...(options.deadlineMs ? { deadlineMs: options.deadlineMs } : {}),
  });
}

export interface Read {
  status: number;
  values: string[];
  context: string | null;
}

export async function get(url: string, key: string, query = ''): Promise<Read> {
  const response = await http.request(`${url}/kv/${encodeURIComponent(key)}${query ? `?${query}` : ''}`);
  const body = response.body.length > 0 ? response.json<{ value?: string; values?: string[] }>() : {};
  const values =
    response.status === 200 || response.status === 300 ? (body.values ?? [body.value as string]) : [];
  const context = response.headers['x-context'];
  return { status: response.status, values, context: typeof context === 'string' ? context : null };
}

/** Polls `probe` (its errors count as "not yet") until it returns a value; common's pollUntil. */
export function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  return pollUntil(() => probe().catch(() => undefined), { what, timeoutMs });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Acknowledged writes whose value is in no node's final answer for their key. */
export function lostWrites(
  acked: ReadonlyMap<string, string[]>,
  final: ReadonlyMap<string, string[]>,
): number {
  let lost = 0;
  for (const [key, values] of acked)
    for (const value of values) if (!(final.get(key) ?? []).includes(value)) lost++;
  return lost;
}
