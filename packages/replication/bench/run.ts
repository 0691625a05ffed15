// pnpm --filter @ddia/replication bench [--quick] [--install] [--rounds N] [--seconds S] [--clients C]
//
// Write (and leaderless read) latency p50/p99 and throughput of our service on 3 local nodes,
// per mode and per W/R, and beside it the production reference for single-leader replication:
// PostgreSQL 15 streaming replication, a primary and 2 standbys (pg_basebackup), with
// synchronous_standby_names = 'ANY 1 (s1, s2)' and synchronous_commit = off | on | remote_apply.
// Our single-leader sync (`--sync-standbys 'ANY 1 (n2, n3)'`: a standby confirms once the entry
// is on its disk and applied) is the counterpart of remote_apply; the two alternate over rounds.
// Without PostgreSQL (and without --install) the bench says so and measures our side only.
// --quick (CI smoke, < 60 s): single-leader only, one short round.
// --extra: ours only — 3 vs 5 nodes, 5 ms link latency (fault proxy), failover time, and
// staleness vs R + W in leaderless mode (bench/extra.ts); results in results/extra-*.
// --shaped: ours only — multi-leader and leaderless (each W and R) on 3 and 5 nodes with the
// same link latency on every node-to-node link; results in results/shaped-*.
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Cluster, startCluster } from '@ddia/testkit';
import pg from 'pg';
import { cpuMs, memory, postgresPids } from './cpu.js';
import { type FailoverResult, failoverTimes, type StalenessResult, staleness } from './extra.js';
import { closeClient, call as send } from './http.js';
import { type LoadResult, runLoad } from './load.js';
import {
  findPostgresBin,
  INSTALL_HINT,
  installPostgres,
  type PostgresCluster,
  startPostgresCluster,
} from './postgres-cluster.js';

const MAIN_JS = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const KEYS = 1_000;
const LINK_LATENCY_MS = 5;
const STALENESS_LATENCY_MS = 10;
const STALENESS_PAIRS: [number, number][] = [
  [1, 1],
  [1, 2],
  [2, 1],
  [2, 2],
  [1, 3],
  [3, 1],
];
const VALUE = 'v'.repeat(100);

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    install: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    clients: { type: 'string' },
    extra: { type: 'boolean', default: false },
    shaped: { type: 'boolean', default: false },
  },
});
const quick = args.quick ?? false;
const rounds = Number(args.rounds ?? (quick ? 1 : 3));
const durationMs = 1000 * Number(args.seconds ?? (quick ? 2 : 5));
const clients = Number(args.clients ?? (quick ? 4 : 8));

interface Measured extends LoadResult {
  /** CPU of every server process (our nodes; PostgreSQL's postmasters and their children) per op. */
  serverCpuMsPerOp: number;
  /** CPU of the bench process per op (our HTTP client, or pg). */
  clientCpuMsPerOp: number;
  /** Peak over the run (sampled every 500 ms) of the server processes' summed VmRSS, MiB. */
  serverRssMiB: number;
  /** Their summed PSS at that peak (shared pages split among the sharers), MiB; null if unreadable. */
  serverPssMiB: number | null;
}

interface Row {
  system: string;
  config: string;
  op: 'write' | 'read';
  round: number;
  result: Measured;
}
const rows: Row[] = [];
/** Runs the load and measures the CPU it cost the servers (`pids()` at start and end) and us. */
async function measured(
  pids: () => number[],
  op: (client: number, i: number) => Promise<boolean>,
): Promise<Measured> {
  const serverBefore = cpuMs(pids());
  const clientBefore = process.cpuUsage();
  let peak = memory(pids());
  const sampler = setInterval(() => {
    const now = memory(pids());
    if (now.rssMiB > peak.rssMiB) peak = now;
  }, 500);
  const result = await runLoad(clients, durationMs, op).finally(() => clearInterval(sampler));
  const client = process.cpuUsage(clientBefore);
  const server = cpuMs(pids()) - serverBefore;
  const after = memory(pids());
  if (after.rssMiB > peak.rssMiB) peak = after;
  const perOp = (ms: number) => (result.ops > 0 ? Math.round((ms / result.ops) * 100) / 100 : Number.NaN);
  return {
    ...result,
    serverCpuMsPerOp: perOp(server),
    clientCpuMsPerOp: perOp((client.user + client.system) / 1000),
    serverRssMiB: peak.rssMiB,
    serverPssMiB: peak.pssMiB,
  };
}

