// Concurrent clients against the register server, recording a Jepsen-style history: each
// client is a process with one operation in flight; an operation whose outcome is unknown
// (timeout, reset, the node forwarding it lost the primary) is recorded as info, and the client
// then continues as a fresh process, as Jepsen's do after a crash.
import type { Random } from '@ddia/common';
import type { Cluster } from '../src/harness/index.js';
import { HistoryRecorder } from '../src/history/index.js';

export const OP_DEADLINE_MS = 1_000;
/** Think time between a client's operations, [min, max] ms: bounds the history's size. */
export const THINK_MS: readonly [number, number] = [10, 40];

export interface WorkloadOptions {
  cluster: Cluster;
  clients: number;
  /** Upper bound on the run; `until` usually ends it sooner. */
  durationMs: number;
  /** Ends the run when it settles (e.g. the nemesis finished and a quiet tail passed). */
  until?: Promise<unknown>;
  keys: string[];
  random: Random;
}

export interface WorkloadResult {
  recorder: HistoryRecorder;
  counts: { ok: number; fail: number; info: number };
}

async function send(url: string, method: 'GET' | 'PUT' | 'POST', body?: object) {
  const response = await fetch(url, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(OP_DEADLINE_MS),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as { value?: unknown }) : {} };
}

export async function runRegisterWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const recorder = new HistoryRecorder();
  const counts = { ok: 0, fail: 0, info: 0 };
  const endMs = performance.now() + options.durationMs;
  let ended = false;
  void options.until?.then(() => (ended = true));
  // Every write and cas target is a value never written before: a read then names the one
  // write it saw, which keeps the checker's search narrow even with many unknown outcomes
  // (with values drawn from 0..9, a hundred open writes make the search explode).
  let nextValue = 1;
  const client = async (index: number) => {
    const random = options.random.fork();
    const lastSeen = new Map<string, unknown>();
    let process = index;
    while (performance.now() < endMs && !ended) {
      const node = random.pick(options.cluster.nodes);
      const key = random.pick(options.keys);
      const path = `${node.url}/register/${key}`;
      const roll = random.next();
      const f = roll < 0.5 ? 'read' : roll < 0.8 ? 'write' : 'cas';
      // A cas expects the value this client last saw for the key, so that it can succeed.
      const input = f === 'read' ? null : f === 'write' ? nextValue++ : [lastSeen.get(key) ?? 0, nextValue++];
      const op = recorder.invoke(process, f, input, key);
      try {
        const answer =
          f === 'read'
            ? await send(path, 'GET')
            : f === 'write'
              ? await send(path, 'PUT', { value: input })
              : await send(`${path}/cas`, 'POST', {
                  from: (input as number[])[0],
                  to: (input as number[])[1],
                });
        if (answer.status === 200) {
          if (f === 'read') lastSeen.set(key, answer.body.value ?? null);
          op.ok(f === 'read' ? (answer.body.value ?? null) : input);
          counts.ok++;
        } else if (f === 'read' || (f === 'cas' && answer.status === 409)) {
          // A read that failed changed nothing; a cas that did not match certainly did not apply.
          op.fail();
          counts.fail++;
        } else if (answer.status >= 400 && answer.status < 500) {
          throw new Error(`the workload sent a bad request: ${answer.status} ${JSON.stringify(answer.body)}`);
        } else {
          op.info();
          counts.info++;
          process += options.clients;
        }
      } catch (err) {
        if ((err as Error).message.startsWith('the workload sent')) throw err;
        if (f === 'read') {
          op.fail();
          counts.fail++;
        } else {
          op.info();
          counts.info++;
          process += options.clients;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, random.int(THINK_MS[0], THINK_MS[1])));
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)));
  return { recorder, counts };
}
