// pnpm --filter @ddia/partitioning bench:redis [--quick] [--rounds N] [--ours-only] [--rebalance-only]
//   (also run by `bench`)
// Us against a real peer in the same run: Redis Cluster (16,384 hash slots assigned to masters,
// the fixed-partitions scheme of DDIA ch. 6 "Rebalancing Partitions"), each driven by its own
// cluster-aware client: ours through PartitionedClient (caches the assignment, refreshes on a
// wrong-owner answer), Redis through ioredis' Cluster (caches the slot map, follows MOVED/ASK).
//   1. throughput: 16 clients, 50 % PUT / 50 % GET of 1 KiB values on a preloaded key set,
//      1, 2 and 3 nodes;
//   2. rebalancing: 3 nodes under that load, a fourth joins: ours POST /cluster/nodes (the
//      controller moves partitions), Redis `redis-cli --cluster add-node` then
//      `--cluster rebalance --cluster-use-empty-masters`; time to settle, keys moved against the
//      ideal 1/4, and the clients' p99 during the rebalance against the steady state before it.
// Same durability: our nodes write through --data-dir (every acknowledged write fsynced), Redis
// with appendonly yes and appendfsync always. The order of the two alternates per round; each
// result is the median of the rounds with the min-max spread, beside the servers' RSS and CPU.
// Needs redis-server and redis-cli (Debian: apt-get install redis-server); without them the peer
// is skipped with that reason. Raw results: bench/results/redis-cluster-<time>.json.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PollOptions, pollUntil } from '@ddia/common';
import { freePorts, processCpuMs, processMemory } from '@ddia/testkit';
import { Cluster, Redis } from 'ioredis';
import { PartitionedClient } from '../src/router/partitioned-client.js';

const quick = process.argv.includes('--quick');
const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : quick ? 1 : 3;
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS > 20) {
  console.error('--rounds: an integer from 1 to 20');
  process.exit(2);
}
/** --ours-only: our side alone (a check of our rebalance tail without the peer's minutes). */
const ONLY_OURS = process.argv.includes('--ours-only');
/** --rebalance-only: skip the throughput runs. */
const ONLY_REBALANCE = process.argv.includes('--rebalance-only');
const KEYS = quick ? 500 : 3_000;
const VALUE = Buffer.alloc(1024, 'x');
const CLIENTS = 16;
const RUN_MS = quick ? 1_500 : 5_000;
const STEADY_MS = quick ? 1_500 : 5_000;
const NODE_COUNTS = quick ? [1, 3] : [1, 2, 3];
/** Our partitions: 16 over 4 nodes is 4 each, so a join moves exactly a quarter of them. */
const PARTITIONS = 16;
const REDIS_SLOTS = 16_384;
const START_TIMEOUT_MS = 90_000;
const SETTLE_TIMEOUT_MS = 180_000;
const MAIN = new URL('../dist/main.js', import.meta.url).pathname;
const RESULTS_DIR = new URL('./results/', import.meta.url).pathname;

/** pollUntil, with a failed check (a server still starting refuses) counting as not yet. */
const waitFor = (check: () => Promise<boolean>, options: PollOptions) =>
  pollUntil(() => check().catch(() => false), options);

const key = (i: number) => `user:${i % KEYS}`;

/** One running cluster of either system, driven through its native client. */
interface RunningCluster {
  get(k: string): Promise<void>;
  put(k: string, v: Buffer): Promise<void>;
  pids(): number[];
  /** Starts one more node, idle: outside the measured rebalance (a process's start-up is
   *  provisioning, and on two cores it would be charged to the rebalance's tail). */
  prepare(): Promise<void>;
  /** Joins the prepared node and rebalances onto it; resolves when nothing is left to move.
   *  frozenMs: the mean time a moved partition took no requests (ours: freeze to flip). */
  grow(): Promise<{ keysMoved: number; frozenMs?: number; stageMs?: Record<string, number> }>;
  stop(): Promise<void>;
}

interface SystemUnderTest {
  name: string;
  /** Why it cannot run here, or null. */
  missing(): Promise<string | null>;
  start(nodes: number): Promise<RunningCluster>;
}

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('error', (e) => resolve({ code: -1, out: String(e) }));
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

function spawnServer(cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  child.on('error', () => {});
  return child;
}

