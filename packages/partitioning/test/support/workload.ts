// Jepsen-style clients for the partitioned store (Kingsbury, "Jepsen"; MIT 6.5840 shardkv's
// "no lost or duplicated keys while shards move"): each logical process runs one operation at a
// time (get, put, compare-and-set, delete) against a random node, which forwards it to the
// partition's owner, and records it in a history for testkit's checkers. The outcome is what
// the HTTP answer proves: 2xx / 404 / 412 are definite; 503 and 421 are "not applied" (the
// service's catalogue says so: a moving or unreachable partition refuses before writing); a
// timeout, a broken connection or a 504 leaves the outcome unknown (info).
import { HttpClient, SeededRandom } from '@ddia/common';
import type { HistoryEvent, HistoryRecorder } from '@ddia/testkit';
import { toOperations } from '@ddia/testkit';

export const CLIENT_DEADLINE_MS = 4_000;
const FINAL_READ_DEADLINE_MS = 60_000;
/** A process that could not tell the outcome backs off a little (no busy loop on a dead node). */
const BACKOFF_MS = 60;

export interface WorkloadStats {
  ok: number;
  fail: number;
  info: number;
}

type Outcome = 'ok' | 'fail' | 'info';

function classify(status: number): Outcome {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 503 || status === 421 || status === 400 || status === 409 || status === 412) return 'fail';
  return 'info';
}

const refused = (error: unknown) =>
  /ECONNREFUSED/.test(String((error as { cause?: { code?: string } }).cause?.code ?? ''));

export async function runWorkload(options: {
  urls: () => string[];
  recorder: HistoryRecorder;
  processes: number;
  keys: string[];
  /** Runs until this says stop (e.g. once the faults are over and the moves have finished). */
  done: () => boolean;
  seed: number;
}): Promise<WorkloadStats> {
  const client = new HttpClient({ deadlineMs: CLIENT_DEADLINE_MS, retries: 0 });
  const stats: WorkloadStats = { ok: 0, fail: 0, info: 0 };

  const runProcess = async (process: number) => {
    const random = new SeededRandom(options.seed * 1000 + process);
    let n = 0;
    const finish = async (op: { ok(): void; fail(): void; info(): void }, outcome: Outcome) => {
      op[outcome]();
      stats[outcome]++;
      if (outcome !== 'ok') await new Promise((r) => setTimeout(r, BACKOFF_MS));
    };
    while (!options.done()) {
      const url = random.pick(options.urls());
      const key = random.pick(options.keys);
      const target = `${url}/kv/${encodeURIComponent(key)}`;
      const roll = random.next();
      if (roll < 0.4) {
        const op = options.recorder.invoke(process, 'get', null, key);
        try {
          const r = await client.request(target, { retry: false });
          if (r.status === 200 || r.status === 404) {
            op.ok(r.status === 200 ? r.body.toString('utf8') : null);
            stats.ok++;
          } else await finish(op, classify(r.status));
        } catch {
          await finish(op, 'fail'); // a read that got no answer changed nothing
        }
      } else if (roll < 0.7) {
        const value = `${process}-${n++}`;
        const op = options.recorder.invoke(process, 'put', value, key);
        try {
          const r = await client.request(target, { method: 'PUT', body: value, retry: false });
          await finish(op, classify(r.status));
        } catch (error) {
          await finish(op, refused(error) ? 'fail' : 'info');
        }
      } else if (roll < 0.9) {
        // Read the version, then compare-and-set on it; values are unique, so a version match
        // is a value match and the recorded cas is [value read, new value].
        let read: Awaited<ReturnType<HttpClient['request']>>;
        try {
          read = await client.request(target, { retry: false });
        } catch {
          continue;
        }
        if (read.status !== 200 && read.status !== 404) continue;
        const from = read.status === 200 ? read.body.toString('utf8') : null;
        const to = `${process}-${n++}`;
        const op = options.recorder.invoke(process, 'cas', [from, to], key);
        try {
          const headers: Record<string, string> =
            from === null ? { 'if-none-match': '*' } : { 'if-match': String(read.headers.etag) };
          const r = await client.request(target, { method: 'PUT', body: to, headers, retry: false });
          await finish(op, classify(r.status));
        } catch (error) {
          await finish(op, refused(error) ? 'fail' : 'info');
        }
      } else {
        const op = options.recorder.invoke(process, 'delete', null, key);
        try {
          const r = await client.request(target, { method: 'DELETE', retry: false });
          await finish(op, r.status === 404 ? 'ok' : classify(r.status));
        } catch (error) {
          await finish(op, refused(error) ? 'fail' : 'info');
        }
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: options.processes }, (_, i) => runProcess(i)));
  } finally {
    await client.close();
  }
  return stats;
}

/** Reads every key once the cluster is whole, from any node, retrying until the owner answers. */
export async function finalReads(urls: string[], keys: string[]): Promise<Map<string, unknown>> {
  const client = new HttpClient({ deadlineMs: CLIENT_DEADLINE_MS, retries: 0 });
  const out = new Map<string, unknown>();
  const deadlineAt = performance.now() + FINAL_READ_DEADLINE_MS;
  try {
    for (const key of keys) {
      for (let attempt = 0; ; attempt++) {
        if (performance.now() > deadlineAt) throw new Error(`final read of ${key} got no answer`);
        try {
          const url = urls[attempt % urls.length] as string;
          const r = await client.request(`${url}/kv/${encodeURIComponent(key)}`, { retry: false });
          if (r.status === 200) out.set(key, r.body.toString('utf8'));
          else if (r.status === 404) out.set(key, null);
          else throw new Error(`status ${r.status}`);
          break;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    }
  } finally {
    await client.close();
  }
  return out;
}

/**
 * The canary: one key's history with a stale read added (the value an acknowledged put had
 * before a later acknowledged put overwrote it, read right after the overwrite). The checker
 * must reject it, or its verdict on the real history proves nothing.
 */
export function staleReadCanary(history: HistoryEvent[]): HistoryEvent[] {
  const puts = toOperations(history).filter((op) => op.f === 'put' && op.status === 'ok');
  if (puts.length === 0) throw new Error('the run acknowledged no put, so no canary can be built');
  let best: { stale: (typeof puts)[number]; afterMs: number } | null = null;
  for (const b of puts) {
    const a = puts.find((x) => x.key === b.key && x.completeMs < b.invokeMs && x.input !== b.input);
    if (a && (best === null || b.completeMs < best.afterMs)) best = { stale: a, afterMs: b.completeMs };
  }
  if (best === null) throw new Error('no acknowledged put was overwritten; the run was too short');
  const key = best.stale.key as string;
  const canary: HistoryEvent[] = [
    ...history.filter((e) => e.key === key),
    { process: 999_999, type: 'invoke', f: 'get', key, value: null, timeMs: best.afterMs + 0.001 },
    { process: 999_999, type: 'ok', f: 'get', key, value: best.stale.input, timeMs: best.afterMs + 0.002 },
  ];
  canary.sort((x, y) => x.timeMs - y.timeMs);
  return canary;
}
