// Prometheus-style scrape configuration (the subset static targets need):
//   global: { scrape_interval: 15s, scrape_timeout: 10s }
//   scrape_configs:
//     - job_name: kv-store
//       scrape_interval: 5s        # optional, overrides global
//       metrics_path: /metrics     # optional
//       static_configs:
//         - targets: ['127.0.0.1:7001', '127.0.0.1:7002']
//           labels: { cluster: kv }
// The YAML is parsed outside the core; this validates the resulting object with errors that
// name the offending key.
import { ConfigFileError } from './errors.js';
import { LABEL_NAME_RE } from './labels.js';
import { parseDurationMs } from './promql/lexer.js';

export const SCRAPE_INTERVAL_DEFAULT_MS = 15_000;
export const SCRAPE_TIMEOUT_DEFAULT_MS = 10_000;

export interface ScrapeTarget {
  job: string;
  /** host:port */
  address: string;
  metricsPath: string;
  intervalMs: number;
  timeoutMs: number;
  /** Labels attached to every sample: job, instance and the static labels. */
  labels: Record<string, string>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function duration(value: unknown, where: string, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = typeof value === 'string' ? parseDurationMs(value) : null;
  if (ms === null || ms <= 0)
    throw new ConfigFileError(`${where}: '${String(value)}' is not a duration like 15s or 1m`);
  return ms;
}

/** Validates a parsed config object; `defaultIntervalMs` is the service's --scrape-interval. */
export function parseScrapeConfig(
  doc: unknown,
  defaultIntervalMs = SCRAPE_INTERVAL_DEFAULT_MS,
): ScrapeTarget[] {
  if (doc === null || doc === undefined) return [];
  if (!isRecord(doc)) throw new ConfigFileError('the config must be a mapping with scrape_configs');
  const global = doc.global === undefined ? {} : doc.global;
  if (!isRecord(global)) throw new ConfigFileError('global must be a mapping');
  const globalInterval = duration(global.scrape_interval, 'global.scrape_interval', defaultIntervalMs);
  const globalTimeout = duration(
    global.scrape_timeout,
    'global.scrape_timeout',
    Math.min(SCRAPE_TIMEOUT_DEFAULT_MS, globalInterval),
  );
  const jobs = doc.scrape_configs ?? [];
  if (!Array.isArray(jobs)) throw new ConfigFileError('scrape_configs must be a list');
  const targets: ScrapeTarget[] = [];
  const jobNames = new Set<string>();
  jobs.forEach((job, i) => {
    const where = `scrape_configs[${i}]`;
    if (!isRecord(job)) throw new ConfigFileError(`${where} must be a mapping`);
    if (typeof job.job_name !== 'string' || job.job_name === '')
      throw new ConfigFileError(`${where}.job_name must be a non-empty string`);
    if (jobNames.has(job.job_name))
      throw new ConfigFileError(`${where}.job_name '${job.job_name}' appears twice`);
    const jobName = job.job_name;
    jobNames.add(jobName);
    const intervalMs = duration(job.scrape_interval, `${where}.scrape_interval`, globalInterval);
    const timeoutMs = duration(
      job.scrape_timeout,
      `${where}.scrape_timeout`,
      Math.min(globalTimeout, intervalMs),
    );
    if (timeoutMs > intervalMs)
      throw new ConfigFileError(`${where}.scrape_timeout must not exceed scrape_interval`);
    const metricsPath = job.metrics_path ?? '/metrics';
    if (typeof metricsPath !== 'string' || !metricsPath.startsWith('/'))
      throw new ConfigFileError(`${where}.metrics_path must start with /`);
    const statics = job.static_configs ?? [];
    if (!Array.isArray(statics)) throw new ConfigFileError(`${where}.static_configs must be a list`);
    statics.forEach((sc, j) => {
      const w = `${where}.static_configs[${j}]`;
      if (!isRecord(sc) || !Array.isArray(sc.targets))
        throw new ConfigFileError(`${w}.targets must be a list of host:port`);
      const labels = sc.labels ?? {};
      if (!isRecord(labels)) throw new ConfigFileError(`${w}.labels must be a mapping`);
      for (const [name, value] of Object.entries(labels)) {
        if (!LABEL_NAME_RE.test(name))
          throw new ConfigFileError(`${w}.labels: '${name}' is not a valid label name`);
        if (typeof value !== 'string') throw new ConfigFileError(`${w}.labels.${name} must be a string`);
      }
      for (const address of sc.targets) {
        if (typeof address !== 'string' || !/^[A-Za-z0-9.[\]:_-]+:\d+$/.test(address)) {
          throw new ConfigFileError(`${w}.targets: '${String(address)}' is not host:port`);
        }
        targets.push({
          job: jobName,
          address,
          metricsPath,
          intervalMs,
          timeoutMs,
          labels: { ...(labels as Record<string, string>), job: jobName, instance: address },
        });
      }
    });
  });
  return targets;
}
