// The PromQL corpus the differential test runs on Prometheus and on ours over the same data
// (test/support/lab-data.ts), instant queries at several times and range queries over the
// hour. Results must agree label set for label set; values within the tolerances below
// (summation order differs between the engines; NaN equals NaN).
export const RELATIVE_TOLERANCE = 1e-9;
export const ABSOLUTE_TOLERANCE = 1e-9;

export const INSTANT_QUERIES: readonly string[] = [
  'lab_requests_total',
  'lab_requests_total{job="api",code!="500"}',
  'lab_requests_total{instance=~"i[12]"}',
  'lab_temperature{instance!~"i3"}',
  'lab_temperature offset 10m',
  'lab_requests_total[2m]',
  'rate(lab_requests_total[5m])',
  'irate(lab_requests_total[5m])',
  'increase(lab_requests_total[10m])',
  'delta(lab_temperature[10m])',
  'sum by (job) (rate(lab_requests_total[5m]))',
  'sum without (instance, code) (rate(lab_requests_total[5m]))',
  'avg by (job) (lab_temperature)',
  'min(lab_temperature)',
  'max by (instance) (lab_temperature)',
  'count by (code) (lab_requests_total)',
  'topk(2, lab_temperature)',
  'topk(1, lab_temperature) by (job)',
  'quantile(0.9, lab_temperature)',
  'quantile by (job) (0.25, lab_temperature)',
  'histogram_quantile(0.9, sum by (le, job) (rate(lab_latency_seconds_bucket[5m])))',
  'histogram_quantile(0.5, rate(lab_latency_seconds_bucket[5m]))',
  'lab_temperature > 20',
  'lab_temperature >= bool 20',
  'lab_temperature - 20',
  '2 * lab_temperature + 1',
  'rate(lab_requests_total{code="500"}[5m]) / ignoring(code) rate(lab_requests_total{code="200"}[5m])',
  'sum by (job, instance) (rate(lab_requests_total[5m])) / on(job, instance) group_left lab_temperature',
  'lab_temperature * on(instance) group_left(version) lab_info',
  'abs(lab_temperature - 21)',
  'ceil(lab_temperature)',
  'round(lab_temperature, 0.5)',
  'clamp(lab_temperature, 19, 21)',
  'avg_over_time(lab_temperature[5m])',
  'min_over_time(lab_temperature[10m])',
  'max_over_time(lab_temperature[10m])',
  'sum_over_time(lab_temperature[5m])',
  'count_over_time(lab_requests_total[10m])',
  '1 + 2 * 3 ^ 2',
  'vector(1) + 1',
];

export const RANGE_QUERIES: readonly string[] = [
  'lab_temperature',
  'rate(lab_requests_total[5m])',
  'sum by (job) (increase(lab_requests_total[5m]))',
  'histogram_quantile(0.99, sum by (le) (rate(lab_latency_seconds_bucket[5m])))',
  'avg_over_time(lab_temperature[2m])',
  'max(lab_temperature) - min(lab_temperature)',
];