async function stopAll(procs: ChildProcess[]): Promise<void> {
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          p.once('exit', () => resolve());
          p.kill('SIGKILL');
        }),
    ),
  );
}

/** The sum of a metric's series, or of those carrying `label` (e.g. `stage="sealing"`). */
async function metricSum(url: string, name: string, label?: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if (
      (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) &&
      (label === undefined || line.includes(label))
    )
      sum += Number(line.split(' ').pop());
  return sum;
}

const ours: SystemUnderTest = {
  name: 'ours (hash, 16 partitions)',
  missing: async () => null,
  async start(nodes) {
    const dir = await mkdtemp(join(tmpdir(), 'ddia-part-bench-'));
    const ports = await freePorts(nodes + 1);
    const urls = ports.map((p) => `http://127.0.0.1:${p}`);
    const peers = (n: number) =>
      urls
        .slice(0, n)
        .map((u, i) => `n${i + 1}=${u}`)
        .join(',');
    const procs: ChildProcess[] = [];
    const startNode = (i: number, join: boolean) =>
      procs.push(
        spawnServer(process.execPath, [
          MAIN,
          ...['--id', `n${i + 1}`, '--port', String(ports[i]), '--peers', join ? peers(i + 1) : peers(nodes)],
          ...['--scheme', 'hash', '--partitions', String(PARTITIONS), '--data-dir', `${dir}/n${i + 1}`],
          ...['--log-level', 'warn', ...(join ? ['--join'] : [])],
        ]),
      );
    for (let i = 0; i < nodes; i++) startNode(i, false);
    const up = urls.slice(0, nodes);
    const stop = async () => {
      await stopAll(procs);
      await rm(dir, { recursive: true, force: true });
    };
    try {
      await waitFor(
        async () => {
          const views = await Promise.all(up.map((u) => fetch(`${u}/cluster`).then((r) => r.json())));
          return views.every((v) => (v as { epoch: number }).epoch >= 1);
        },
        { what: 'our cluster to bootstrap', timeoutMs: START_TIMEOUT_MS, intervalMs: 200 },
      );
    } catch (error) {
      await stop();
      throw error;
    }
    const client = new PartitionedClient({ seeds: up, deadlineMs: 30_000 });
    const check = (status: number, ok: number[]) => {
      if (!ok.includes(status)) throw new Error(`answered ${status}`);
    };
    return {
      get: async (k) => check((await client.get(k)).status, [200, 404]),
      put: async (k, v) => check((await client.put(k, v)).status, [200, 201]),
      pids: () => procs.filter((p) => p.exitCode === null).map((p) => p.pid as number),
      async prepare() {
        startNode(nodes, true);
        await waitFor(async () => (await fetch(`${urls[nodes]}/health`)).ok, {
          what: 'the new node to listen',
          timeoutMs: START_TIMEOUT_MS,
          intervalMs: 100,
        });
      },
      async grow() {
        const newUrl = urls[nodes] as string;
        const all = [...up, newUrl];
        const sums = (name: string, label?: string) => Promise.all(all.map((u) => metricSum(u, name, label)));
        const before = await sums('partitioning_keys_copied_total');
        const joined = await fetch(`${up[0]}/cluster/nodes`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id: `n${nodes + 1}`, url: newUrl }),
        });
        if (!joined.ok) throw new Error(`join answered ${joined.status}: ${await joined.text()}`);
        await waitFor(
          async () => {
            const c = (await (await fetch(`${up[0]}/cluster`)).json()) as {
              nodes: unknown[];
              moves: { pending: unknown[] };
            };
            return c.nodes.length === nodes + 1 && c.moves.pending.length === 0;
          },
          { what: 'our moves to finish', timeoutMs: SETTLE_TIMEOUT_MS, intervalMs: 100 },
        );
        const after = await sums('partitioning_keys_copied_total');
        // Only this join's moves ran: the cluster was started for this measurement.
        const total = (values: number[]) => values.reduce((a, b) => a + b, 0);
        const frozenSeconds = total(await sums('partitioning_move_frozen_seconds_sum'));
        const moves = total(await sums('partitioning_move_frozen_seconds_count'));
        // What the frozen window is made of: the mean of each stage per move.
        const stageMs: Record<string, number> = {};
        for (const stage of ['copying', 'freezing', 'sealing', 'flipping']) {
          const seconds = total(await sums('partitioning_move_stage_seconds_sum', `stage="${stage}"`));
          if (moves > 0) stageMs[stage] = (seconds / moves) * 1000;
        }
        return {
          keysMoved: after.reduce((a, b, i) => a + b - (before[i] ?? 0), 0),
          ...(moves > 0 ? { frozenMs: (frozenSeconds / moves) * 1000, stageMs } : {}),
        };
      },
      async stop() {
        await client.close();
        await stop();
      },
    };
  },
};

