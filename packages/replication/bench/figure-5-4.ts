// DDIA Figure 5-4: monotonic reads. A user reads twice, from two followers: first from one
// with little lag (the new comment is there), then from one with more lag (it is not): the
// second read shows an older state than the first, as if time went backwards.
//
//   node --import tsx bench/figure-5-4.ts [--lag-ms 1500] [--tries 3]   (from packages/replication, after a build)
//
// On real processes: single-leader mode, 3 nodes through testkit's fault proxy, the link from
// the leader to one follower slowed by `lagMs` (replication lag, not a partition: the entry
// arrives later). Each try writes a fresh key at the leader (asynchronously, `?sync=false`),
// then two readers run one after the other:
//   - without a session: read at the fresh follower until the comment is there, then at the
//     lagging one — 404, and its position (`X-Position`) is below the first read's;
//   - with `X-Session: monotonic-reads`: the same two reads, the second sending back the
//     `X-Context` (the log position) of the first. The lagging follower holds the read until it
//     has applied that position (then 200 with the comment) or answers `503 behind` after its
//     read wait; never the older state.
// The session reader's second read starts after the first reader's stale one, so it meets a
// follower that was behind.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Cluster, startCluster } from '@ddia/testkit';

export interface Figure54Read {
  at: string;
  status: number;
  value: string | null;
  /** The replica's log position when it answered (X-Position), null on an error. */
  position: number | null;
  /** The X-Context it sent back (base64url of {"pos": position}). */
  context: string | null;
  ms: number;
  /** The problem+json body of an error answer. */
  detail?: string;
}

export interface Figure54Result {
  key: string;
  leader: string;
  fresh: string;
  lagging: string;
  lagMs: number;
  /** The write's log position. */
  written: number;
  /** Without a session: the fresh follower's read, then the lagging one's. */
  plain: [Figure54Read, Figure54Read];
  /** With X-Session: monotonic-reads: the same two reads, the second with the first's context. */
  session: [Figure54Read, Figure54Read];
  /** When the second session read said 503 behind: the retry that got an answer. */
  sessionRetry: Figure54Read | null;
  /** The plain reader's second read showed an older state than its first (time went backwards). */
  anomaly: boolean;
}

