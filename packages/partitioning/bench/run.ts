// pnpm --filter @ddia/partitioning bench [--quick]
//   1. keys moved when a cluster grows from N to N+1 nodes, per scheme, against the ideal 1/(N+1)
//      (pure: the same placement code the service runs);
//   2. client throughput and latency on real processes (dist/main.js, in-memory store) for each
//      cluster of --nodes (default 3 with --quick, else 1,2,3,4,3r2; `3r2` is three nodes with
//      --replicas 2), with each node's CPU seconds during the run (process_cpu_seconds_total).
//   3. on the three nodes: local (scatter/gather) vs global (one partition) index reads, and a
//      hot counter with and without salting (the busiest node's share of its writes).
// Needs no peer system. --quick (CI's bench:smoke, target <= 20 s on two loaded cores): fewer
// keys, the 3-node cluster only, 1 s per throughput run, 0.3 s per index/hot-key run.
import { type ChildProcess, spawn } from 'node:child_process';
import { freePorts } from '@ddia/testkit';
import { measureMovement, type SchemeName } from '../src/core/index.js';

const quick = process.argv.includes('--quick');
const nodesArg = process.argv[process.argv.indexOf('--nodes') + 1];
/** Clusters to measure: `N` nodes, or `NrR` for N nodes keeping R copies of each partition. */
const CLUSTERS = (process.argv.includes('--nodes') && nodesArg ? nodesArg : quick ? '3' : '1,2,3,4,3r2')
  .split(',')
  .map((spec) => {
    const m = /^([1-9])(?:r([1-5]))?$/.exec(spec.trim());
    if (!m || Number(m[2] ?? 1) > Number(m[1])) {
      console.error(`--nodes: ${JSON.stringify(spec)} is not N or NrR (R <= N, N <= 9), e.g. 1,2,3,4,3r2`);
      process.exit(2);
    }
    return { nodes: Number(m[1]), replicas: Number(m[2] ?? 1), label: spec.trim() };
  });
const KEYS = Array.from({ length: quick ? 5_000 : 200_000 }, (_, i) => `user:${i}`);
const RUN_MS = quick ? 1_000 : 15_000;
/** Each cluster idles this long before its run: the nodes' background CPU rate. */
const IDLE_MS = quick ? 300 : 2_000;
const CLIENTS = 16;
const MAIN = new URL('../dist/main.js', import.meta.url).pathname;

console.log(`## Keys moved on a join (${KEYS.length} keys, 256 partitions, 128 vnodes)\n`);
console.log('| N -> N+1 | ideal | hash mod N | fixed partitions | consistent hash |');
console.log('| --- | --- | --- | --- | --- |');
for (let n = 1; n <= 4; n++) {
  const before = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  const after = [...before, `n${n + 1}`];
  const cells = (['mod-n', 'fixed-partitions', 'consistent-hash'] as SchemeName[]).map((s) => {
    const r = measureMovement(s, KEYS, before, after, { partitions: 256, vnodes: 128 });
    return `${(r.movedFraction * 100).toFixed(1)} %`;
  });
  console.log(`| ${n} -> ${n + 1} | ${((1 / (n + 1)) * 100).toFixed(1)} % | ${cells.join(' | ')} |`);
}

