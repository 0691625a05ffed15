// Anomaly rules: the second kind of alert. A threshold rule needs someone to know what
// "too slow" is; an anomaly rule learns what normal looks like for each output series and
// alerts when a value leaves its band:
//   - alert: LatencyAnomaly
//     anomaly:                       # what makes this an anomaly rule
//       alpha: 0.1                   # EWMA smoothing of the baseline and of the residual variance
//       z: 3                         # band half-width in standard deviations
//       direction: up                # up | down | both (default both)
//       warmup: 10                   # evaluations before the model may alert (default 10)
//       season: 1d                   # optional seasonal baseline: period ...
//       season_buckets: 24           # ... cut into this many slots (default 24)
//     expr: histogram_quantile(0.99, sum by (job, le) (rate(http_request_duration_seconds_bucket[1m])))
//     for: 1m
// The model per series is an exponentially weighted moving average (the level) plus, with a
// season, an EWMA per slot of the season of how far that slot sits above or below the level
// (additive Holt-Winters without a trend). The prediction is level + seasonal[slot]; the
// residual x - prediction feeds an EWMA of the residual variance, and
//   z = (x - prediction) / sqrt(variance)
// is computed against the model *before* x updates it. |z| > z-threshold (in the rule's
// direction) makes the series anomalous for this evaluation; the alert's `for` then decides
// pending → firing as for any alerting rule. Every value updates the model, anomalous ones too,
// so a lasting level shift becomes the new normal and the alert resolves on its own.
import { ConfigFileError } from './errors.js';
import { type Labels, labelsKey, METRIC_NAME, normalizeLabels } from './labels.js';
import { parseDurationMs } from './promql/lexer.js';
import type { Sample } from './promql/values.js';

export interface AnomalySpec {
  alpha: number;
  z: number;
  direction: 'up' | 'down' | 'both';
  warmup: number;
  /** Season period in ms, 0 = no seasonal baseline. */
  seasonMs: number;
  seasonBuckets: number;
}

/** Reads the `anomaly:` mapping of a rule (`where` names it in errors). */
export function parseAnomalySpec(v: unknown, where: string): AnomalySpec {
  const o = v === null || v === true ? {} : v;
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    throw new ConfigFileError(`${where} must be a mapping`);
  const r = o as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!['alpha', 'z', 'direction', 'warmup', 'season', 'season_buckets'].includes(k))
      throw new ConfigFileError(`${where}: unknown field '${k}'`);
  }
  const num = (k: string, dflt: number, ok: (n: number) => boolean, what: string): number => {
    if (r[k] === undefined) return dflt;
    const n = Number(r[k]);
    if (typeof r[k] === 'boolean' || !Number.isFinite(n) || !ok(n))
      throw new ConfigFileError(`${where}.${k}: '${String(r[k])}' must be ${what}`);
    return n;
  };
  const direction = r.direction ?? 'both';
  if (direction !== 'up' && direction !== 'down' && direction !== 'both')
    throw new ConfigFileError(`${where}.direction: '${String(direction)}' must be up, down or both`);
  let seasonMs = 0;
  if (r.season !== undefined) {
    const ms = typeof r.season === 'string' ? parseDurationMs(r.season) : null;
    if (ms === null || ms <= 0)
      throw new ConfigFileError(`${where}.season: '${String(r.season)}' is not a duration`);
    seasonMs = ms;
  }
  return {
    alpha: num('alpha', 0.1, (n) => n > 0 && n <= 1, 'in (0, 1]'),
    z: num('z', 3, (n) => n > 0, 'positive'),
    direction,
    warmup: num('warmup', 10, (n) => Number.isInteger(n) && n >= 2, 'an integer ≥ 2'),
    seasonMs,
    seasonBuckets: num(
      'season_buckets',
      24,
      (n) => Number.isInteger(n) && n >= 2 && n <= 10_000,
      'an integer in [2, 10000]',
    ),
  };
}

/** One series' learned baseline. */
export class EwmaModel {
  level = 0;
  variance = 0;
  observations = 0;
  private readonly seasonal: Float64Array | null;
  private readonly seasonalSeen: Uint8Array | null;

  constructor(private readonly spec: AnomalySpec) {
    this.seasonal = spec.seasonMs > 0 ? new Float64Array(spec.seasonBuckets) : null;
    this.seasonalSeen = spec.seasonMs > 0 ? new Uint8Array(spec.seasonBuckets) : null;
  }