/** The nodes' own addresses: the load does not go through the fault proxies. */
function directUrls(cluster: Cluster): string[] {
  return cluster.nodes.map((n) => n.directUrl);
}

function clusterPids(cluster: Cluster): () => number[] {
  return () => cluster.nodes.map((n) => n.pid).filter((pid): pid is number => pid !== undefined);
}

function key(client: number, i: number): string {
  return `k${(client * 7_919 + i * 104_729) % KEYS}`;
}

async function startOurs(
  mode: string,
  extra: string[],
  shape: { nodes?: number; proxied?: boolean } = {},
): Promise<Cluster> {
  const cluster = await startCluster({
    nodes: shape.nodes ?? 3,
    proxied: shape.proxied ?? false,
    readyTimeoutMs: 90_000,
    command: (spec) => ({
      args: [
        MAIN_JS,
        ...spec.flags,
        '--mode',
        mode,
        '--log-level',
        'warn',
        '--anti-entropy-ms',
        '0',
        ...extra,
      ],
      env: { NODE_ENV: 'production' },
    }),
  });
  if (mode === 'single-leader') await warmUp(cluster);
  return cluster;
}

/** Waits until some node acknowledges a write: the leader holds its lease (no 503 fenced in the runs). */
async function warmUp(cluster: Cluster): Promise<void> {
  for (const deadline = performance.now() + 60_000; performance.now() < deadline; ) {
    for (const url of directUrls(cluster)) {
      const answer = await send(`${url}/kv/warm-up`, 'PUT', 'x').catch(() => null);
      if (answer?.status === 200) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('no node of the cluster took a write within 60 s');
}

async function oursWrites(cluster: Cluster, config: string, query: string, anyNode: boolean, round: number) {
  const urls = directUrls(cluster);
  const result = await measured(clusterPids(cluster), async (client, i) => {
    const url = anyNode ? (urls[(client + i) % urls.length] as string) : (urls[0] as string);
    const response = await send(`${url}/kv/${key(client, i)}${query}`, 'PUT', VALUE);
    return response.status === 200;
  });
  rows.push({ system: 'ours', config, op: 'write', round, result });
  console.log(`ours ${config} write: ${JSON.stringify(result)}`);
}

async function oursReads(cluster: Cluster, config: string, query: string, round: number) {
  const urls = directUrls(cluster);
  const result = await measured(clusterPids(cluster), async (client, i) => {
    const url = urls[(client + i) % urls.length] as string;
    const response = await send(`${url}/kv/${key(client, i)}${query}`, 'GET');
    return response.status === 200 || response.status === 404 || response.status === 300;
  });
  rows.push({ system: 'ours', config, op: 'read', round, result });
  console.log(`ours ${config} read: ${JSON.stringify(result)}`);
}

async function pgWrites(cluster: PostgresCluster, level: string, round: number) {
  const pool = new pg.Pool({
    connectionString: cluster.primaryUrl,
    max: clients,
    options: `-c synchronous_commit=${level}`,
  });
  // Idle connections report the server's shutdown as an error event (57P01); unhandled it
  // would kill the bench. A query that breaks still fails on its own.
  pool.on('error', () => {});
  try {
    await pool.query('CREATE TABLE IF NOT EXISTS kv (k text PRIMARY KEY, v text NOT NULL)');
    const result = await measured(
      () => postgresPids(cluster.dataDirs),
      async (client, i) => {
        await pool.query(
          'INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v',
          [key(client, i), VALUE],
        );
        return true;
      },
    );
    rows.push({ system: 'postgresql', config: `synchronous_commit=${level}`, op: 'write', round, result });
    console.log(`postgresql synchronous_commit=${level} write: ${JSON.stringify(result)}`);
  } finally {
    await pool.end();
  }
}

async function preparePostgres(): Promise<PostgresCluster | null> {
  let bin = findPostgresBin();
  if (!bin && args.install) {
    console.log('installing PostgreSQL with apt-get ...');
    await installPostgres();
    bin = findPostgresBin();
  }
  if (!bin) {
    console.log(`${INSTALL_HINT} Measuring our side only.`);
    return null;
  }
  try {
    return await startPostgresCluster(bin);
  } catch (error) {
    console.log(
      `PostgreSQL did not start (${(error as Error).message.split('\n')[0]}); measuring our side only.`,
    );
    return null;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  const middle =
    sorted.length % 2 === 1
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return Math.round(middle * 100) / 100;
}

function table(): string {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const id = `${row.system}|${row.config}|${row.op}`;
    groups.set(id, [...(groups.get(id) ?? []), row]);
  }
  const lines = [
    '| system | configuration | op | p50 ms | p99 ms | ops/s | server CPU ms/op | client CPU ms/op | server RSS MiB | server PSS MiB | errors |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const group of groups.values()) {
    const first = group[0] as Row;
    const pick = (f: (r: Measured) => number) => median(group.map((r) => f(r.result)));
    lines.push(
      `| ${first.system} | ${first.config} | ${first.op} | ${pick((r) => r.p50Ms)} | ${pick((r) => r.p99Ms)} | ${pick((r) => r.opsPerSecond)} | ${pick((r) => r.serverCpuMsPerOp)} | ${pick((r) => r.clientCpuMsPerOp)} | ${pick((r) => r.serverRssMiB)} | ${pick((r) => r.serverPssMiB ?? Number.NaN)} | ${group.reduce((n, r) => n + r.result.errors, 0)} |`,
    );
  }
  return lines.join('\n');
}

/** `--extra`: 5 nodes, link latency, failover time, staleness vs R + W (ours only; extra.ts). */
async function extraRuns(machine: Record<string, unknown>): Promise<void> {
  const sync3 = await startOurs('single-leader', ['--sync-standbys', 'ANY 1 (n2, n3)']);
  try {
    for (let round = 1; round <= rounds; round++)
      await oursWrites(sync3, "3 nodes, sync 'ANY 1 (n2, n3)'", '', false, round);
  } finally {
    await sync3.close();
  }
  const sync5 = await startOurs('single-leader', ['--sync-standbys', 'ANY 2 (n2, n3, n4, n5)'], { nodes: 5 });
  try {
    for (let round = 1; round <= rounds; round++)
      await oursWrites(sync5, "5 nodes, sync 'ANY 2 (n2, n3, n4, n5)'", '', false, round);
  } finally {
    await sync5.close();
  }
  for (const [nodes, rule] of [
    [3, 'ANY 1 (n2, n3)'],
    [5, 'ANY 2 (n2, n3, n4, n5)'],
  ] as const) {
    const shaped = await startShaped('single-leader', ['--sync-standbys', rule], nodes);
    try {
      for (let round = 1; round <= rounds; round++)
        await oursWrites(
          shaped,
          `${nodes} nodes, sync '${rule}', ${LINK_LATENCY_MS} ms each way between nodes (fault proxy)`,
          '',
          false,
          round,
        );
    } finally {
      await shaped.close();
    }
  }
  const failover = await startOurs('single-leader', ['--failover-after-ms', '1000', '--lease-ms', '1000']);
  let failovers: FailoverResult[];
  try {
    failovers = await failoverTimes(failover, Math.max(2, rounds));
  } finally {
    await failover.close();
  }
  const leaderless = await startOurs('leaderless', ['--n', '3'], { proxied: true });
  let stale: StalenessResult[];
  try {
    stale = await staleness(leaderless, 3, STALENESS_PAIRS, quick ? 20 : 60, STALENESS_LATENCY_MS);
  } finally {
    await leaderless.close();
  }
  const markdown = [
    table(),
    '',
    '| failover trial | commit | leader killed | new leader | ms until a write is acknowledged | burst writes acknowledged | lost |',
    '| ---: | --- | --- | --- | ---: | ---: | ---: |',
    ...failovers.map(
      (f) => `| ${f.trial} | ${f.commit} | ${f.killed} | ${f.newLeader} | ${f.ms} | ${f.acked} | ${f.lost} |`,
    ),
    '',
    '| N | W | R | R + W > N | link latency ms | trials | stale reads | stale fraction |',
    '| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |',
    ...stale.map(
      (x) =>
        `| ${x.n} | ${x.w} | ${x.r} | ${x.r + x.w > x.n ? 'yes' : 'no'} | ${x.linkLatencyMs} | ${x.trials} | ${x.stale} | ${x.staleFraction} |`,
    ),
  ].join('\n');
  console.log(`\n${markdown}\n`);
  const stamp = new Date().toISOString().slice(0, 19).replaceAll(':', '-');
  await writeFile(
    `${RESULTS}extra-${stamp}.json`,
    `${JSON.stringify({ machine, clients, durationMs, rounds, rows, failovers, staleness: stale }, null, 2)}\n`,
  );
  await writeFile(`${RESULTS}extra-latest.md`, `${markdown}\n`);
  closeClient();
}

/** Starts a proxied cluster whose every node-to-node link is `LINK_LATENCY_MS` slower each way. */
async function startShaped(mode: string, extra: string[], nodes: number): Promise<Cluster> {
  const cluster = await startOurs(mode, extra, { proxied: true, nodes });
  for (const from of cluster.ids())
    for (const to of cluster.ids()) if (from !== to) cluster.proxies().latency(from, to, LINK_LATENCY_MS);
  return cluster;
}

/**
 * `--shaped`: multi-leader and leaderless (N = 3, each W and R) on 3 and 5 nodes, every
 * node-to-node link `LINK_LATENCY_MS` slower each way through testkit's fault proxy. Both sizes
 * of a mode run at once and alternate which goes first in each round, so drift in the machine's
 * load hits them alike. The clients talk to the nodes directly (no proxy between them).
 */
async function shapedRuns(machine: Record<string, unknown>): Promise<void> {
  const sizes = [3, 5] as const;
  const label = (nodes: number) => `${nodes} nodes, ${LINK_LATENCY_MS} ms links`;
  const inTurn = (round: number) => (round % 2 === 1 ? sizes : [...sizes].reverse());
  const multi = await Promise.all(sizes.map((nodes) => startShaped('multi-leader', [], nodes)));
  try {
    for (let round = 1; round <= rounds; round++)
      for (const nodes of inTurn(round))
        await oursWrites(
          multi[sizes.indexOf(nodes)] as Cluster,
          `multi-leader (local ack, any node), ${label(nodes)}`,
          '',
          true,
          round,
        );
  } finally {
    await Promise.all(multi.map((c) => c.close()));
  }
  const leaderless = await Promise.all(sizes.map((nodes) => startShaped('leaderless', ['--n', '3'], nodes)));
  try {
    for (let round = 1; round <= rounds; round++)
      for (const nodes of inTurn(round)) {
        const cluster = leaderless[sizes.indexOf(nodes)] as Cluster;
        for (const q of ['1', 'quorum', 'all']) {
          await oursWrites(cluster, `leaderless N=3 W=${q}, ${label(nodes)}`, `?w=${q}`, true, round);
          await oursReads(cluster, `leaderless N=3 R=${q}, ${label(nodes)}`, `?r=${q}`, round);
        }
      }
  } finally {
    await Promise.all(leaderless.map((c) => c.close()));
  }
  const markdown = table();
  const loadAverageEnd = os.loadavg();
  console.log(`\n${markdown}\n`);
  console.log(`load average at start ${machine.loadAverage1m}, at end ${loadAverageEnd.join(' ')}`);
  const stamp = new Date().toISOString().slice(0, 19).replaceAll(':', '-');
  await writeFile(
    `${RESULTS}shaped-${stamp}.json`,
    `${JSON.stringify({ machine, loadAverageEnd, clients, durationMs, rounds, linkLatencyMs: LINK_LATENCY_MS, rows }, null, 2)}\n`,
  );
  await writeFile(`${RESULTS}shaped-latest.md`, `${markdown}\n`);
  closeClient();
}

async function main(): Promise<void> {
  const machine = {
    cpus: os.cpus().length,
    model: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAverage1m: os.loadavg()[0],
    node: process.version,
  };
  console.log(
    `machine: ${JSON.stringify(machine)}; ${clients} clients, ${durationMs / 1000} s per run, ${rounds} round(s)`,
  );
  if (args.extra) {
    await extraRuns(machine);
    return;
  }
  if (args.shaped) {
    await shapedRuns(machine);
    return;
  }
  const [single, postgres] = await Promise.all([
    startOurs('single-leader', ['--sync-standbys', 'ANY 1 (n2, n3)']),
    preparePostgres(),
  ]);
  try {
    for (let round = 1; round <= rounds; round++) {
      // Alternated, so that drift in the machine's load hits both sides alike.
      await oursWrites(single, "single-leader sync 'ANY 1 (n2, n3)'", '', false, round);
      if (postgres) await pgWrites(postgres, 'remote_apply', round);
      if (!quick) {
        await oursWrites(single, 'single-leader async (?sync=false)', '?sync=false', false, round);
        if (postgres) await pgWrites(postgres, 'on', round);
        if (postgres) await pgWrites(postgres, 'off', round);
      }
    }
  } finally {
    await single.close();
    await postgres?.stop();
  }
  if (!quick) {
    const multi = await startOurs('multi-leader', []);
    try {
      for (let round = 1; round <= rounds; round++)
        await oursWrites(multi, 'multi-leader (local ack, any node)', '', true, round);
    } finally {
      await multi.close();
    }
    const leaderless = await startOurs('leaderless', ['--n', '3']);
    try {
      for (let round = 1; round <= rounds; round++) {
        for (const q of ['1', 'quorum', 'all']) {
          await oursWrites(leaderless, `leaderless N=3 W=${q}`, `?w=${q}`, true, round);
          await oursReads(leaderless, `leaderless N=3 R=${q}`, `?r=${q}`, round);
        }
      }
    } finally {
      await leaderless.close();
    }
  }
  const markdown = table();
  const sync = rows.filter((r) => r.config.startsWith('single-leader sync')).map((r) => r.result.p50Ms);
  const p50Of = (level: string) =>
    rows.filter((r) => r.config === `synchronous_commit=${level}`).map((r) => r.result.p50Ms);
  const ratioTo = (level: string) => {
    const theirs = p50Of(level);
    return theirs.length > 0 ? Math.round((median(sync) / median(theirs)) * 100) / 100 : null;
  };
  const ratio = ratioTo('remote_apply');
  const ratioOn = ratioTo('on');
  const loadAverageEnd = os.loadavg();
  console.log(`\n${markdown}\n`);
  if (ratio !== null)
    console.log(`ours sync p50 / PostgreSQL remote_apply p50 = ${ratio} (median of ${rounds} round(s))`);
  if (ratioOn !== null) console.log(`ours sync p50 / PostgreSQL synchronous_commit=on p50 = ${ratioOn}`);
  console.log(`load average at start ${machine.loadAverage1m}, at end ${loadAverageEnd.join(' ')}`);
  const name = quick ? 'quick.json' : `${new Date().toISOString().slice(0, 19).replaceAll(':', '-')}.json`;
  await writeFile(
    `${RESULTS}${name}`,
    `${JSON.stringify({ machine, loadAverageEnd, clients, durationMs, rounds, quick, syncVsRemoteApplyP50: ratio, syncVsOnP50: ratioOn, rows }, null, 2)}\n`,
  );
  if (!quick) await writeFile(`${RESULTS}latest.md`, `${markdown}\n`);
  closeClient();
}

await main();
