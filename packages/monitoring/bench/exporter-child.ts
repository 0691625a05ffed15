// A child process for the scrape bench: T synthetic targets on T ports, each exporting S series
// that change at every scrape (counters, gauges with one decimal, a 10-bucket histogram), so both
// scrapers ingest the same kind of data from the same endpoints. Prints the ports as JSON.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const targets = Number(process.argv[2] ?? 2);
const seriesPerTarget = Number(process.argv[3] ?? 500);
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

function exposition(target: number, scrape: number): string {
  const lines: string[] = [];
  const histogramSeries = BUCKETS.length + 3;
  const rest = Math.max(0, seriesPerTarget - histogramSeries);
  const counters = Math.ceil(rest / 2);
  lines.push('# HELP bench_requests_total Requests.', '# TYPE bench_requests_total counter');
  for (let i = 0; i < counters; i++) {
    // Each counter grows by a different, deterministic step: rates differ per series.
    lines.push(`bench_requests_total{path="/p${i}"} ${scrape * ((i % 17) + 1) + target}`);
  }
  lines.push('# HELP bench_temperature A gauge.', '# TYPE bench_temperature gauge');
  for (let i = 0; i < rest - counters; i++) {
    lines.push(`bench_temperature{sensor="s${i}"} ${(20 + ((scrape * 7 + i * 13) % 100) / 10).toFixed(1)}`);
  }
  lines.push('# HELP bench_latency_seconds Latency.', '# TYPE bench_latency_seconds histogram');
  let cumulative = 0;
  BUCKETS.forEach((le, b) => {
    cumulative += scrape * (b + 1);
    lines.push(`bench_latency_seconds_bucket{le="${le}"} ${cumulative}`);
  });
  lines.push(`bench_latency_seconds_bucket{le="+Inf"} ${cumulative + scrape}`);
  lines.push(`bench_latency_seconds_sum ${scrape * 3.5}`);
  lines.push(`bench_latency_seconds_count ${cumulative + scrape}`);
  return `${lines.join('\n')}\n`;
}

const ports: number[] = [];
for (let t = 0; t < targets; t++) {
  // Both scrapers fetch each target: a per-scraper counter keeps each one's view monotonic.
  const scrapes = new Map<string, number>();
  const server = createServer((req, res) => {
    const who = String(req.headers['user-agent'] ?? '');
    const n = (scrapes.get(who) ?? 0) + 1;
    scrapes.set(who, n);
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(exposition(t, n));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ports.push((server.address() as AddressInfo).port);
}
process.stdout.write(`${JSON.stringify(ports)}\n`);