  private slot(tMs: number): number {
    const { seasonMs, seasonBuckets } = this.spec;
    const phase = ((tMs % seasonMs) + seasonMs) % seasonMs;
    return Math.min(seasonBuckets - 1, Math.floor((phase / seasonMs) * seasonBuckets));
  }

  /** The value the model expects at `tMs`. */
  predict(tMs: number): number {
    if (this.seasonal === null) return this.level;
    return this.level + this.seasonal[this.slot(tMs)]!;
  }

  /**
   * Scores `x` against the model, then learns from it. `z` is NaN until the model has seen
   * `warmup` values (and 0/0 cases: a perfectly flat history scores ±Infinity on any change).
   */
  observe(tMs: number, x: number): { z: number; predicted: number; sd: number } {
    const { alpha } = this.spec;
    if (this.observations === 0) {
      this.level = x;
      this.observations = 1;
      if (this.seasonalSeen) this.seasonalSeen[this.slot(tMs)] = 1;
      return { z: Number.NaN, predicted: x, sd: 0 };
    }
    const predicted = this.predict(tMs);
    const residual = x - predicted;
    const sd = Math.sqrt(this.variance);
    let z = Number.NaN;
    if (this.observations >= this.spec.warmup) {
      z = sd > 0 ? residual / sd : residual === 0 ? 0 : residual > 0 ? Infinity : -Infinity;
    }
    // Learn: the residual's variance, then the level and the slot's seasonal offset.
    this.variance = (1 - alpha) * (this.variance + alpha * residual * residual);
    if (this.seasonal !== null && this.seasonalSeen !== null) {
      const s = this.slot(tMs);
      const deseasoned = x - this.seasonal[s]!;
      this.level += alpha * (deseasoned - this.level);
      // A slot seen for the first time starts from its offset against the level.
      if (this.seasonalSeen[s] === 0) {
        this.seasonal[s] = x - this.level;
        this.seasonalSeen[s] = 1;
      } else this.seasonal[s] = this.seasonal[s]! + alpha * (x - this.level - this.seasonal[s]!);
    } else {
      this.level += alpha * residual;
    }
    this.observations++;
    return { z, predicted, sd };
  }
}

export interface AnomalyScore {
  labels: Labels;
  value: number;
  z: number;
  predicted: number;
  lower: number;
  upper: number;
  anomalous: boolean;
}

/** The models of one anomaly rule, one per output series of its expression. */
export class AnomalyDetector {
  private readonly models = new Map<string, EwmaModel>();

  constructor(
    readonly spec: AnomalySpec,
    readonly ruleName: string,
  ) {}

  get seriesCount(): number {
    return this.models.size;
  }

  /** Scores one evaluation's output (NaN values are skipped: they say nothing about normal). */
  observe(samples: readonly Sample[], nowMs: number): AnomalyScore[] {
    const out: AnomalyScore[] = [];
    for (const s of samples) {
      if (!Number.isFinite(s.value)) continue;
      const key = labelsKey(s.labels);
      let m = this.models.get(key);
      if (!m) {
        m = new EwmaModel(this.spec);
        this.models.set(key, m);
      }
      const { z, predicted, sd } = m.observe(nowMs, s.value);
      const band = this.spec.z * sd;
      const anomalous =
        !Number.isNaN(z) &&
        ((this.spec.direction !== 'down' && z > this.spec.z) ||
          (this.spec.direction !== 'up' && z < -this.spec.z));
      out.push({
        labels: s.labels,
        value: s.value,
        z,
        predicted,
        lower: predicted - band,
        upper: predicted + band,
        anomalous,
      });
    }
    return out;
  }

  /**
   * The series written back for graphs: anomaly_zscore, anomaly_baseline, anomaly_lower and
   * anomaly_upper, each with the input's labels (name dropped) and anomaly_rule="<alert>".
   */
  scoreSamples(
    scores: readonly AnomalyScore[],
    nowMs: number,
  ): { labels: Labels; t: number; value: number }[] {
    const out: { labels: Labels; t: number; value: number }[] = [];
    for (const s of scores) {
      const base = s.labels.filter(([n]) => n !== METRIC_NAME && n !== 'anomaly_rule');
      const series = (name: string, value: number) =>
        out.push({
          labels: normalizeLabels([...base, [METRIC_NAME, name], ['anomaly_rule', this.ruleName]]),
          t: nowMs,
          value,
        });
      if (!Number.isNaN(s.z)) series('anomaly_zscore', s.z);
      series('anomaly_baseline', s.predicted);
      series('anomaly_lower', s.lower);
      series('anomaly_upper', s.upper);
    }
    return out;
  }
}