async function cluster(n: number, replicas = 1): Promise<{ urls: string[]; procs: ChildProcess[] }> {
  const ports = await freePorts(n);
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const peers = urls.map((u, i) => `n${i + 1}=${u}`).join(',');
  const procs = ports.map((port, i) =>
    spawn(
      process.execPath,
      [
        MAIN,
        '--id',
        `n${i + 1}`,
        '--port',
        String(port),
        '--peers',
        peers,
        '--partitions',
        '16',
        '--indexes',
        'color=color:local,make=make:global',
        '--hot-keys',
        'likes',
        '--replicas',
        String(replicas),
        '--log-level',
        'warn',
        // The smoke run: a first election in 0.2-0.4 s instead of 0.5-1 s.
        ...(quick ? ['--tick-ms', '20'] : []),
      ],
      { stdio: 'ignore' },
    ),
  );
  // Generous: on a shared 2-core machine three processes can take long to elect and bootstrap.
  const until = Date.now() + (quick ? 40_000 : 90_000);
  for (;;) {
    // Every node, not just the first: two of three elect and bootstrap without the third.
    const ok = await Promise.all(
      urls.map((url) =>
        fetch(`${url}/cluster`)
          .then(async (r) => ((await r.json()) as { epoch: number }).epoch >= 1)
          .catch(() => false),
      ),
    ).then((views) => views.every(Boolean));
    if (ok) break;
    if (Date.now() > until) {
      for (const p of procs) p.kill('SIGKILL');
      throw new Error('cluster did not start');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { urls, procs };
}

const kvMix = (url: string, i: number) =>
  fetch(`${url}/kv/key${i % 10_000}`, {
    method: i % 2 === 0 ? 'PUT' : 'GET',
    ...(i % 2 === 0 ? { body: `value-${i}` } : {}),
  });

interface LoadResult {
  ops: number;
  p50: number;
  p99: number;
  errors: number;
  /** Answers per owner node (x-owner), where the route names one. */
  owners: Map<string, number>;
}

async function load(
  urls: string[],
  send: (url: string, i: number) => Promise<Response> = kvMix,
  runMs = RUN_MS,
): Promise<LoadResult> {
  const latencies: number[] = [];
  const owners = new Map<string, number>();
  let errors = 0;
  const end = performance.now() + runMs;
  let seq = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      while (performance.now() < end) {
        const i = seq++;
        const url = urls[c % urls.length] as string;
        const t = performance.now();
        const res = await send(url, i).catch(() => undefined);
        await res?.arrayBuffer();
        if (!res || res.status >= 500) errors++;
        const owner = res?.headers.get('x-owner');
        if (owner) owners.set(owner, (owners.get(owner) ?? 0) + 1);
        latencies.push(performance.now() - t);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { ops: latencies.length / (runMs / 1000), p50: at(0.5), p99: at(0.99), errors, owners };
}

/** Secondary index reads (scatter/gather vs one partition) and hot-key writes (salted or not). */
async function indexesAndHotKeys(urls: string[]): Promise<void> {
  const runMs = quick ? 300 : 8_000;
  const colors = ['red', 'black', 'silver', 'blue'];
  const makes = ['ford', 'audi', 'honda', 'dodge', 'kia'];
  await Promise.all(
    Array.from({ length: quick ? 40 : 1_000 }, (_, i) =>
      fetch(`${urls[i % urls.length]}/kv/car${i}`, {
        method: 'PUT',
        body: JSON.stringify({ color: colors[i % colors.length], make: makes[i % makes.length] }),
      }).then((r) => r.arrayBuffer()),
    ),
  );
  await new Promise((r) => setTimeout(r, quick ? 200 : 500)); // the global index catches up
  const row = (what: string, asked: string, r: LoadResult) => {
    const busiest = Math.max(0, ...r.owners.values());
    const total = [...r.owners.values()].reduce((a, b) => a + b, 0);
    const share = total > 0 ? `${((busiest / total) * 100).toFixed(0)} %` : '-';
    console.log(
      `| ${what} | ${asked} | ${r.ops.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${share} | ${r.errors} |`,
    );
  };
  console.log(
    `\n## Secondary index reads and hot-key writes (3 nodes, ${CLIENTS} clients, ${runMs / 1000} s each)\n`,
  );
  console.log('| workload | partitions asked | ops/s | p50 ms | p99 ms | busiest node share | errors |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  const query = (index: string, values: string[]) => (url: string, i: number) =>
    fetch(`${url}/indexes/${index}?value=${values[i % values.length]}`);
  row('local index (color), scatter/gather', '16', await load(urls, query('color', colors), runMs));
  row('global index (make), one partition', '1', await load(urls, query('make', makes), runMs));
  const incr = (key: string) => (url: string) => fetch(`${url}/counters/${key}`, { method: 'POST' });
  row('hot counter, unsalted (views)', '1', await load(urls, incr('views'), runMs));
  row('hot counter, salted x8 (likes)', '1 of 8', await load(urls, incr('likes'), runMs));
}

const throughputHeading = `\n## Client throughput (${CLIENTS} clients, 50 % PUT / 50 % GET, ${RUN_MS / 1000} s, in-memory store)\n`;
const rows = [
  '| nodes | copies | ops/s | p50 ms | p99 ms | errors | CPU s per node during the run | CPU ms per op beyond idle (all nodes) | simulated ops/s, one core per node |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
/** The simulated scaling (the issue's "from measured per-partition costs"): with a core of its
 *  own per node and a free client, the node that spent the most CPU per operation in this run
 *  saturates first, at 1 / (its CPU seconds per operation). Measured costs include forwarding
 *  and replication; the partitions are spread evenly, so a node's share is its partitions'.
 *  `cpuPerNode` is CPU beyond each node's idle rate (Raft heartbeats, controller ticks), which
 *  would otherwise be charged to the operations of a run the loaded machine starved. */
function simulatedOpsPerSecond(operations: number, cpuPerNode: number[]): number {
  const busiest = Math.max(...cpuPerNode);
  return busiest > 0 ? operations / busiest : Number.NaN;
}
/** Each node's process CPU seconds so far (prom-client's default metric). */
const cpuSeconds = (urls: string[]) =>
  Promise.all(
    urls.map(async (url) => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return Number(/^process_cpu_seconds_total(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
    }),
  );
let indexesDone = false;
for (const { nodes: n, replicas, label } of CLUSTERS) {
  const c = await cluster(n, replicas).catch(() => null);
  if (!c) {
    console.log(
      `| ${label} | ${replicas} | - | - | - | - | did not start in time on this machine (busy?); skipped |`,
    );
    continue;
  }
  try {
    const idleStart = await cpuSeconds(c.urls);
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const before = await cpuSeconds(c.urls);
    const idlePerSecond = before.map((b, i) => (b - (idleStart[i] ?? 0)) / (IDLE_MS / 1000));
    const r = await load(c.urls);
    const after = await cpuSeconds(c.urls);
    const spent = after.map((a, i) => a - (before[i] ?? 0));
    const busy = spent.map((x, i) => Math.max(0, x - (idlePerSecond[i] ?? 0) * (RUN_MS / 1000)));
    const cpu = spent.map((x) => x.toFixed(1)).join(' / ');
    const operations = r.ops * (RUN_MS / 1000);
    const cpuMsPerOp = (busy.reduce((a, b) => a + b, 0) / operations) * 1000;
    rows.push(
      `| ${n} | ${replicas} | ${r.ops.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.errors} | ${cpu} | ${cpuMsPerOp.toFixed(2)} | ${simulatedOpsPerSecond(operations, busy).toFixed(0)} |`,
    );
    if (n === 3 && replicas === 1 && !indexesDone) {
      indexesDone = true;
      await indexesAndHotKeys(c.urls);
    }
  } finally {
    for (const p of c.procs) p.kill('SIGKILL');
  }
}
console.log(throughputHeading);
console.log(rows.join('\n'));
console.log("\nAll nodes share this machine's cores: more nodes here means more forwarding, not more CPU.");

// The rebalance benchmark and the Redis Cluster comparison need loaded clusters and minutes:
// not part of --quick (CI's smoke run, which has no redis-server either).
if (!quick) {
  await import('./rebalance.js');
  await import('./redis-cluster.js');
} else
  console.log(
    '\nRebalance while serving and the Redis Cluster peer: skipped with --quick (pnpm --filter @ddia/partitioning bench:rebalance, bench:redis).',
  );
