// Experiment 5: Raft across regions. One kv-store node per region (real processes through
// testkit's harness), every node-to-node link delayed by the region matrix through the fault
// proxy. The leader is moved to each region in turn; a user in every region talks to the node in
// their own region and measures:
//   - writes (forwarded to the leader inside Raft, committed by a majority, answered once the
//     local node applies them),
//   - linearizable reads (ReadIndex: a round trip to the leader), and
//   - follower reads (?consistency=serializable: answered locally, no round trip)
// and what follower reads give up: right after a write is acknowledged in the leader's region, how
// often does a serializable read in another region still miss it, and how long until it shows.
// (Spanner and CockroachDB place leaders near their users and offer follower reads for the same
// reason; DDIA ch. 5 "Reading your own writes", ch. 9 "Linearizability".)
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HttpClient } from '@ddia/common';
import { type Cluster, startCluster } from '@ddia/testkit';
import { linkDelay, rttMs } from '../core/latency-matrix.js';
import { type LatencySummary, summarize } from '../core/stats.js';
import { fmtMs, fmtPct, machineNote, Report } from '../report/report.js';
import { barChart, linePlot } from '../report/svg-plot.js';
import { applyLink } from './apply-link.js';
import { type Experiment, ExperimentUsageError, type ResolvedOptions } from './types.js';

/** The built kv-store (packages/kv-store/dist/main.js), from src/experiments or dist/experiments alike. */
export const KV_MAIN_JS = fileURLToPath(new URL('../../../kv-store/dist/main.js', import.meta.url));

export const OPS_PER_USER = 12;
export const OPS_PER_USER_QUICK = 4;
export const PROBES_PER_REGION = 12;
export const PROBES_PER_REGION_QUICK = 4;
const TICK_MS = 50;
/** Election timeout 1-2 s: well above the slowest WAN round trip, so leaders stay put. */
const ELECTION_TICKS = 20;
const REQUEST_TIMEOUT_MS = 10_000;
const LEADER_WAIT_MS = 30_000;
/** How long a follower read is polled for the new value before it counts as "not within". */
const VISIBILITY_WAIT_MS = 3_000;
const VISIBILITY_POLL_MS = 2;

interface NodeStatus {
  id: string;
  role: string;
  leaderId: string | null;
  term: number;
}