interface Answer {
  status: number;
  text: string;
  headers: Headers;
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

/** The inconclusive outcomes of a try: the timing came out wrong, the try shows nothing. */
export const FIGURE_5_4_INCONCLUSIVE = /never saw the write|caught up before/;

/** Finds the leader of a single-leader cluster from a node's /cluster (it must take writes). */
export async function leaderOf(cluster: Cluster): Promise<string> {
  for (const id of cluster.ids()) {
    try {
      const status = JSON.parse((await call(`${cluster.node(id).directUrl}/cluster`)).text) as {
        leader: string | null;
      };
      if (status.leader) return status.leader;
    } catch {
      // that node is down: ask the next
    }
  }
  throw new Error('no node names a leader');
}

/** Runs the figure once on a proxied 3-node single-leader cluster (startFigure54Cluster). */
export async function figure54(
  cluster: Cluster,
  lagMs = 1_500,
  key = `fig54-${Date.now()}`,
): Promise<Figure54Result> {
  const leader = await leaderOf(cluster);
  const [fresh, lagging] = cluster.ids().filter((id) => id !== leader) as [string, string];
  const url = (id: string) => cluster.node(id).directUrl;
  const proxies = cluster.proxies();
  proxies.clear();
  proxies.latency(leader, lagging, lagMs);
  const t0 = performance.now();
  const read = async (at: string, headers: Record<string, string> = {}): Promise<Figure54Read> => {
    const answer = await call(`${url(at)}/kv/${key}`, { headers });
    // A 503 behind names the replica's position in its problem+json body.
    const position =
      answer.headers.get('x-position') ??
      (answer.status === 503
        ? String((JSON.parse(answer.text) as { position?: number }).position ?? '')
        : null);
    return {
      at,
      status: answer.status,
      value: answer.status === 200 ? (JSON.parse(answer.text) as { value: string }).value : null,
      position: position === null || position === '' ? null : Number(position),
      context: answer.headers.get('x-context'),
      ms: Math.round(performance.now() - t0),
      ...(answer.status !== 200 && answer.status !== 404 ? { detail: answer.text.slice(0, 300) } : {}),
    };
  };
  /** Reads at the fresh follower until the comment is there (it should be, one hop after the write). */
  const readFresh = async (headers: Record<string, string> = {}): Promise<Figure54Read> => {
    for (;;) {
      const r = await read(fresh, headers);
      if (r.value === 'comment') return r;
      if (performance.now() - t0 > lagMs / 2)
        throw new Error(`the fresh follower ${fresh} never saw the write within ${lagMs / 2} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  try {
    const write = await call(`${url(leader)}/kv/${key}?sync=false`, {
      method: 'PUT',
      body: 'comment',
      headers: { 'content-type': 'text/plain' },
    });
    if (write.status !== 200) throw new Error(`the write answered ${write.status}: ${write.text}`);
    const written = (JSON.parse(write.text) as { position: number }).position;
    // User 2345 without a session guarantee.
    const plain1 = await readFresh();
    const plain2 = await read(lagging);
    if (plain2.status === 200)
      throw new Error(`the lagging follower ${lagging} caught up before the read (at ${plain2.ms} ms)`);
    if (plain2.status !== 404)
      throw new Error(`the lagging read answered ${plain2.status}: ${plain2.detail}`);
    // The same user in a monotonic-reads session: the second read carries the first's context.
    const session1 = await readFresh({ 'x-session': 'monotonic-reads' });
    if (!session1.context) throw new Error('the fresh follower sent no X-Context');
    const sessionHeaders = { 'x-session': 'monotonic-reads', 'x-context': session1.context };
    const session2 = await read(lagging, sessionHeaders);
    // "Behind, retry": the client retries the same session read until the replica has caught up.
    let session3: Figure54Read | null = null;
    while (session2.status === 503 && session3?.status !== 200) {
      if (performance.now() - t0 > lagMs + 20_000) throw new Error(`${lagging} never caught up`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      session3 = await read(lagging, sessionHeaders);
    }
    return {
      key,
      leader,
      fresh,
      lagging,
      lagMs,
      written,
      plain: [plain1, plain2],
      session: [session1, session2],
      sessionRetry: session3,
      anomaly: plain2.status === 404 && (plain2.position ?? 0) < (plain1.position ?? 0),
    };
  } finally {
    proxies.clear();
  }
}

export async function startFigure54Cluster(mainJs: string): Promise<Cluster> {
  const cluster = await startCluster({
    nodes: 3,
    proxied: true,
    readyTimeoutMs: 90_000,
    command: (spec) => ({
      args: [mainJs, ...spec.flags, '--mode', 'single-leader', '--log-level', 'warn'],
      env: { NODE_ENV: 'production' },
    }),
  });
  // The leader takes writes once a majority confirmed its epoch (its lease).
  const deadline = performance.now() + 60_000;
  for (;;) {
    const leader = await leaderOf(cluster).catch(() => null);
    if (leader) {
      const answer = await call(`${cluster.node(leader).directUrl}/kv/warm-up`, {
        method: 'PUT',
        body: 'x',
        headers: { 'content-type': 'text/plain' },
      }).catch(() => null);
      if (answer?.status === 200) return cluster;
    }
    if (performance.now() > deadline) {
      await cluster.close();
      throw new Error('no leader took a write within 60 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function describeRead(r: Figure54Read): string {
  const what =
    r.status === 200
      ? JSON.stringify(r.value)
      : r.status === 404
        ? 'nothing (404)'
        : r.status === 503
          ? '503 behind: retry'
          : `${r.status} ${r.detail}`;
  return `${r.at} at position ${r.position ?? '-'} answers ${what}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'lag-ms': { type: 'string', default: '1500' }, tries: { type: 'string', default: '3' } },
  });
  const lagMs = Number(values['lag-ms']);
  const cluster = await startFigure54Cluster(fileURLToPath(new URL('../dist/main.js', import.meta.url)));
  try {
    for (let attempt = 1; attempt <= Number(values.tries); attempt++) {
      let r: Figure54Result;
      try {
        r = await figure54(cluster, lagMs, `fig54-${attempt}-${Date.now()}`);
      } catch (error) {
        const message = (error as Error).message;
        if (!FIGURE_5_4_INCONCLUSIVE.test(message)) throw error;
        console.log(`try ${attempt}: inconclusive (${message})`);
        continue;
      }
      console.log(
        `try ${attempt}: key ${r.key} written at ${r.leader} (position ${r.written}); link ${r.leader}→${r.lagging} slowed by ${r.lagMs} ms`,
      );
      console.log(`  no session       t=${r.plain[0].ms} ms  ${describeRead(r.plain[0])}`);
      console.log(`                   t=${r.plain[1].ms} ms  ${describeRead(r.plain[1])}`);
      console.log(
        `  → ${r.anomaly ? 'time went backwards: the second read is older than the first' : 'no anomaly this try'}`,
      );
      console.log(`  monotonic-reads  t=${r.session[0].ms} ms  ${describeRead(r.session[0])}`);
      console.log(`                   t=${r.session[1].ms} ms  ${describeRead(r.session[1])}`);
      if (r.sessionRetry)
        console.log(
          `                   t=${r.sessionRetry.ms} ms  ${describeRead(r.sessionRetry)} (the client retried)`,
        );
    }
  } finally {
    await cluster.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
