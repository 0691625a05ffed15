// Experiment 1: single-leader replication across regions (the replication service,
// --mode single-leader, leader in the first region), with asynchronous, synchronous and
// quorum-synchronous followers (PostgreSQL's synchronous_standby_names: '' / 'FIRST 1 (far)' /
// 'ANY 1 (all followers)'). For each: the write latency a user in the leader's region sees, then
// a failover: the leader's region is cut off while its clients keep writing, the leader dies, a
// follower is promoted, and the acknowledged writes the new leader lacks are counted (DDIA ch. 5
// "Handling Node Outages": with asynchronous replication, acknowledged writes can be lost).
import { HttpClient } from '@ddia/common';
import type { Cluster } from '@ddia/testkit';
import { linkDelay } from '../core/latency-matrix.js';
import { type LatencySummary, summarize } from '../core/stats.js';
import { fmtMs, machineNote, Report } from '../report/report.js';
import { barChart } from '../report/svg-plot.js';
import { applyLink } from './apply-link.js';
import { measureOn, requireReplicationBuild, startReplicationCluster } from './replication-cluster.js';
import { type Experiment, ExperimentUsageError, type ResolvedOptions } from './types.js';

export const LATENCY_WRITES = 12;
export const LATENCY_WRITES_QUICK = 4;
export const FAILOVER_WRITES = 10;
const LEASE_MS = 2_000;
const REQUEST_TIMEOUT_MS = 2_000;
const EVENTUALLY_MS = 30_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface FailoverMode {
  name: string;
  /** --sync-standbys: '' (asynchronous), 'FIRST 1 (far)', 'ANY 1 (...)'. */
  standbys: string;
}

/** Asynchronous, synchronous with the far region, quorum of any one follower (leader first). */
export function failoverModes(regions: string[]): FailoverMode[] {
  const far = regions[2]!;
  const followers = regions.slice(1).join(', ');
  return [
    { name: 'async', standbys: '' },
    { name: `sync FIRST 1 (${far})`, standbys: `FIRST 1 (${far})` },
    { name: `quorum ANY 1 (${followers})`, standbys: `ANY 1 (${followers})` },
  ];
}

export interface FailoverOutcome {
  mode: string;
  write: LatencySummary;
  acked: number;
  refused: number;
  lost: number;
}

async function eventually(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + EVENTUALLY_MS;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (performance.now() > deadline) throw new Error(`${what}: not within ${EVENTUALLY_MS} ms`);
    await sleep(100);
  }
}

/** Runs a step on its own (e.g. one at a time among several clusters) or as it comes. */
export type Exclusive = <T>(step: () => Promise<T>) => Promise<T>;

/**
 * One mode on a fresh cluster: write latency in the leader's region, then the failover count.
 * `exclusive` wraps the latency measurement, so that several modes may run at once (each on its
 * own cluster) without one's start or failover adding to another's measured latencies.
 */
export async function measureFailover(
  options: ResolvedOptions,
  mode: FailoverMode,
  writes: number,
  http: HttpClient,
  exclusive: Exclusive = (step) => step(),
): Promise<FailoverOutcome> {
  const regions = options.regions;
  const [leader, next] = regions as [string, string];
  // The killed leader is never restarted, so nothing here depends on its (in-memory) journal.
  const cluster: Cluster = await startReplicationCluster(
    regions,
    [
      '--mode',
      'single-leader',
      '--leader',
      leader,
      '--sync-standbys',
      mode.standbys,
      '--lease-ms',
      String(LEASE_MS),
      '--request-timeout-ms',
      String(REQUEST_TIMEOUT_MS),
    ],
    options.seed,
  );
  const put = (node: string, key: string) =>
    http.request(`${cluster.node(node).url}/kv/${encodeURIComponent(key)}`, {
      method: 'PUT',
      body: key,
      headers: { 'content-type': 'text/plain' },
      retry: false,
    });
  return measureOn(cluster, null, async () => {
    for (const from of regions)
      for (const to of regions) {
        if (from === to) continue;
        const d = linkDelay(options.matrix, from, to);
        applyLink(cluster.proxies(), from, to, d);
      }
    await eventually(
      'the leader takes writes',
      async () => (await put(leader, `${mode.name}/warm`)).status === 200,
    );
    const latencies = await exclusive(async () => {
      const ms: number[] = [];
      for (let i = 0; i < writes; i++) {
        const started = performance.now();
        const res = await put(leader, `${mode.name}/w${i}`);
        if (res.status !== 200) throw new Error(`write ${i} in ${mode.name}: ${res.status} ${res.text()}`);
        ms.push(performance.now() - started);
      }
      return ms;
    });
    // Everything so far has reached the follower that will take over.
    await eventually('the follower has caught up', async () => {
      const res = await http.request(
        `${cluster.node(next).url}/kv/${encodeURIComponent(`${mode.name}/w${writes - 1}`)}`,
      );
      return res.status === 200;
    });
    const others = regions.filter((r) => r !== leader);
    cluster.proxies().partition([[leader], others], 'reset');
    const acked: string[] = [];
    let refused = 0;
    await Promise.all(
      Array.from({ length: FAILOVER_WRITES }, async (_, i) => {
        const key = `${mode.name}/during-${i}`;
        const res = await put(leader, key).catch(() => null);
        if (res?.status === 200) acked.push(key);
        else refused++;
      }),
    );
    await cluster.node(leader).kill();
    cluster.proxies().heal();
    const promoted = await http.request(`${cluster.node(next).url}/cluster/promote`, {
      method: 'POST',
      retry: false,
    });
    if (promoted.status !== 200) throw new Error(`promote ${next}: ${promoted.status} ${promoted.text()}`);
    await eventually(
      'the new leader takes writes',
      async () => (await put(next, `${mode.name}/after`)).status === 200,
    );
    let lost = 0;
    for (const key of acked) {
      const res = await http.request(`${cluster.node(next).url}/kv/${encodeURIComponent(key)}`);
      if (res.status !== 200) lost++;
    }
    return { mode: mode.name, write: summarize(latencies), acked: acked.length, refused, lost };
  });
}

