// A coordinator and workers as real processes (testkit's harness: SIGKILL, SIGSTOP, restart),
// with helpers to submit a job, wait for it and read its output.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Cluster, startCluster } from '@ddia/testkit';

export const MAIN = new URL('../../dist/main.js', import.meta.url).pathname;
export const DIST_JOBS = new URL('../../dist/jobs/', import.meta.url).pathname;
export const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;
export const BUILT = existsSync(MAIN);

export interface BatchClusterOptions {
  workers: number;
  slots?: number;
  leaseMs?: number;
  backupAfterMs?: number;
}

export async function startBatchCluster(options: BatchClusterOptions): Promise<Cluster> {
  const workerIds = Array.from({ length: options.workers }, (_, i) => `w${i + 1}`);
  return startCluster({
    nodes: ['coord', ...workerIds],
    readyTimeoutMs: 120_000,
    command: (node) => {
      const coordinatorUrl = node.peers.find((p) => p.id === 'coord')!.url;
      if (node.id === 'coord') {
        return {
          args: [
            MAIN,
            'coordinator',
            ...node.flags,
            '--lease-ms',
            String(options.leaseMs ?? 3_000),
            '--backup-after-ms',
            String(options.backupAfterMs ?? 60_000),
            '--log-level',
            'info',
          ],
        };
      }
      return {
        args: [
          MAIN,
          'worker',
          ...node.flags,
          '--coordinator',
          coordinatorUrl,
          '--slots',
          String(options.slots ?? 1),
        ],
      };
    },
  });
}

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes
export type Json = any;

export async function api(
  base: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** Submits a job and waits until it succeeds or fails; returns its final record. */
export async function runJob(
  base: string,
  submission: Record<string, unknown>,
  timeoutMs = 90_000,
): Promise<Json> {
  const submitted = await api(base, '/jobs', submission);
  if (submitted.status !== 201)
    throw new Error(`submit: ${submitted.status} ${JSON.stringify(submitted.json)}`);
  return waitJob(base, submitted.json.id, timeoutMs);
}

export async function waitJob(base: string, id: string, timeoutMs = 90_000): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { json } = await api(base, `/jobs/${id}`);
    if (json.status === 'succeeded' || json.status === 'failed') return json;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${json.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every part file's lines, part by part (in part order), without empty lines. */
export async function readOutput(dir: string): Promise<{ lines: string[]; files: string[] }> {
  const files = (await readdir(dir)).sort();
  const lines: string[] = [];
  for (const file of files.filter((f) => f.startsWith('part-'))) {
    const text = await readFile(join(dir, file), 'utf8');
    for (const line of text.split('\n')) if (line !== '') lines.push(line);
  }
  return { lines, files };
}