const redis: SystemUnderTest = {
  name: 'Redis Cluster 7 (ioredis Cluster)',
  async missing() {
    for (const bin of ['redis-server', 'redis-cli'])
      if ((await run('which', [bin])).code !== 0)
        return `${bin} is not installed (Debian: apt-get install redis-server, which brings redis-cli)`;
    return null;
  },
  async start(nodes) {
    const dir = await mkdtemp(join(tmpdir(), 'ddia-redis-cluster-bench-'));
    const ports = await freePorts(nodes + 1);
    const procs: ChildProcess[] = [];
    const admins: Redis[] = [];
    const startNode = async (i: number): Promise<Redis> => {
      const nodeDir = `${dir}/r${i + 1}`;
      mkdirSync(nodeDir, { recursive: true });
      procs.push(
        spawnServer('redis-server', [
          ...['--port', String(ports[i]), '--bind', '127.0.0.1', '--dir', nodeDir],
          ...[
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '5000',
            // A lone node never learns its address from a MEET: say it, or CLUSTER SLOTS names ''.
            '--cluster-announce-ip',
            '127.0.0.1',
          ],
          // Same durability as ours: every acknowledged write is in the fsynced append-only file.
          ...['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
        ]),
      );
      const admin = new Redis({
        port: ports[i],
        host: '127.0.0.1',
        lazyConnect: true,
        retryStrategy: () => 100,
      });
      admin.on('error', () => {}); // refused while redis-server is still starting
      admins.push(admin);
      await waitFor(
        async () => {
          if (admin.status !== 'ready') await admin.connect().catch(() => undefined);
          return (await admin.ping().catch(() => '')) === 'PONG';
        },
        { what: 'redis-server to answer', timeoutMs: START_TIMEOUT_MS, intervalMs: 100 },
      );
      return admin;
    };
    const stop = async () => {
      for (const a of admins) a.disconnect();
      await stopAll(procs);
      await rm(dir, { recursive: true, force: true });
    };
    let cluster: Cluster | undefined;
    try {
      const first = await Promise.all(Array.from({ length: nodes }, (_, i) => startNode(i)));
      // Slots assigned by hand: `redis-cli --cluster create` insists on three masters at least.
      for (let i = 0; i < nodes; i++) {
        const from = Math.floor((i * REDIS_SLOTS) / nodes);
        const to = Math.floor(((i + 1) * REDIS_SLOTS) / nodes) - 1;
        await first[i]?.call('CLUSTER', 'ADDSLOTSRANGE', String(from), String(to));
        if (i > 0) await first[i]?.call('CLUSTER', 'MEET', '127.0.0.1', String(ports[0]));
      }
      await waitFor(
        async () => {
          const infos = await Promise.all(first.map((a) => a.call('CLUSTER', 'INFO') as Promise<string>));
          return infos.every(
            (t) => t.includes('cluster_state:ok') && t.includes(`cluster_known_nodes:${nodes}`),
          );
        },
        { what: 'Redis Cluster to be ok', timeoutMs: START_TIMEOUT_MS, intervalMs: 100 },
      );
      cluster = new Cluster([{ host: '127.0.0.1', port: ports[0] as number }], {
        scaleReads: 'master',
        slotsRefreshTimeout: 10_000,
        redisOptions: { enableAutoPipelining: false },
      });
      cluster.on('error', () => {});
      await waitFor(async () => (await cluster?.ping()) === 'PONG', {
        what: 'ioredis to load the slot map',
        timeoutMs: START_TIMEOUT_MS,
        intervalMs: 100,
      });
    } catch (error) {
      cluster?.disconnect();
      await stop();
      throw error;
    }
    const c = cluster;
    let added: Redis | undefined;
    return {
      get: async (k) => {
        await c.getBuffer(k);
      },
      put: async (k, v) => {
        if ((await c.set(k, v)) !== 'OK') throw new Error('SET did not answer OK');
      },
      pids: () => procs.filter((p) => p.exitCode === null).map((p) => p.pid as number),
      async prepare() {
        added = await startNode(nodes);
      },
      async grow() {
        if (!added) throw new Error('prepare() first');
        const admin = added;
        const at = (i: number) => `127.0.0.1:${ports[i]}`;
        // add-node refuses while the masters' views of the slots still differ (gossip settling
        // after the start): tried again until they agree.
        let addNode = { code: -1, out: '' };
        await waitFor(
          async () => {
            addNode = await run('redis-cli', ['--cluster', 'add-node', at(nodes), at(0)]);
            return addNode.out.includes('New node added correctly');
          },
          {
            what: `redis-cli --cluster add-node (last: ${addNode.out.slice(-200)})`,
            timeoutMs: START_TIMEOUT_MS,
            intervalMs: 500,
          },
        );
        // add-node returns once the new master is met; rebalance needs every node to know it (a
        // source that does not yet answers "I don't know about node").
        await waitFor(
          async () => {
            const infos = await Promise.all(admins.map((a) => a.call('CLUSTER', 'INFO')));
            // ...and the new one to see every slot covered (else it answers CLUSTERDOWN to MIGRATE).
            return infos.every(
              (t) =>
                String(t).includes(`cluster_known_nodes:${nodes + 1}`) &&
                String(t).includes('cluster_state:ok'),
            );
          },
          { what: 'every master to know the new one', timeoutMs: START_TIMEOUT_MS, intervalMs: 100 },
        );
        const balanced = await run('redis-cli', [
          '--cluster',
          'rebalance',
          at(0),
          '--cluster-use-empty-masters',
        ]);
        if (balanced.code !== 0) throw new Error(`rebalance failed: ${balanced.out.slice(-400)}`);
        return { keysMoved: Number(await admin.dbsize()) };
      },
      async stop() {
        c.disconnect();
        await stop();
      },
    };
  },
};

interface Window {
  latencies: number[];
  errors: number;
  startedAt: number;
  endedAt: number;
}

interface WindowSummary {
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function summarize(w: Window): WindowSummary {
  const l = [...w.latencies].sort((a, b) => a - b);
  const at = (q: number) => l[Math.min(l.length - 1, Math.floor(q * l.length))] ?? 0;
  return {
    opsPerSecond: l.length / ((w.endedAt - w.startedAt) / 1000),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    errors: w.errors,
  };
}

/** 16 clients running the mix until `stop()`; `cut()` closes the current window and opens the next. */
function drive(c: RunningCluster): { cut(): Window; stop(): Promise<Window> } {
  const open = (): Window => ({ latencies: [], errors: 0, startedAt: performance.now(), endedAt: 0 });
  let window = open();
  let running = true;
  let seq = 0;
  const loops = Array.from({ length: CLIENTS }, async () => {
    while (running) {
      const i = seq++;
      const w = window;
      const t = performance.now();
      try {
        if (i % 2 === 0) await c.put(key(i), VALUE);
        else await c.get(key(i));
        w.latencies.push(performance.now() - t);
      } catch {
        w.errors++;
      }
    }
  });
  const cut = () => {
    const done = window;
    done.endedAt = performance.now();
    window = open();
    return done;
  };
  return {
    cut,
    async stop() {
      running = false;
      await Promise.all(loops);
      return cut();
    },
  };
}

async function preload(c: RunningCluster): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < KEYS) await c.put(key(next++), VALUE);
    }),
  );
}