export interface PlacementResult {
  leader: string;
  /** Per user region. */
  users: {
    region: string;
    write: LatencySummary;
    linearizableRead: LatencySummary;
    serializableRead: LatencySummary;
  }[];
  /** Per follower region: a serializable read right after a write acknowledged at the leader. */
  staleness: {
    region: string;
    probes: number;
    staleAtAck: number;
    /** ms from the writer's ack until the follower read returned the new value. */
    visibleAfterMs: number[];
  }[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class KvClient {
  private readonly http = new HttpClient({ deadlineMs: REQUEST_TIMEOUT_MS + 2_000, retries: 0 });

  async status(url: string): Promise<NodeStatus | undefined> {
    try {
      return await this.http.json<NodeStatus>(`${url}/cluster/node`, { retry: false, deadlineMs: 2_000 });
    } catch {
      return undefined;
    }
  }

  async put(url: string, key: string, value: string): Promise<number> {
    const started = performance.now();
    const res = await this.http.request(`${url}/kv/${encodeURIComponent(key)}`, {
      method: 'PUT',
      body: Buffer.from(value),
      retry: false,
    });
    const ms = performance.now() - started;
    if (res.status !== 200 && res.status !== 201)
      throw new Error(`PUT ${key} at ${url}: ${res.status} ${res.text()}`);
    return ms;
  }

  /** The value (null when absent) and the latency. */
  async get(url: string, key: string, serializable: boolean): Promise<{ value: string | null; ms: number }> {
    const started = performance.now();
    const q = serializable ? '?consistency=serializable' : '';
    const res = await this.http.request(`${url}/kv/${encodeURIComponent(key)}${q}`, { retry: false });
    const ms = performance.now() - started;
    if (res.status === 404) return { value: null, ms };
    if (res.status !== 200) throw new Error(`GET ${key} at ${url}: ${res.status} ${res.text()}`);
    return { value: res.text(), ms };
  }

  async transferLeader(url: string, to: string): Promise<void> {
    const res = await this.http.request(`${url}/cluster/transfer-leader`, {
      method: 'POST',
      body: { to },
      retry: false,
    });
    if (res.status !== 200) throw new Error(`transfer-leader to ${to}: ${res.status} ${res.text()}`);
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}

async function leaderOf(cluster: Cluster, kv: KvClient): Promise<string | null> {
  for (const node of cluster.nodes) {
    const s = await kv.status(node.directUrl);
    if (s?.role === 'leader') return s.id;
  }
  return null;
}

/** Moves leadership to `target` and waits until every node agrees. */
async function placeLeader(cluster: Cluster, kv: KvClient, target: string): Promise<void> {
  const deadline = performance.now() + LEADER_WAIT_MS;
  for (;;) {
    const leader = await leaderOf(cluster, kv);
    if (leader === target) {
      const views = await Promise.all(cluster.nodes.map((n) => kv.status(n.directUrl)));
      if (views.every((v) => v?.leaderId === target)) return;
    } else if (leader !== null) {
      await kv.transferLeader(cluster.node(leader).directUrl, target).catch(() => undefined);
    }
    if (performance.now() > deadline)
      throw new Error(`leadership did not move to ${target} within ${LEADER_WAIT_MS} ms`);
    await sleep(100);
  }
}

export async function measurePlacement(
  cluster: Cluster,
  kv: KvClient,
  leader: string,
  regions: string[],
  ops: number,
  probes: number,
  progress: (message: string) => void,
): Promise<PlacementResult> {
  await placeLeader(cluster, kv, leader);
  const users: PlacementResult['users'] = [];
  for (const region of regions) {
    progress(`leader ${leader}: user in ${region}`);
    const url = cluster.node(region).url;
    const writes: number[] = [];
    const lin: number[] = [];
    const ser: number[] = [];
    const key = `geo/${leader}/${region}`;
    // One warm-up of each kind: connections through the proxy are opened here, not measured.
    await kv.put(url, key, 'warm');
    await kv.get(url, key, false);
    for (let i = 0; i < ops; i++) writes.push(await kv.put(url, key, `v${i}`));
    for (let i = 0; i < ops; i++) lin.push((await kv.get(url, key, false)).ms);
    for (let i = 0; i < ops; i++) ser.push((await kv.get(url, key, true)).ms);
    users.push({
      region,
      write: summarize(writes),
      linearizableRead: summarize(lin),
      serializableRead: summarize(ser),
    });
  }
  const staleness: PlacementResult['staleness'] = [];
  const leaderUrl = cluster.node(leader).url;
  for (const region of regions) {
    if (region === leader) continue;
    progress(`leader ${leader}: follower reads in ${region} right after a write`);
    const readerUrl = cluster.node(region).url;
    const key = `geo/probe/${leader}/${region}`;
    await kv.put(leaderUrl, key, 'warm');
    await kv.get(readerUrl, key, true);
    let staleAtAck = 0;
    const visibleAfterMs: number[] = [];
    for (let i = 0; i < probes; i++) {
      const value = `p${i}`;
      await kv.put(leaderUrl, key, value);
      const ackAt = performance.now();
      let first = true;
      for (;;) {
        const read = await kv.get(readerUrl, key, true);
        if (read.value === value) {
          visibleAfterMs.push(performance.now() - ackAt);
          break;
        }
        if (first) staleAtAck++;
        first = false;
        if (performance.now() - ackAt > VISIBILITY_WAIT_MS) {
          visibleAfterMs.push(Number.POSITIVE_INFINITY);
          break;
        }
        await sleep(VISIBILITY_POLL_MS);
      }
    }
    staleness.push({ region, probes, staleAtAck, visibleAfterMs });
  }
  return { leader, users, staleness };
}

export async function startRegionCluster(options: ResolvedOptions): Promise<Cluster> {
  if (!existsSync(KV_MAIN_JS))
    throw new ExperimentUsageError(`${KV_MAIN_JS} is missing: build the kv-store first (pnpm build)`);
  const regions = options.regions;
  const cluster = await startCluster({
    nodes: regions,
    proxied: true,
    proxySeed: options.seed,
    readyTimeoutMs: 60_000,
    command: (spec) => ({
      args: [
        KV_MAIN_JS,
        ...spec.flags,
        '--engine',
        'memory',
        '--log-level',
        'warn',
        '--tick-ms',
        String(TICK_MS),
        '--election-ticks',
        String(ELECTION_TICKS),
        '--request-timeout-ms',
        String(REQUEST_TIMEOUT_MS),
      ],
      env: { NODE_ENV: 'production' },
    }),
  });
  const network = cluster.proxies();
  for (const from of regions)
    for (const to of regions) {
      if (from === to) continue;
      const d = linkDelay(options.matrix, from, to);
      applyLink(network, from, to, d);
    }
  // A user reaches the node of their own region: the client links get the intra-region delay.
  for (const region of regions) network.latency('client', region, options.matrix.intra.latencyMs, 0);
  return cluster;
}

export const raftRegions: Experiment = {
  name: 'raft-regions',
  description:
    'Raft kv-store with one node per region, the leader in each region in turn: write/read latency per user region, and what follower reads (?consistency=serializable) give up',
  async run(options: ResolvedOptions) {
    const ops = options.quick ? OPS_PER_USER_QUICK : OPS_PER_USER;
    const probes = options.quick ? PROBES_PER_REGION_QUICK : PROBES_PER_REGION;
    const regions = options.regions;
    const m = options.matrix;
    const steps = regions.length * (regions.length * 2 - 1);
    let step = 0;
    options.progress(0, `starting ${regions.length} kv-store nodes (${regions.join(', ')})`);
    const cluster = await startRegionCluster(options);
    const kv = new KvClient();
    const results: PlacementResult[] = [];
    try {
      for (const leader of regions) {
        results.push(
          await measurePlacement(cluster, kv, leader, regions, ops, probes, (message) =>
            options.progress(0.02 + (0.98 * step++) / steps, message),
          ),
        );
      }
    } catch (err) {
      const tails = await cluster.logTails(20);
      throw new Error(`${(err as Error).message}\n${tails}`);
    } finally {
      await kv.close();
      await cluster.close();
    }

    const report = new Report(options.out, `Raft across regions: ${regions.join(', ')} (${m.name} matrix)`);
    report.paragraph(
      `One kv-store node per region (Raft, in-memory engine, tick ${TICK_MS} ms), every node-to-node path ` +
        `delayed through testkit's fault proxy; a user talks to their own region's node (${m.intra.latencyMs} ms). ` +
        `${ops} sequential operations of each kind per user region and leader placement, after one warm-up; ` +
        `${probes} follower-read probes per region. Seed ${options.seed}. Latencies are medians (p50) and maxima in ms.`,
    );
    report.heading('Round-trip times between regions');
    report.table(
      ['from \\ to', ...regions],
      regions.map((a) => [a, ...regions.map((b) => (a === b ? '–' : fmtMs(rttMs(m, a, b))))]),
    );
    for (const r of results) {
      report.heading(`Leader in ${r.leader}`);
      report.table(
        [
          'user in',
          'write p50',
          'write max',
          'linearizable read p50',
          'lin. max',
          'follower read p50',
          'follower max',
        ],
        r.users.map((u) => [
          u.region,
          fmtMs(u.write.p50Ms),
          fmtMs(u.write.maxMs),
          fmtMs(u.linearizableRead.p50Ms),
          fmtMs(u.linearizableRead.maxMs),
          fmtMs(u.serializableRead.p50Ms),
          fmtMs(u.serializableRead.maxMs),
        ]),
      );
      report.table(
        [
          'follower region',
          'stale right after the ack',
          'visible after p50',
          'visible after max',
          'RTT to leader',
        ],
        r.staleness.map((s) => {
          const vis = summarize(
            s.visibleAfterMs.filter(Number.isFinite).length
              ? s.visibleAfterMs.filter(Number.isFinite)
              : [Number.NaN],
          );
          return [
            s.region,
            `${s.staleAtAck}/${s.probes} (${fmtPct(s.staleAtAck / s.probes, 0)})`,
            fmtMs(vis.p50Ms),
            fmtMs(vis.maxMs),
            fmtMs(rttMs(m, s.region, r.leader)),
          ];
        }),
      );
    }
    report.heading('What to read from it');
    report.paragraph(
      'A write costs a user at least the round trip from the leader to its nearest follower (the majority of ' +
        'three), plus the hop to the leader and back when the user is elsewhere. A linearizable read pays a ' +
        'round trip too, even at the leader: ReadIndex (Raft dissertation §6.4) confirms leadership with a ' +
        'majority before answering, so it costs about what a write does (`--read-only lease` trades that ' +
        'round trip for a clock assumption). A follower read (`?consistency=serializable`) answers from the ' +
        'local replica in a few ms anywhere, but right after a write acknowledged in the leader region it ' +
        'misses it until the commit index reaches that follower: about one one-way delay from the leader, ' +
        'plus up to a heartbeat tick.',
    );
    await report.plot(
      'write-latency.svg',
      barChart({
        title: 'Write latency p50 by user region, per leader placement',
        yLabel: 'ms',
        categories: regions.map((r) => `user in ${r}`),
        series: results.map((r) => ({
          name: `leader in ${r.leader}`,
          values: r.users.map((u) => u.write.p50Ms),
        })),
      }),
      'write latency per region',
    );
    await report.plot(
      'read-latency.svg',
      barChart({
        title: 'Read latency p50: linearizable vs follower read',
        yLabel: 'ms',
        categories: results.flatMap((r) => r.users.map((u) => `${u.region}/L=${r.leader}`)),
        series: [
          {
            name: 'linearizable (ReadIndex)',
            values: results.flatMap((r) => r.users.map((u) => u.linearizableRead.p50Ms)),
          },
          {
            name: 'follower read (serializable)',
            values: results.flatMap((r) => r.users.map((u) => u.serializableRead.p50Ms)),
          },
        ],
        width: 900,
      }),
      'read latency per region',
    );
    const curves = results.flatMap((r) =>
      r.staleness.map((s) => {
        const sorted = [...s.visibleAfterMs].sort((a, b) => a - b);
        return {
          name: `leader ${r.leader} → ${s.region}`,
          points: [{ x: 0, y: 1 - s.staleAtAck / s.probes }].concat(
            sorted.filter(Number.isFinite).map((t, i) => ({ x: t, y: (i + 1) / sorted.length })),
          ),
        };
      }),
    );
    await report.plot(
      'follower-visibility.svg',
      linePlot({
        title: 'Follower read: P(sees the write) t ms after its ack',
        xLabel: 't after the ack in the leader region (ms)',
        yLabel: 'P(visible)',
        series: curves,
        yMax: 1,
      }),
      'follower read visibility',
    );
    report.paragraph(machineNote());
    options.progress(1, 'done');
    const reportPath = await report.write();
    return { name: 'raft-regions', reportPath, files: report.files, markdown: report.markdown() };
  },
};
