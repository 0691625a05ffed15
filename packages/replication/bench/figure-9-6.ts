// DDIA Figure 9-6: a strict quorum (W + R > N) that is still not linearizable.
//
//   node --import tsx bench/figure-9-6.ts [--delay-ms 1500]     (from packages/replication, after a build)
//
// The book's timing: a write with W = N is on its way to the replicas; it has reached one of
// them and not yet the others. Reader A's quorum includes the replica that has it: A sees the
// new value. Reader B starts after A has finished, and its quorum holds only replicas the write
// has not reached yet: B sees the old value. Every quorum overlapped, yet B read older than A,
// which linearizability forbids (the write, still in flight, must appear to happen at one
// instant: before A's read means before B's).
//
// Here, on real processes: leaderless mode, 4 nodes, N = 3, W = all (3), R = quorum (2), no
// sloppy quorum (a stand-in would carry the value around the slow links), no anti-entropy. A
// key's home replicas are P1 P2 P3 (P1 coordinates its writes); Q is the fourth node. Through
// testkit's fault proxy the links P1→P2 and P1→P3 are slow (the write has reached only P1) and
// so is P3→Q (so that A's read repair waits for P3's answer). Then:
//   - the writer PUTs at Q (?w=all), which forwards it to P1;
//   - reader A GETs at Q (?r=2): P1 answers at once with the new value;
//   - reader B, after A's answer, GETs at P2 (?r=2): P2 itself and P3 answer first, both old.
// The history goes to testkit's linearizability checker (Knossos-style search, kv model).
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type Cluster,
  checkLinearizable,
  createKvModel,
  type HistoryEvent,
  HistoryRecorder,
  type LinearizabilityVerdict,
  startCluster,
} from '@ddia/testkit';
import { preferenceOrder } from '../src/core/placement.js';

// The W = all write needs two round trips over the 2 s links (about 4 s); a read that has not
// gathered R answers in 8 s is lost behind them and ends the try (the test then tries again).
export const FIGURE_9_6_FLAGS = ['--n', '3', '--anti-entropy-ms', '0', '--request-timeout-ms', '8000'];

export interface Figure96Result {
  key: string;
  /** P1 P2 P3 (P1 coordinates the key's writes) and Q. */
  replicas: string[];
  outsider: string;
  delayMs: number;
  readA: { at: string; value: string | null; ms: number };
  readB: { at: string; value: string | null; ms: number };
  /** The write's answer if it came before the check; null: still in flight (open-ended in the history). */
  write: { status: number | 'timeout'; ms: number } | null;
  verdict: LinearizabilityVerdict;
  /** The same history without B's read: linearizable (B's stale read is what breaks it). */
  verdictWithoutB: LinearizabilityVerdict;
  history: HistoryEvent[];
}