function usage(c: RunningCluster, cpuBefore: number | null) {
  const pids = c.pids();
  const cpu = processCpuMs(pids);
  const memory = processMemory(pids);
  return {
    serverCpuSeconds: cpu !== null && cpuBefore !== null ? (cpu - cpuBefore) / 1000 : null,
    rssMiB: memory ? Math.round(memory.rssMiB) : null,
  };
}

interface ThroughputResult extends WindowSummary {
  system: string;
  nodes: number;
  round: number;
  serverCpuSeconds: number | null;
  rssMiB: number | null;
  load1: number;
}

interface RebalanceResult {
  system: string;
  round: number;
  seconds: number;
  keysMoved: number;
  idealKeys: number;
  /** Mean time a moved partition took no requests (ours only). */
  frozenMs: number | null;
  /** Mean milliseconds per move in each stage (ours only). */
  stageMs: Record<string, number> | null;
  steady: WindowSummary;
  during: WindowSummary;
  rssMiB: number | null;
  load1: number;
}

async function throughput(system: SystemUnderTest, nodes: number, round: number): Promise<ThroughputResult> {
  const c = await system.start(nodes);
  try {
    await preload(c);
    const cpuBefore = processCpuMs(c.pids());
    const d = drive(c);
    await new Promise((r) => setTimeout(r, RUN_MS));
    const w = await d.stop();
    return {
      system: system.name,
      nodes,
      round,
      ...summarize(w),
      ...usage(c, cpuBefore),
      load1: loadavg()[0],
    };
  } finally {
    await c.stop();
  }
}

