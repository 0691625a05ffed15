// The corpus of the live differential run (prometheus-diff.test.ts, "scraping a kv-store
// cluster"): Prometheus and ours scrape the same three kv-store processes every second while a
// client writes and reads, then both answer these queries. The two scrapers sample at different
// moments, so each query says what can be compared and with which tolerance, and why.
//
// - exact: the query reads counters the load moved and that stopped moving before the query
//   time (the load ended several scrapes earlier), or gauges that do not move (term, leader):
//   both scrapers stored the same final values.
// - delta: what the load added, as the difference of a counter now and `offset W` (the window's
//   start: after the warm-up, before the load), both times in flat stretches, so exact up to
//   floating-point error — a latency quantile or mean of the load itself. (The same over rate()
//   is not exact: Prometheus's extrapolation stops at a counter's estimated zero point, which
//   depends on each series' first value, so its scale differs per series and per scraper.)
// - extrapolated: a rate/increase over that window: the extrapolation to the window's edges
//   uses each scraper's own first and last sample times, which differ by up to one scrape
//   interval (1 s) in a window of at least 12 s.
// - labels: values move between the two scrapes (memory, CPU, scrape duration): the same
//   series must be there, the values are not compared.
//
// Left out everywhere: prom-client's nodejs_active_{handles,requests,resources}, whose `type`
// label values exist only while such a libuv request is in flight at the scrape's instant, so one
// scraper can catch a type the other never sees.

/** Routes of the load; raft's own messages and the scrapes keep the other routes' counters moving. */
const KV = 'job="kv",route=~"/kv.*"';

export type LabCheck = 'exact' | 'delta' | 'extrapolated' | 'labels';

/** Relative tolerance per check (absolute 1e-9 on top of each). */
export const LAB_TOLERANCE: Record<LabCheck, number> = {
  exact: 0,
  delta: 1e-9,
  // One interval over the shortest window's 12 s (8 %), with room for a late scrape.
  extrapolated: 0.25,
  labels: Number.POSITIVE_INFINITY,
};

/** `W`: the window from before the load to after it, in seconds (the test fills it in). */
/** Series names the comparison leaves out (see above); each system's own extras too. */
export const LAB_UNCOMPARABLE_RE =
  /^(nodejs_active_(handles|requests|resources)|scrape_series_added|scrape_samples_post_metric_relabeling|monitoring_.*)$/;

export const LAB_QUERIES: readonly { query: string; check: LabCheck }[] = [
  { query: 'up{job="kv"}', check: 'exact' },
  {
    query: `sum by (instance, method, route, status_code) (http_request_duration_seconds_count{${KV}})`,
    check: 'exact',
  },
  { query: `sum by (instance, le) (http_request_duration_seconds_bucket{${KV}})`, check: 'exact' },
  {
    query: `histogram_quantile(0.9, sum by (le) (http_request_duration_seconds_bucket{${KV}}))`,
    check: 'exact',
  },
  { query: 'kv_proposals_total{job="kv"}', check: 'exact' },
  { query: 'max(kv_raft_commit_index{job="kv"})', check: 'exact' },
  { query: 'kv_raft_term{job="kv"}', check: 'exact' },
  { query: 'sum(kv_raft_is_leader{job="kv"})', check: 'exact' },
  {
    query: `count by (__name__) ({job="kv",__name__!~"${LAB_UNCOMPARABLE_RE.source.slice(1, -1)}"})`,
    check: 'exact',
  },
  {
    query: `histogram_quantile(0.9, sum by (le) (http_request_duration_seconds_bucket{${KV}}) - sum by (le) (http_request_duration_seconds_bucket{${KV}} offset W))`,
    check: 'delta',
  },
  {
    query: `histogram_quantile(0.5, sum by (le, instance) (http_request_duration_seconds_bucket{${KV}}) - sum by (le, instance) (http_request_duration_seconds_bucket{${KV}} offset W))`,
    check: 'delta',
  },
  {
    query: `(sum by (instance) (http_request_duration_seconds_sum{${KV}}) - sum by (instance) (http_request_duration_seconds_sum{${KV}} offset W)) / (sum by (instance) (http_request_duration_seconds_count{${KV}}) - sum by (instance) (http_request_duration_seconds_count{${KV}} offset W))`,
    check: 'delta',
  },
  {
    query: `histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket{${KV}}[W])))`,
    check: 'extrapolated',
  },
  {
    query: `sum by (instance) (increase(http_request_duration_seconds_count{${KV}}[W]))`,
    check: 'extrapolated',
  },
  { query: 'sum(rate(kv_proposals_total{job="kv"}[W]))', check: 'extrapolated' },
  { query: 'scrape_duration_seconds{job="kv"}', check: 'labels' },
  { query: 'scrape_samples_scraped{job="kv"} > 0', check: 'labels' },
  { query: 'process_resident_memory_bytes{job="kv"}', check: 'labels' },
];
