// Prometheus's HTTP API on our TSDB, so that promtool, Grafana's Prometheus data source and
// curl sessions from Prometheus's docs work unchanged: /api/v1/query, query_range, series,
// labels, label/:name/values, targets, alerts, rules; plus /api/v1/failure-detector and
// /api/v1/clocks (ours).
// GET and POST (form-encoded, as Grafana sends) are both accepted.
import type { ServiceApp, TimerClock } from '@ddia/common';
import {
  ApiError,
  formatQueryResult,
  formatRangeResult,
  formatSeries,
  parseDurationParam,
  parseTimeParam,
  queryError,
} from '../core/api-format.js';
import { LABEL_NAME_RE, type Labels, labelsKey, labelsToRecord } from '../core/labels.js';
import type { Matcher } from '../core/matchers.js';
import type { PromqlEngine } from '../core/promql/engine.js';
import { parsePromql } from '../core/promql/parser.js';
import type { AlertInstance, Rule } from '../core/rules.js';
import { formatValue } from '../core/special-values.js';
import type { FailureWatch } from '../failure-watch.js';
import type { Scraper } from '../scrape/scraper.js';
import type { TsdbStorage } from '../storage/memory-storage.js';

export interface ApiDeps {
  storage: TsdbStorage;
  engine: PromqlEngine;
  scraper: Scraper;
  rules: () => readonly Rule[];
  watch: FailureWatch;
  clock: TimerClock;
}

type Params = Record<string, string | string[] | undefined>;

const MIN_TIME = -9_007_199_254_740;
const MAX_TIME = 9_007_199_254_740_991;