async function rebalance(system: SystemUnderTest, round: number): Promise<RebalanceResult> {
  const c = await system.start(3);
  try {
    await preload(c);
    await c.prepare();
    const d = drive(c);
    await new Promise((r) => setTimeout(r, STEADY_MS));
    const steady = d.cut();
    const t = performance.now();
    const { keysMoved, frozenMs, stageMs } = await c.grow().catch(async (error: unknown) => {
      await d.stop();
      throw error;
    });
    const seconds = (performance.now() - t) / 1000;
    const during = await d.stop();
    return {
      system: system.name,
      round,
      seconds,
      keysMoved,
      idealKeys: KEYS / 4,
      frozenMs: frozenMs ?? null,
      stageMs: stageMs ?? null,
      steady: summarize(steady),
      during: summarize(during),
      rssMiB: usage(c, null).rssMiB,
      load1: loadavg()[0],
    };
  } finally {
    await c.stop();
  }
}

/** Median with the min-max spread of the rounds, e.g. "1234 (1100-1300)". */
function spread(values: number[], digits = 0): string {
  const s = [...values].sort((a, b) => a - b);
  const median =
    s.length % 2
      ? (s[(s.length - 1) / 2] as number)
      : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
  const f = (x: number) => x.toFixed(digits);
  return s.length > 1 ? `${f(median)} (${f(s[0] as number)}-${f(s[s.length - 1] as number)})` : f(median);
}

const median = (values: number[]) => Number(spread(values, 6).split(' ')[0]);

const systems: SystemUnderTest[] = [ours];
const missing = ONLY_OURS ? 'not asked for (--ours-only)' : await redis.missing();
if (missing) console.log(`\nRedis Cluster peer skipped: ${missing}`);
else systems.push(redis);

/** Each run as it ends, on stderr (the tables come at the end, on stdout). */
const progress = (line: string) =>
  console.error(`[${new Date().toISOString().slice(11, 19)} load ${loadavg()[0].toFixed(1)}] ${line}`);
const loadAtStart = loadavg();
const throughputs: ThroughputResult[] = [];
const rebalances: RebalanceResult[] = [];
for (let round = 0; round < ROUNDS; round++) {
  // Alternate which system goes first, so that neither always runs on the warmer (or busier) machine.
  const order = round % 2 === 0 ? systems : [...systems].reverse();
  for (const nodes of ONLY_REBALANCE ? [] : NODE_COUNTS)
    for (const s of order) {
      const r = await throughput(s, nodes, round);
      throughputs.push(r);
      progress(
        `round ${round + 1} ${s.name} ${nodes} node(s): ${r.opsPerSecond.toFixed(0)} ops/s, p99 ${r.p99Ms.toFixed(1)} ms`,
      );
    }
  for (const s of order) {
    const r = await rebalance(s, round);
    rebalances.push(r);
    progress(
      `round ${round + 1} ${s.name} rebalance: ${r.seconds.toFixed(1)} s, ${r.keysMoved} keys moved, p99 ${r.steady.p99Ms.toFixed(1)} -> ${r.during.p99Ms.toFixed(1)} ms${r.frozenMs === null ? '' : `, frozen ${r.frozenMs.toFixed(0)} ms per move`}${
        r.stageMs === null
          ? ''
          : ` (${Object.entries(r.stageMs)
              .map(([k, v]) => `${k} ${v.toFixed(0)}`)
              .join(', ')})`
      }`,
    );
  }
}
const loadAtEnd = loadavg();

