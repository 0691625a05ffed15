// The monitoring service: scrape loop -> TSDB (disk with --data-dir, else memory) -> PromQL on
// Prometheus's HTTP API, alert rules evaluated on a schedule, φ accrual failure detection over
// the scrapes, and a dashboard at /. main.ts starts one from flags; tests start it in-process.
import { readFile } from 'node:fs/promises';
import {
  type Config,
  createService,
  type FlagSpec,
  type Service,
  SkewableClock,
  SystemClock,
  sendProblem,
  type TimerClock,
} from '@ddia/common';
import { Gauge } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import { WebhookNotifier } from './alerting/webhook.js';
import { errorBody } from './core/api-format.js';
import { ConfigFileError } from './core/errors.js';
import { normalizeLabels } from './core/labels.js';
import { PromqlEngine } from './core/promql/engine.js';
import { parseDurationMs } from './core/promql/lexer.js';
import type { Sample } from './core/promql/values.js';
import { AlertingRule, newRule, parseRuleFile, type Rule } from './core/rules.js';
import { parseScrapeConfig, type ScrapeTarget } from './core/scrape-config.js';
import { FailureWatch } from './failure-watch.js';
import { registerApiRoutes } from './http/api.js';
import { registerDashboard } from './http/dashboard.js';
import { registerOtlpRoutes } from './otlp/routes.js';
import { Scraper } from './scrape/scraper.js';
import { DiskTsdb, RETENTION_DEFAULT_MS } from './storage/disk-tsdb.js';
import { MemoryStorage, type TsdbStorage } from './storage/memory-storage.js';
import { TRACE_RETENTION_DEFAULT_MS, Traces } from './storage/trace-log.js';

export const MONITORING_FLAGS = {
  targets: {
    type: 'string',
    description: 'Prometheus-style scrape config (YAML: scrape_configs with static_configs)',
  },
  scrape: {
    type: 'string',
    description:
      "targets without a file: 'job=host:port,host:port;job2=host:port' (ddia start passes the lab's services); added to --targets",
  },
  rules: { type: 'string', description: 'Prometheus rule file (alerting and recording rules)' },
  'alert-webhook': {
    type: 'string',
    description:
      'POST Alertmanager-style webhook JSON here when alerts fire or resolve (comma-separated URLs)',
  },
  'scrape-interval': {
    type: 'string',
    description: 'default scrape and rule evaluation interval (e.g. 5s)',
    default: '5s',
  },
  retention: { type: 'string', description: 'keep blocks this long (e.g. 15d)', default: '15d' },
  'trace-retention': {
    type: 'string',
    description: 'keep traces this long (with --data-dir; also capped at 256 MiB on disk)',
    default: '1d',
  },
  'wal-sync-ms': {
    type: 'number',
    description: 'fdatasync the WAL this often (a crash loses at most this much)',
    default: 1000,
    min: 0,
    max: 60_000,
  },
  'phi-threshold': {
    type: 'number',
    description: 'suspect a target when its φ exceeds this',
    default: 8,
    min: 0.1,
    max: 1000,
  },
} as const satisfies Record<string, FlagSpec>;

export type MonitoringConfig = Config<typeof MONITORING_FLAGS>;

export interface Monitoring {
  service: Service;
  /** The node's clock (its wall time skewed by POST /chaos/clock-skew under --chaos). */
  clock: SkewableClock;
  storage: TsdbStorage;
  /** The OTLP spans received: searchable in memory, logged under the data dir when there is one. */
  traces: Traces;
  scraper: Scraper;
  engine: PromqlEngine;
  rules: Rule[];
  notifier: WebhookNotifier;
  watch: FailureWatch;
  url: string;
  /** Re-reads --targets and --rules (also on SIGHUP in main.ts). */
  reload(): Promise<void>;
  /** One evaluation of every rule group at the clock's now (the schedule calls it too). */
  evaluateRules(): Promise<void>;
  close(): Promise<void>;
}