function one(params: Params, name: string): string | undefined {
  const v = params[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

function many(params: Params, name: string): string[] {
  const v = params[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function paramsOf(request: { query: unknown; body: unknown }): Params {
  const out: Params = { ...((request.query as Params | undefined) ?? {}) };
  const body = request.body;
  if (body && typeof body === 'object' && !Buffer.isBuffer(body)) {
    for (const [k, v] of Object.entries(body as Params)) {
      const prev = out[k];
      out[k] =
        prev === undefined
          ? v
          : [...(Array.isArray(prev) ? prev : [prev]), ...(Array.isArray(v) ? v : [v ?? ''])];
    }
  }
  return out;
}

function parseForm(text: string): Params {
  const out: Params = {};
  for (const [k, v] of new URLSearchParams(text)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
  }
  return out;
}

/** match[] selectors: each must be a plain vector selector with a non-empty matcher. */
function parseMatchers(texts: readonly string[]): Matcher[][] {
  return texts.map((text) => {
    let expr: ReturnType<typeof parsePromql>;
    try {
      expr = parsePromql(text);
    } catch (err) {
      const e = queryError(err);
      throw e instanceof ApiError ? new ApiError('bad_data', e.message.replace('"query"', '"match[]"')) : e;
    }
    if (expr.kind !== 'vector') {
      throw new ApiError(
        'bad_data',
        `invalid parameter "match[]": 1:1: parse error: expected a vector selector`,
      );
    }
    if (expr.matchers.every((m) => m.matches(''))) {
      throw new ApiError('bad_data', 'match[] must contain at least one non-empty matcher');
    }
    return expr.matchers;
  });
}

function timeRange(params: Params, clock: TimerClock): { start: number; end: number } {
  const start = parseTimeParam('start', one(params, 'start'), MIN_TIME);
  const end = parseTimeParam('end', one(params, 'end'), MAX_TIME);
  if (end < start)
    throw new ApiError('bad_data', 'invalid parameter "end": end timestamp must not be before start time');
  void clock;
  return { start, end };
}

function matchingSeries(deps: ApiDeps, sets: Matcher[][], start: number, end: number): Labels[] {
  const byKey = new Map<string, Labels>();
  for (const matchers of sets) {
    for (const s of deps.storage.db.select(matchers, start, end)) byKey.set(labelsKey(s.labels), s.labels);
  }
  return [...byKey.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, l]) => l);
}

function rfc3339(ms: number | null): string {
  return ms === null ? '0001-01-01T00:00:00Z' : new Date(ms).toISOString();
}

function alertJson(a: AlertInstance) {
  return {
    labels: labelsToRecord(a.labels),
    annotations: a.annotations,
    state: a.state,
    activeAt: rfc3339(a.activeAtMs),
    value: formatValue(a.value),
  };
}

export function registerApiRoutes(app: ServiceApp, deps: ApiDeps): void {
  const { engine, clock } = deps;
  const success = (data: unknown) => ({ status: 'success', data });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, parseForm(body as string)),
  );

  const instantQuery = async (request: { query: unknown; body: unknown }) => {
    const params = paramsOf(request);
    const query = one(params, 'query');
    if (query === undefined || query === '')
      throw new ApiError(
        'bad_data',
        'invalid parameter "query": unknown position: parse error: no expression found in input',
      );
    const t = parseTimeParam('time', one(params, 'time'), Math.round(clock.wallMs()));
    try {
      return success(formatQueryResult(engine.instant(parsePromql(query), t)));
    } catch (err) {
      throw queryError(err);
    }
  };
  const rangeQuery = async (request: { query: unknown; body: unknown }) => {
    const params = paramsOf(request);
    const query = one(params, 'query');
    const start = parseTimeParam('start', one(params, 'start') ?? '', Number.NaN);
    const end = parseTimeParam('end', one(params, 'end') ?? '', Number.NaN);
    if (Number.isNaN(start))
      throw new ApiError('bad_data', 'invalid parameter "start": cannot parse "" to a valid timestamp');
    if (Number.isNaN(end))
      throw new ApiError('bad_data', 'invalid parameter "end": cannot parse "" to a valid timestamp');
    if (end < start)
      throw new ApiError('bad_data', 'invalid parameter "end": end timestamp must not be before start time');
    const step = parseDurationParam('step', one(params, 'step'));
    if (step <= 0)
      throw new ApiError(
        'bad_data',
        'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer',
      );
    if ((end - start) / step > 11_000)
      throw new ApiError(
        'bad_data',
        'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)',
      );
    if (query === undefined || query === '')
      throw new ApiError(
        'bad_data',
        'invalid parameter "query": unknown position: parse error: no expression found in input',
      );
    try {
      return success(formatRangeResult(engine.range(parsePromql(query), start, end, step)));
    } catch (err) {
      throw queryError(err);
    }
  };
  app.get('/api/v1/query', instantQuery);
  app.post('/api/v1/query', instantQuery);
  app.get('/api/v1/query_range', rangeQuery);
  app.post('/api/v1/query_range', rangeQuery);

  const series = async (request: { query: unknown; body: unknown }) => {
    const params = paramsOf(request);
    const texts = many(params, 'match[]');
    if (texts.length === 0) throw new ApiError('bad_data', 'no match[] parameter provided');
    const { start, end } = timeRange(params, clock);
    return success(formatSeries(matchingSeries(deps, parseMatchers(texts), start, end)));
  };
  app.get('/api/v1/series', series);
  app.post('/api/v1/series', series);

  const labels = async (request: { query: unknown; body: unknown }) => {
    const params = paramsOf(request);
    const texts = many(params, 'match[]');
    if (texts.length === 0) return success(deps.storage.db.index.labelNames());
    const { start, end } = timeRange(params, clock);
    const names = new Set<string>();
    for (const l of matchingSeries(deps, parseMatchers(texts), start, end)) for (const [n] of l) names.add(n);
    return success([...names].sort());
  };
  app.get('/api/v1/labels', labels);
  app.post('/api/v1/labels', labels);

  app.get('/api/v1/label/:name/values', async (request) => {
    const { name } = request.params as { name: string };
    if (!LABEL_NAME_RE.test(name)) throw new ApiError('bad_data', `invalid label name: "${name}"`);
    const params = paramsOf(request);
    const texts = many(params, 'match[]');
    if (texts.length === 0) return success(deps.storage.db.index.labelValues(name));
    const { start, end } = timeRange(params, clock);
    const values = new Set<string>();
    for (const l of matchingSeries(deps, parseMatchers(texts), start, end)) {
      for (const [n, v] of l) if (n === name) values.add(v);
    }
    return success([...values].sort());
  });

  app.get('/api/v1/targets', async () => {
    const activeTargets = deps.scraper.targets().map((s) => {
      const t = s.target;
      return {
        discoveredLabels: {
          __address__: t.address,
          __metrics_path__: t.metricsPath,
          __scheme__: 'http',
          job: t.job,
        },
        labels: t.labels,
        scrapePool: t.job,
        scrapeUrl: `http://${t.address}${t.metricsPath}`,
        globalUrl: `http://${t.address}${t.metricsPath}`,
        lastError: s.lastError,
        lastScrape: rfc3339(s.lastScrapeMs),
        lastScrapeDuration: s.lastDurationS,
        health: s.health,
        scrapeInterval: `${t.intervalMs / 1000}s`,
        scrapeTimeout: `${t.timeoutMs / 1000}s`,
      };
    });
    return success({ activeTargets, droppedTargets: [] });
  });

  app.get('/api/v1/alerts', async () =>
    success({
      alerts: deps.rules().flatMap((r) => (r.kind === 'alerting' ? r.alerts().map(alertJson) : [])),
    }),
  );

  app.get('/api/v1/rules', async () => {
    const groups = new Map<string, { name: string; file: string; interval: number; rules: unknown[] }>();
    for (const rule of deps.rules()) {
      const { group, intervalMs } = rule.spec;
      let g = groups.get(group);
      if (!g) groups.set(group, (g = { name: group, file: '', interval: intervalMs / 1000, rules: [] }));
      const health = rule.lastError ? 'err' : rule.lastEvaluationMs === null ? 'unknown' : 'ok';
      if (rule.kind === 'recording') {
        g.rules.push({
          type: 'recording',
          name: rule.spec.name,
          query: rule.spec.exprText,
          labels: rule.spec.labels,
          health,
          lastError: rule.lastError,
          lastEvaluation: rfc3339(rule.lastEvaluationMs),
        });
        continue;
      }
      const spec = rule.spec;
      g.rules.push({
        type: 'alerting',
        name: spec.name,
        query: spec.exprText,
        duration: spec.forMs / 1000,
        labels: spec.labels,
        annotations: spec.annotations,
        alerts: rule.alerts().map(alertJson),
        health,
        lastError: rule.lastError,
        state: rule.state(),
        lastEvaluation: rfc3339(rule.lastEvaluationMs),
        // Ours: an anomaly rule's model settings and how many series it has learned.
        ...(spec.anomaly
          ? {
              anomaly: {
                ...spec.anomaly,
                seasonMs: undefined,
                season: spec.anomaly.seasonMs / 1000,
                series: rule.detector?.seriesCount ?? 0,
              },
            }
          : {}),
      });
    }
    return success({ groups: [...groups.values()] });
  });

  // Ours: each target's clock against ours, NTP-style from the stamps on its scrape answers.
  app.get('/api/v1/clocks', async () =>
    success(
      deps.scraper.targets().map((st) => {
        const e = st.clockOffset.estimate();
        return {
          job: st.target.job,
          instance: st.target.address,
          offsetMs: e?.offsetMs ?? null,
          errorMs: e?.errorMs ?? null,
          delayMs: e?.delayMs ?? null,
          driftPpm: e?.driftPpm ?? null,
          probes: e?.probes ?? 0,
        };
      }),
    ),
  );

  app.get('/api/v1/failure-detector', async () => {
    const now = clock.nowMs();
    const wall = clock.wallMs();
    return success(
      deps.watch.view(now).map((v) => ({
        ...v,
        phi: Number.isFinite(v.phi) ? v.phi : null,
        lastHeartbeat:
          v.lastHeartbeatMs === null ? null : rfc3339(Math.round(wall - (now - v.lastHeartbeatMs))),
        lastHeartbeatMs: undefined,
      })),
    );
  });

  app.get('/api/v1/status/tsdb', async () => {
    const s = deps.storage.db.stats();
    return success({ ...s, bytesPerSample: s.samples === 0 ? 0 : s.chunkBytes / s.samples });
  });

  app.get('/api/v1/status/buildinfo', async () =>
    success({ version: '2.42.0', revision: 'ddia-lab', branch: 'monitoring', goVersion: 'node' }),
  );
}