mkdirSync(RESULTS_DIR, { recursive: true });
const stamp = new Date().toISOString().slice(0, 16).replace(':', '-');
const file = `${RESULTS_DIR}redis-cluster-${quick ? 'quick-' : ''}${stamp}.json`;
writeFileSync(
  file,
  `${JSON.stringify(
    {
      settings: {
        quick,
        rounds: ROUNDS,
        keys: KEYS,
        valueBytes: VALUE.length,
        clients: CLIENTS,
        runMs: RUN_MS,
        steadyMs: STEADY_MS,
        partitions: PARTITIONS,
      },
      load: { start: loadAtStart, end: loadAtEnd },
      throughputs,
      rebalances,
    },
    null,
    2,
  )}\n`,
);

const load = `load average ${loadAtStart[0].toFixed(1)} at start, ${loadAtEnd[0].toFixed(1)} at end; 2 cores shared`;
if (!ONLY_REBALANCE) {
  console.log(
    `\n## Us vs Redis Cluster: throughput (${CLIENTS} clients, 50 % PUT / 50 % GET, ${KEYS} keys of 1 KiB, fsync per write, ${RUN_MS / 1000} s, ${ROUNDS} rounds: median (min-max); ${load})\n`,
  );
  console.log(
    '| nodes | system | ops/s | p50 ms | p99 ms | errors | server CPU s | RSS MiB | ours / Redis ops/s |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const nodes of NODE_COUNTS) {
    const of = (s: SystemUnderTest) => throughputs.filter((r) => r.system === s.name && r.nodes === nodes);
    const ratio =
      systems.length > 1
        ? (
            median(of(ours).map((r) => r.opsPerSecond)) / median(of(redis).map((r) => r.opsPerSecond))
          ).toFixed(2)
        : '-';
    for (const s of systems) {
      const rs = of(s);
      console.log(
        `| ${nodes} | ${s.name} | ${spread(rs.map((r) => r.opsPerSecond))} | ${spread(
          rs.map((r) => r.p50Ms),
          1,
        )} | ${spread(
          rs.map((r) => r.p99Ms),
          1,
        )} | ${rs.reduce((a, r) => a + r.errors, 0)} | ${spread(
          rs.map((r) => r.serverCpuSeconds ?? Number.NaN),
          1,
        )} | ${spread(rs.map((r) => r.rssMiB ?? Number.NaN))} | ${s === ours ? ratio : ''} |`,
      );
    }
  }
}
console.log(
  `\n## Us vs Redis Cluster: a fourth node joins a loaded 3-node cluster (${KEYS} keys; ideal move ${KEYS / 4} keys = 1/4; ${ROUNDS} rounds: median (min-max))\n`,
);
console.log(
  '| system | seconds to settle | keys moved | moved / ideal | steady p99 ms | p99 during ms | p99 during / steady | ops/s steady / during | errors during | frozen ms per move | RSS MiB after |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const s of systems) {
  const rs = rebalances.filter((r) => r.system === s.name);
  console.log(
    `| ${s.name} | ${spread(
      rs.map((r) => r.seconds),
      1,
    )} | ${spread(rs.map((r) => r.keysMoved))} | ${spread(
      rs.map((r) => r.keysMoved / r.idealKeys),
      2,
    )} | ${spread(
      rs.map((r) => r.steady.p99Ms),
      1,
    )} | ${spread(
      rs.map((r) => r.during.p99Ms),
      1,
    )} | ${spread(
      rs.map((r) => r.during.p99Ms / Math.max(0.001, r.steady.p99Ms)),
      2,
    )} | ${spread(rs.map((r) => r.steady.opsPerSecond))} / ${spread(rs.map((r) => r.during.opsPerSecond))} | ${rs.reduce((a, r) => a + r.during.errors, 0)} | ${rs.every((r) => r.frozenMs === null) ? '-' : spread(rs.map((r) => r.frozenMs ?? Number.NaN))} | ${spread(rs.map((r) => r.rssMiB ?? Number.NaN))} |`,
  );
}
console.log(`\nRaw results: ${file.slice(file.indexOf('bench/'))}`);