export const leaderFailover: Experiment = {
  name: 'leader-failover',
  description:
    'Single-leader across regions (replication service): async vs sync vs quorum-sync followers — write latency in the leader region, acknowledged writes lost on failover',
  async run(options: ResolvedOptions) {
    requireReplicationBuild();
    const regions = options.regions;
    if (regions.length < 3)
      throw new ExperimentUsageError('leader-failover needs 3 regions (leader, takeover, far)');
    const [leader, next] = regions as [string, string, string];
    const modes = failoverModes(regions);
    const writes = options.quick ? LATENCY_WRITES_QUICK : LATENCY_WRITES;
    const http = new HttpClient({ deadlineMs: REQUEST_TIMEOUT_MS + 3_000, retries: 0 });
    const outcomes: FailoverOutcome[] = [];
    try {
      for (const [k, mode] of modes.entries()) {
        options.progress(k / modes.length, `${mode.name}: start, measure, fail over`);
        outcomes.push(await measureFailover(options, mode, writes, http));
      }
    } finally {
      await http.close();
    }
    const report = new Report(
      options.out,
      `Single-leader across regions: ${regions.join(', ')} (${options.matrix.name} matrix)`,
    );
    report.paragraph(
      `The replication service in single-leader mode, leader in ${leader}, one node per region behind the fault proxy ` +
        `(lease ${LEASE_MS} ms, synchronous wait ${REQUEST_TIMEOUT_MS} ms, journals in memory so that no fsync is in the ` +
        `path). ${writes} sequential writes by a user in ${leader}; ` +
        `then ${leader} is cut off from the others while ${FAILOVER_WRITES} concurrent clients keep writing to it, it is killed, ` +
        `and ${next} is promoted. "Lost" counts writes ${leader} acknowledged during the cut that ${next} does not have. Seed ${options.seed}.`,
    );
    report.table(
      ['followers', 'write p50', 'write max', 'acked during cut', 'refused / timed out', 'acked and lost'],
      outcomes.map((o) => [o.mode, fmtMs(o.write.p50Ms), fmtMs(o.write.maxMs), o.acked, o.refused, o.lost]),
    );
    report.paragraph(
      'Asynchronous followers answer at local speed and lose what the cut-off leader acknowledged; a synchronous ' +
        'follower in the far region makes every write wait for that round trip and loses nothing; quorum commit ' +
        '(any one follower) waits only for the nearest and loses nothing either, as long as the promoted node is one that ' +
        'confirmed (here the nearest, which is also the one promoted).',
    );
    await report.plot(
      'write-latency.svg',
      barChart({
        title: `Write latency p50 in ${leader} by replication mode`,
        yLabel: 'ms',
        categories: outcomes.map((o) => o.mode),
        series: [{ name: 'write p50', values: outcomes.map((o) => o.write.p50Ms) }],
      }),
      'write latency by mode',
    );
    report.paragraph(machineNote());
    options.progress(1, 'done');
    const reportPath = await report.write();
    return { name: 'leader-failover', reportPath, files: report.files, markdown: report.markdown() };
  },
};