function durationFlag(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const ms = parseDurationMs(text);
  if (ms === null || ms <= 0) throw new ConfigFileError(`--${flag}: '${text}' is not a duration like 5s`);
  return ms;
}

async function readYaml(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigFileError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
  try {
    return parseYaml(text);
  } catch (err) {
    throw new ConfigFileError(`${what} ${path} is not YAML: ${(err as Error).message}`);
  }
}

function webhookUrls(text: string | undefined): string[] {
  if (text === undefined || text.trim() === '') return [];
  return text.split(',').map((u) => {
    const url = u.trim();
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigFileError(`--alert-webhook: '${url}' is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new ConfigFileError(`--alert-webhook: '${url}' is not an http(s) URL`);
    return url;
  });
}

export async function loadTargets(
  path: string | undefined,
  intervalMs: number,
  scrape?: string,
): Promise<ScrapeTarget[]> {
  const fromFile =
    path === undefined ? [] : parseScrapeConfig(await readYaml(path, 'targets file'), intervalMs);
  return [
    ...fromFile,
    ...(scrape === undefined ? [] : parseScrapeConfig(scrapeFlagConfig(scrape), intervalMs)),
  ];
}

/**
 * `--scrape 'kv=127.0.0.1:7001,127.0.0.1:7002;lsm=127.0.0.1:7101'` as the scrape config a file
 * would hold (one job per group, static targets), so one parser checks both.
 */
export function scrapeFlagConfig(flag: string): unknown {
  const jobs = flag
    .split(';')
    .filter((group) => group.trim() !== '')
    .map((group) => {
      const eq = group.indexOf('=');
      if (eq <= 0) throw new ConfigFileError(`--scrape: '${group}' is not job=host:port,...`);
      const targets = group
        .slice(eq + 1)
        .split(',')
        .filter(Boolean);
      if (targets.length === 0)
        throw new ConfigFileError(`--scrape: job '${group.slice(0, eq)}' has no targets`);
      return { job_name: group.slice(0, eq), static_configs: [{ targets }] };
    });
  return { scrape_configs: jobs };
}

export async function startMonitoring(
  config: MonitoringConfig,
  systemClock: TimerClock = new SystemClock(),
): Promise<Monitoring> {
  // The node's clock: its wall time can be skewed by --chaos (common's service/wall-clock.ts).
  const clock = new SkewableClock(systemClock);
  const intervalMs = durationFlag('scrape-interval', config.extra['scrape-interval'], 5000);
  const retentionMs = durationFlag('retention', config.extra.retention, RETENTION_DEFAULT_MS);
  const initialTargets = await loadTargets(config.extra.targets, intervalMs, config.extra.scrape);
  const hooks = webhookUrls(config.extra['alert-webhook']);
  const initialRules = config.extra.rules
    ? parseRuleFile(await readYaml(config.extra.rules, 'rule file'), intervalMs)
    : [];

  const storage: TsdbStorage = config.dataDir
    ? await DiskTsdb.open({
        dataDir: config.dataDir,
        retentionMs,
        walFsync: config.extra['wal-sync-ms'] === 0 ? 'always' : 'interval',
        walSyncMs: Math.max(1, config.extra['wal-sync-ms']),
      })
    : new MemoryStorage();
  const traceRetentionMs = durationFlag(
    'trace-retention',
    config.extra['trace-retention'],
    TRACE_RETENTION_DEFAULT_MS,
  );
  const traces = config.dataDir
    ? await Traces.open({
        dataDir: config.dataDir,
        retentionMs: traceRetentionMs,
        fsync: config.extra['wal-sync-ms'] === 0 ? 'always' : 'interval',
        fsyncIntervalMs: Math.max(1, config.extra['wal-sync-ms']),
        nowMs: clock.wallMs(),
      })
    : Traces.memory();
  const engine = new PromqlEngine(storage.db);
  const watch = new FailureWatch({ phiThreshold: config.extra['phi-threshold'] });
  let rules: Rule[] = initialRules.map(newRule);
  const timers: { cancel(): void }[] = [];
  let closed = false;

  const service = await createService({
    name: 'monitoring',
    description:
      'Chapter 8: scraping, a Gorilla-compressed TSDB, PromQL on the Prometheus API, alerts, φ accrual',
    config,
    wallClock: clock,
    // Stamped always: another monitoring node estimates this one's offset from the stamps.
    stampWallClock: true,
    errorFormatter: (error, reply) => {
      if (reply.request.url.startsWith('/api/v1/')) {
        return reply.status(error.status).type('application/json').send(errorBody(error));
      }
      return sendProblem(reply, error);
    },
    onClose: async () => {
      closed = true;
      for (const t of timers) t.cancel();
      for (const t of groupTimers.values()) t.cancel();
      await scraper.stop();
      await notifier.close();
      await storage.sync();
      await storage.close();
      await traces.close();
    },
  });
  const scraper = new Scraper(storage, clock, service.log);
  let url = '';
  const notifier = new WebhookNotifier(hooks, () => url, service.log);
  scraper.onScrape = (state) => {
    if (state.health === 'up') watch.heartbeat(state.target, clock.nowMs());
  };

  const phiGauge = new Gauge({
    name: 'monitoring_target_phi',
    help: 'φ accrual suspicion of each scrape target (scrapes are the heartbeats)',
    labelNames: ['job', 'instance'] as const,
    registers: [service.registry],
    collect() {
      this.reset();
      for (const v of watch.view(clock.nowMs())) this.set({ job: v.job, instance: v.instance }, v.phi);
    },
  });
  void phiGauge;
  new Gauge({
    name: 'monitoring_tsdb_bytes_per_sample',
    help: 'Compressed chunk bytes per stored sample (Gorilla reports 1.37)',
    registers: [service.registry],
    collect() {
      const s = storage.db.stats();
      this.set(s.samples === 0 ? 0 : s.chunkBytes / s.samples);
    },
  });
  new Gauge({
    name: 'monitoring_tsdb_series',
    help: 'Series in the TSDB index',
    registers: [service.registry],
    collect() {
      this.set(storage.db.stats().series);
    },
  });
  new Gauge({
    name: 'monitoring_tsdb_samples',
    help: 'Samples held in the head and the blocks',
    registers: [service.registry],
    collect() {
      this.set(storage.db.stats().samples);
    },
  });

  // Rule groups: each evaluated every its interval, its rules in order, so that a rule sees
  // what the recording rules above it just wrote (Prometheus's rule manager does the same).
  const evaluateRule = async (rule: Rule, now: number): Promise<void> => {
    let samples: Sample[] | null = null;
    try {
      const result = engine.instant(rule.spec.expr, now);
      samples =
        result.resultType === 'vector'
          ? result.samples
          : result.resultType === 'scalar'
            ? [{ labels: [], value: result.value, t: now }]
            : [];
    } catch (err) {
      rule.lastError = (err as Error).message;
    }
    if (rule.kind === 'recording') {
      const written = samples === null ? rule.failed(now) : rule.record(samples, now);
      if (written.length > 0) await storage.ingest(written);
      return;
    }
    if (samples !== null && rule.detector !== null) {
      // An anomaly rule: the expression's output is scored against each series' learned
      // baseline; only the series outside their band go on as alert candidates, and the
      // score, baseline and band are written back for graphs (core/anomaly.ts).
      const scores = rule.detector.observe(samples, now);
      const written = rule.detector.scoreSamples(scores, now);
      if (written.length > 0) await storage.ingest(written);
      samples = scores.filter((s) => s.anomalous).map((s) => ({ labels: s.labels, value: s.value, t: now }));
    }
    if (samples !== null) notifier.notify(rule, AlertingRule.notifiable(rule.update(samples, now)));
    // Prometheus writes ALERTS{alertname, alertstate, ...} = 1 for every pending/firing alert.
    const alertSamples = rule.alerts().map((a) => ({
      labels: normalizeLabels([...a.labels, ['__name__', 'ALERTS'], ['alertstate', a.state]]),
      t: now,
      value: 1,
    }));
    if (alertSamples.length > 0) await storage.ingest(alertSamples);
  };
  const evaluateGroup = async (group: string): Promise<void> => {
    const now = Math.round(clock.wallMs());
    for (const rule of rules) if (rule.spec.group === group) await evaluateRule(rule, now);
  };
  const groupIntervals = (): Map<string, number> =>
    new Map(rules.map((r) => [r.spec.group, r.spec.intervalMs]));
  const evaluateRules = async (): Promise<void> => {
    for (const group of groupIntervals().keys()) await evaluateGroup(group);
  };
  const groupTimers = new Map<string, { cancel(): void }>();
  let schedule = 0;
  const scheduleGroups = (): void => {
    for (const t of groupTimers.values()) t.cancel();
    groupTimers.clear();
    const current = ++schedule;
    for (const [group, ms] of groupIntervals()) {
      const run = (): void => {
        if (closed || current !== schedule) return;
        evaluateGroup(group)
          .catch((err) => service.log.error({ err, group }, 'rule group evaluation failed'))
          .finally(() => {
            if (!closed && current === schedule) groupTimers.set(group, clock.setTimeout(run, ms));
          });
      };
      groupTimers.set(group, clock.setTimeout(run, ms));
    }
  };

  const every = (ms: number, fn: () => Promise<void> | void): void => {
    const run = (): void => {
      if (closed) return;
      Promise.resolve()
        .then(fn)
        .catch((err) => service.log.error({ err }, 'periodic task failed'))
        .finally(() => {
          if (!closed) timers.push(clock.setTimeout(run, ms));
        });
    };
    timers.push(clock.setTimeout(run, ms));
  };
  scheduleGroups();
  every(Math.min(intervalMs, 1000), async () => {
    const wall = Math.round(clock.wallMs());
    await storage.ingest([...watch.samples(clock.nowMs(), wall), ...clockSamples(scraper, wall)]);
  });
  every(60_000, async () => {
    await storage.compact(Math.round(clock.wallMs()));
    await traces.compact(Math.round(clock.wallMs()));
  });

  const reload = async (): Promise<void> => {
    const targets = await loadTargets(config.extra.targets, intervalMs, config.extra.scrape);
    if (config.extra.rules) {
      rules = parseRuleFile(await readYaml(config.extra.rules, 'rule file'), intervalMs).map(newRule);
      scheduleGroups();
    }
    watch.setTargets(targets);
    await scraper.setTargets(targets);
  };

  registerApiRoutes(service.app, {
    storage,
    engine,
    scraper,
    rules: () => rules,
    watch,
    clock,
  });
  registerDashboard(service.app);
  registerOtlpRoutes(service.app, traces, () => clock.wallMs());

  watch.setTargets(initialTargets);
  await scraper.setTargets(initialTargets);
  url = await service.listen();
  return {
    service,
    clock,
    storage,
    traces,
    scraper,
    engine,
    get rules() {
      return rules;
    },
    notifier,
    watch,
    url,
    reload,
    evaluateRules,
    close: () => service.close(),
  };
}

/** Each target's estimated clock offset and its error bound, in seconds, as series to store. */
function clockSamples(scraper: Scraper, wallMs: number) {
  const out = [];
  for (const st of scraper.targets()) {
    const e = st.clockOffset.estimate();
    if (!e) continue;
    const base: [string, string][] = [
      ['job', st.target.job],
      ['instance', st.target.address],
    ];
    out.push(
      {
        labels: normalizeLabels([...base, ['__name__', 'monitoring_clock_offset_seconds']]),
        t: wallMs,
        value: e.offsetMs / 1000,
      },
      {
        labels: normalizeLabels([...base, ['__name__', 'monitoring_clock_offset_error_seconds']]),
        t: wallMs,
        value: e.errorMs / 1000,
      },
    );
  }
  return out;
}