async function call(
  url: string,
  method: 'GET' | 'PUT',
  body?: string,
): Promise<{ status: number; text: string }> {
  const response = await fetch(url, {
    method,
    ...(body === undefined ? {} : { body, headers: { 'content-type': 'text/plain' } }),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, text: await response.text() };
}

function readValue(answer: { status: number; text: string }): string | null {
  if (answer.status === 404) return null;
  if (answer.status !== 200) throw new Error(`read answered ${answer.status}: ${answer.text}`);
  return (JSON.parse(answer.text) as { value: string }).value;
}

/** Runs the figure's timing once on a proxied 4-node leaderless cluster from startFigure96Cluster. */
export async function figure96(
  cluster: Cluster,
  delayMs = 1_500,
  key = `fig96-${Date.now()}`,
): Promise<Figure96Result> {
  const ids = cluster.ids();
  const order = preferenceOrder(key, ids);
  const [p1, p2, p3, q] = order as [string, string, string, string];
  const url = (id: string) => cluster.node(id).directUrl;
  const proxies = cluster.proxies();
  proxies.clear();
  proxies.latency(p1, p2, delayMs);
  proxies.latency(p1, p3, delayMs);
  proxies.latency(p3, q, delayMs);
  const recorder = new HistoryRecorder();
  const t0 = performance.now();
  try {
    const writeOp = recorder.invoke(0, 'put', 'new', key);
    const write = call(`${url(q)}/kv/${key}?w=all`, 'PUT', 'new').then(
      (answer) => {
        if (answer.status === 200) writeOp.ok();
        else writeOp.info();
        return { status: answer.status, ms: Math.round(performance.now() - t0) };
      },
      () => {
        writeOp.info();
        return { status: 'timeout' as const, ms: Math.round(performance.now() - t0) };
      },
    );
    // Reader A polls Q until it sees the write (it reaches P1 after one hop through Q).
    let readA: Figure96Result['readA'] | null = null;
    for (let process = 1; readA === null && performance.now() - t0 < delayMs / 2; process++) {
      const op = recorder.invoke(process, 'get', null, key);
      const value = readValue(await call(`${url(q)}/kv/${key}?r=2`, 'GET'));
      op.ok(value);
      if (value === 'new') readA = { at: q, value, ms: Math.round(performance.now() - t0) };
    }
    if (!readA) throw new Error(`reader A never saw the write within ${delayMs / 2} ms`);
    const opB = recorder.invoke(1_000, 'get', null, key);
    const valueB = readValue(await call(`${url(p2)}/kv/${key}?r=2`, 'GET'));
    opB.ok(valueB);
    const readB = { at: p2, value: valueB, ms: Math.round(performance.now() - t0) };
    // The write need not have finished: an operation without completion is open-ended (it may
    // take effect at any instant after its invocation), which is all the figure needs.
    const writeResult = await Promise.race([
      write,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 10)),
    ]);
    const history = recorder.events();
    const model = createKvModel({ initialValue: null });
    const verdict = checkLinearizable(history, model, { timeoutMs: 10_000 }).verdict;
    const withoutB = history.filter((e) => e.process !== 1_000);
    const verdictWithoutB = checkLinearizable(withoutB, model, { timeoutMs: 10_000 }).verdict;
    return {
      key,
      replicas: [p1, p2, p3],
      outsider: q,
      delayMs,
      readA,
      readB,
      write: writeResult,
      verdict,
      verdictWithoutB,
      history,
    };
  } finally {
    proxies.clear();
  }
}

export function startFigure96Cluster(mainJs: string): Promise<Cluster> {
  return startCluster({
    nodes: 4,
    proxied: true,
    readyTimeoutMs: 90_000,
    command: (spec) => ({
      args: [mainJs, ...spec.flags, '--mode', 'leaderless', '--log-level', 'warn', ...FIGURE_9_6_FLAGS],
      env: { NODE_ENV: 'production', DDIA_SLOPPY: 'false' }, // no stand-ins
    }),
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'delay-ms': { type: 'string', default: '1500' } } });
  const cluster = await startFigure96Cluster(fileURLToPath(new URL('../dist/main.js', import.meta.url)));
  try {
    const r = await figure96(cluster, Number(values['delay-ms']));
    console.log(
      `key ${r.key}: home replicas ${r.replicas.join(' ')} (${r.replicas[0]} coordinates), outsider ${r.outsider}`,
    );
    console.log(
      `slow links (${r.delayMs} ms): ${r.replicas[0]}→${r.replicas[1]}, ${r.replicas[0]}→${r.replicas[2]}, ${r.replicas[2]}→${r.outsider}`,
    );
    console.log(`t=0       writer PUT x=new at ${r.outsider} with W=all (N=3)`);
    console.log(
      `t=${r.readA.ms} ms  reader A at ${r.readA.at} with R=2 reads ${JSON.stringify(r.readA.value)}`,
    );
    console.log(
      `t=${r.readB.ms} ms  reader B at ${r.readB.at} with R=2 reads ${JSON.stringify(r.readB.value)}  (started after A finished)`,
    );
    console.log(
      r.write ? `t=${r.write.ms} ms  the write answered ${r.write.status}` : 'the write is still in flight',
    );
    console.log(
      `W + R = 5 > N = 3; linearizability checker: ${r.verdict} (without B's read: ${r.verdictWithoutB})`,
    );
  } finally {
    await cluster.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
