// Jepsen-style clients for the kv-store: each logical process runs one operation at a time
// (get, put, compare-and-set, delete) against a random node, and records it in a history.
// The outcome is classified by what the HTTP answer proves (Kingsbury, "Jepsen: etcd"):
// 2xx / 404 / 412 are definite; 503 means "not applied" (fail); a timeout, a broken
// connection or a 504 leaves the outcome unknown (info).
import { HttpClient, SeededRandom } from '@ddia/common';
import type { HistoryRecorder } from '@ddia/testkit';

export const CLIENT_DEADLINE_MS = 4_000;
const FINAL_READ_DEADLINE_MS = 60_000;

export interface WorkloadOptions {
  urls: () => string[];
  recorder: HistoryRecorder;
  processes: number;
  keys: string[];
  durationMs: number;
  /** Stop before durationMs once this settles (e.g. when the faults under test are done). */
  until?: Promise<unknown>;
  seed: number;
  /** Process ids start here (several workloads can share one recorder). */
  firstProcess?: number;
}

export interface WorkloadStats {
  ok: number;
  fail: number;
  info: number;
}

type Outcome = 'ok' | 'fail' | 'info';

function classify(status: number): Outcome {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 503 || status === 400 || status === 409 || status === 412) return 'fail';
  return 'info';
}

export async function runWorkload(options: WorkloadOptions): Promise<WorkloadStats> {
  const client = new HttpClient({ deadlineMs: CLIENT_DEADLINE_MS, retries: 0 });
  const stats: WorkloadStats = { ok: 0, fail: 0, info: 0 };
  let endAt = performance.now() + options.durationMs;
  options.until?.then(
    () => (endAt = Math.min(endAt, performance.now())),
    () => (endAt = Math.min(endAt, performance.now())),
  );
  const first = options.firstProcess ?? 0;
  const count = (o: Outcome) => {
    stats[o]++;
  };

  const runProcess = async (process: number) => {
    const random = new SeededRandom(options.seed * 1000 + process);
    let n = 0;
    while (performance.now() < endAt) {
      const url = random.pick(options.urls());
      const key = random.pick(options.keys);
      const target = `${url}/kv/${encodeURIComponent(key)}`;
      const roll = random.next();
      try {
        if (roll < 0.4) {
          const op = options.recorder.invoke(process, 'get', null, key);
          try {
            const r = await client.request(target, { retry: false });
            if (r.status === 200) op.ok(r.body.toString('utf8'));
            else if (r.status === 404) op.ok(null);
            else if (r.status === 503) op.fail();
            else op.info();
            count(r.status === 200 || r.status === 404 ? 'ok' : classify(r.status));
          } catch {
            op.info();
            count('info');
          }
        } else if (roll < 0.7) {
          const value = `${process}-${n++}`;
          const op = options.recorder.invoke(process, 'put', value, key);
          try {
            const r = await client.request(target, { method: 'PUT', body: value, retry: false });
            const o = classify(r.status);
            op[o]();
            count(o);
          } catch {
            op.info();
            count('info');
          }
        } else if (roll < 0.9) {
          // Read the current version, then compare-and-set on it. The recorded cas is
          // [value read, new value]; values are unique, so a version match is a value match.
          const read = await client.request(`${target}?consistency=serializable`, { retry: false });
          const from = read.status === 200 ? read.body.toString('utf8') : null;
          const etag = read.headers.etag;
          if (read.status !== 200 && read.status !== 404) continue;
          const to = `${process}-${n++}`;
          const op = options.recorder.invoke(process, 'cas', [from, to], key);
          try {
            const headers: Record<string, string> =
              from === null ? { 'if-none-match': '*' } : { 'if-match': String(etag) };
            const r = await client.request(target, { method: 'PUT', body: to, headers, retry: false });
            const o = classify(r.status);
            op[o]();
            count(o);
          } catch {
            op.info();
            count('info');
          }
        } else {
          const op = options.recorder.invoke(process, 'delete', null, key);
          try {
            const r = await client.request(target, { method: 'DELETE', retry: false });
            const o = r.status === 404 ? 'ok' : classify(r.status);
            op[o]();
            count(o);
          } catch {
            op.info();
            count('info');
          }
        }
      } catch {
        // The CAS pre-read failed (node down): nothing was recorded; go on.
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: options.processes }, (_, i) => runProcess(first + i)));
  } finally {
    await client.close();
  }
  return stats;
}

/** Reads every key linearizably once the cluster is whole, retrying until a leader answers. */
export async function finalReads(urls: string[], keys: string[]): Promise<Map<string, unknown>> {
  const client = new HttpClient({ deadlineMs: CLIENT_DEADLINE_MS, retries: 0 });
  const out = new Map<string, unknown>();
  const deadlineAt = performance.now() + FINAL_READ_DEADLINE_MS;
  try {
    for (const key of keys) {
      for (let attempt = 0; ; attempt++) {
        if (performance.now() > deadlineAt) throw new Error(`final read of ${key} found no leader`);
        const url = urls[attempt % urls.length] as string;
        try {
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
