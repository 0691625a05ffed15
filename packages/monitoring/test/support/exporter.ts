// A synthetic exporter with known series: every scrape increments `synthetic_requests_total`
// by 10 per code, sets `synthetic_temperature` to a known sequence and observes a histogram.
// `stop()` closes the port (the target goes down); `only` restricts the families exported.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Exporter {
  address: string;
  scrapes: number;
  /** Drops a series from the next scrapes (it should go stale). */
  hideGauge: boolean;
  stop(): Promise<void>;
}

/**
 * What a Raft node reports, under kv-store's metric names (packages/kv-store/src/metrics.ts), as
 * `kv_*` with the `node` label common adds; the test changes it between scrapes.
 */
export interface RaftState {
  node: string;
  term: number;
  commit: number;
  applied: number;
  leader: boolean;
  leaderChanges: number;
  /** Leader only: entries each follower is behind. */
  lag: Record<string, number>;
}

function raftLines(r: RaftState, scrapes: number): string[] {
  const node = `node="${r.node}"`;
  return [
    '# TYPE kv_raft_term gauge',
    `kv_raft_term{${node}} ${r.term}`,
    '# TYPE kv_raft_commit_index gauge',
    `kv_raft_commit_index{${node}} ${r.commit}`,
    '# TYPE kv_applied_index gauge',
    `kv_applied_index{${node}} ${r.applied}`,
    '# TYPE kv_raft_is_leader gauge',
    `kv_raft_is_leader{${node}} ${r.leader ? 1 : 0}`,
    '# TYPE kv_leader_changes_total counter',
    `kv_leader_changes_total{${node}} ${r.leaderChanges}`,
    '# TYPE kv_follower_lag_entries gauge',
    ...Object.entries(r.lag).map(([f, n]) => `kv_follower_lag_entries{${node},follower="${f}"} ${n}`),
    '# TYPE http_request_duration_seconds histogram',
    `http_request_duration_seconds_bucket{${node},route="/kv/:key",method="GET",status_code="200",le="0.01"} ${scrapes * 4}`,
    `http_request_duration_seconds_bucket{${node},route="/kv/:key",method="GET",status_code="200",le="+Inf"} ${scrapes * 5}`,
    `http_request_duration_seconds_sum{${node},route="/kv/:key",method="GET",status_code="200"} ${scrapes * 0.02}`,
    `http_request_duration_seconds_count{${node},route="/kv/:key",method="GET",status_code="200"} ${scrapes * 5}`,
  ];
}

/**
 * `raft` adds a Raft node's metrics (read at every scrape, so the test can change them).
 * `clockSkewMs` stamps every answer's `Date` header with a clock that far ahead of ours (a
 * skewed node, for the clock-offset estimator); `Date` is left to Node otherwise.
 */
export async function startExporter(
  port = 0,
  options: { clockSkewMs?: number; raft?: RaftState } = {},
): Promise<Exporter> {
  const state = { scrapes: 0, hideGauge: false };
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.statusCode = 404;
      res.end();
      return;
    }
    state.scrapes++;
    const n = state.scrapes;
    const lines = [
      '# HELP synthetic_requests_total Requests served.',
      '# TYPE synthetic_requests_total counter',
      `synthetic_requests_total{code="200"} ${n * 10}`,
      `synthetic_requests_total{code="500"} ${n}`,
      '# HELP synthetic_latency_seconds Request latency.',
      '# TYPE synthetic_latency_seconds histogram',
      `synthetic_latency_seconds_bucket{le="0.1"} ${n * 5}`,
      `synthetic_latency_seconds_bucket{le="0.5"} ${n * 9}`,
      `synthetic_latency_seconds_bucket{le="+Inf"} ${n * 10}`,
      `synthetic_latency_seconds_sum ${n * 2}`,
      `synthetic_latency_seconds_count ${n * 10}`,
      '# HELP synthetic_clash A label that clashes with a target label (becomes exported_job).',
      '# TYPE synthetic_clash gauge',
      'synthetic_clash{job="inner"} 1',
    ];
    if (!state.hideGauge) {
      lines.push(
        '# TYPE synthetic_temperature gauge',
        `synthetic_temperature{room="lab \\"A\\""} ${20 + (n % 5)}`,
      );
    }
    if (options.raft) lines.push(...raftLines(options.raft, n));
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    if (options.clockSkewMs !== undefined) {
      res.setHeader('date', new Date(Date.now() + options.clockSkewMs).toUTCString());
    }
    res.end(`${lines.join('\n')}\n`);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${bound}`,
    get scrapes() {
      return state.scrapes;
    },
    get hideGauge() {
      return state.hideGauge;
    },
    set hideGauge(v: boolean) {
      state.hideGauge = v;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A static scrape config for the given targets. */
export function scrapeConfigYaml(job: string, addresses: readonly string[], interval: string): string {
  return [
    'global:',
    `  scrape_interval: ${interval}`,
    'scrape_configs:',
    `  - job_name: ${job}`,
    '    static_configs:',
    `      - targets: [${addresses.map((a) => `'${a}'`).join(', ')}]`,
    '        labels:',
    '          lab: test',
    '',
  ].join('\n');
}
