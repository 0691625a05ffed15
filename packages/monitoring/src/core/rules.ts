// Alerting and recording rules in Prometheus's rule-file format, and the alert state machine:
//   groups:
//     - name: lab
//       interval: 5s                      # optional, defaults to the evaluation interval
//       rules:
//         - alert: TargetDown
//           expr: up == 0
//           for: 15s
//           labels: { severity: page }
//           annotations: { summary: "{{ $labels.instance }} is down" }
//         - record: job:requests:rate1m     # a recording rule: its result is written back
//           expr: sum by (job) (rate(requests_total[1m]))
//           labels: { source: rule }
// Each evaluation runs `expr`; every output series is an alert instance keyed by its labels
// plus the rule's. New instances are pending; after `for` they fire; an instance missing from
// an evaluation is resolved (and forgotten 15 minutes later, as Prometheus keeps it).
// A recording rule's output series are renamed to `record`, get the rule's labels and are
// written back at the evaluation time; a series it wrote last time and not this time gets a
// staleness marker (Prometheus's rule manager does the same), so queries drop it at once.
// Rules of a group are evaluated in order, every group `interval`: a rule sees what the
// recording rules above it in its group just wrote.
import { AnomalyDetector, type AnomalySpec, parseAnomalySpec } from './anomaly.js';
import { ConfigFileError } from './errors.js';
import {
  LABEL_NAME_RE,
  type Labels,
  labelsKey,
  labelsToRecord,
  METRIC_NAME,
  normalizeLabels,
} from './labels.js';
import type { Expr } from './promql/ast.js';
import { parseDurationMs } from './promql/lexer.js';
import { parsePromql } from './promql/parser.js';
import type { Sample } from './promql/values.js';
import { formatValue } from './special-values.js';

export const RESOLVED_RETENTION_MS = 15 * 60 * 1000;

export interface AlertRuleSpec {
  kind: 'alerting';
  group: string;
  name: string;
  exprText: string;
  expr: Expr;
  forMs: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  intervalMs: number;
  /** Set for an anomaly rule (`anomaly:` in the rule file, core/anomaly.ts); null otherwise. */
  anomaly: AnomalySpec | null;
}

export interface RecordingRuleSpec {
  kind: 'recording';
  group: string;
  /** The metric name the output is written under. */
  name: string;
  exprText: string;
  expr: Expr;
  labels: Record<string, string>;
  intervalMs: number;
}

export type RuleSpec = AlertRuleSpec | RecordingRuleSpec;

/** Prometheus's metric-name syntax (recording rules may use colons). */
const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export type AlertState = 'pending' | 'firing' | 'inactive';

export interface AlertInstance {
  labels: Labels;
  annotations: Record<string, string>;
  state: AlertState;
  activeAtMs: number;
  firedAtMs: number | null;
  resolvedAtMs: number | null;
  value: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, where: string, checkNames: boolean): Record<string, string> {
  if (v === undefined) return {};
  if (!isRecord(v)) throw new ConfigFileError(`${where} must be a mapping`);
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(v)) {
    if (checkNames && !LABEL_NAME_RE.test(k))
      throw new ConfigFileError(`${where}: '${k}' is not a valid label name`);
    if (typeof value !== 'string' && typeof value !== 'number')
      throw new ConfigFileError(`${where}.${k} must be a string`);
    out[k] = String(value);
  }
  return out;
}

/** Validates a parsed rule file (YAML parsed outside the core). */
export function parseRuleFile(doc: unknown, defaultIntervalMs: number): RuleSpec[] {
  if (doc === null || doc === undefined) return [];
  if (!isRecord(doc) || !Array.isArray(doc.groups))
    throw new ConfigFileError('a rule file is a mapping with groups: [...]');
  const out: RuleSpec[] = [];
  const groupNames = new Set<string>();
  doc.groups.forEach((g, i) => {
    const where = `groups[${i}]`;
    if (!isRecord(g) || typeof g.name !== 'string' || g.name === '')
      throw new ConfigFileError(`${where}.name must be a non-empty string`);
    const group = g.name;
    if (groupNames.has(group)) throw new ConfigFileError(`${where}: group name '${group}' is repeated`);
    groupNames.add(group);
    let intervalMs = defaultIntervalMs;
    if (g.interval !== undefined) {
      const ms = typeof g.interval === 'string' ? parseDurationMs(g.interval) : null;
      if (ms === null || ms <= 0)
        throw new ConfigFileError(`${where}.interval: '${String(g.interval)}' is not a duration`);
      intervalMs = ms;
    }
    if (!Array.isArray(g.rules)) throw new ConfigFileError(`${where}.rules must be a list`);
    g.rules.forEach((r, j) => {
      const w = `${where}.rules[${j}]`;
      if (!isRecord(r)) throw new ConfigFileError(`${w} must be a mapping`);
      if (r.record !== undefined && r.alert !== undefined)
        throw new ConfigFileError(`${w}: only one of 'record' and 'alert' may be set`);
      if (r.record === undefined && r.alert === undefined)
        throw new ConfigFileError(`${w}: one of 'record' or 'alert' must be set`);
      if (typeof r.expr !== 'string' && typeof r.expr !== 'number')
        throw new ConfigFileError(`${w}.expr must be PromQL`);
      const exprText = String(r.expr);
      let expr: Expr;
      try {
        expr = parsePromql(exprText);
      } catch (err) {
        throw new ConfigFileError(`${w}.expr: ${(err as Error).message}`);
      }
      if (r.record !== undefined) {
        if (typeof r.record !== 'string' || !METRIC_NAME_RE.test(r.record))
          throw new ConfigFileError(`${w}.record: '${String(r.record)}' is not a valid metric name`);
        if (r.for !== undefined) throw new ConfigFileError(`${w}: invalid field 'for' in recording rule`);
        if (r.annotations !== undefined)
          throw new ConfigFileError(`${w}: invalid field 'annotations' in recording rule`);
        if (r.anomaly !== undefined)
          throw new ConfigFileError(
            `${w}: invalid field 'anomaly' in recording rule (anomaly rules are alerts)`,
          );
        out.push({
          kind: 'recording',
          group,
          name: r.record,
          exprText,
          expr,
          labels: stringMap(r.labels, `${w}.labels`, true),
          intervalMs,
        });
        return;
      }
      if (typeof r.alert !== 'string' || !LABEL_NAME_RE.test(r.alert))
        throw new ConfigFileError(`${w}.alert must be a valid alert name`);
      let forMs = 0;
      if (r.for !== undefined) {
        const ms = typeof r.for === 'string' ? parseDurationMs(r.for) : null;
        if (ms === null) throw new ConfigFileError(`${w}.for: '${String(r.for)}' is not a duration`);
        forMs = ms;
      }
      out.push({
        kind: 'alerting',
        group,
        name: r.alert,
        exprText,
        expr,
        forMs,
        labels: stringMap(r.labels, `${w}.labels`, true),
        annotations: stringMap(r.annotations, `${w}.annotations`, false),
        intervalMs,
        anomaly: r.anomaly === undefined ? null : parseAnomalySpec(r.anomaly, `${w}.anomaly`),
      });
    });
  });
  return out;
}

/** Expands {{ $labels.x }} and {{ $value }} in an annotation (the common part of Go templates). */
export function expandTemplate(text: string, labels: Record<string, string>, value: number): string {
  return text.replace(/\{\{\s*(\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)|\$value)\s*\}\}/g, (_m, _all, name) =>
    name === undefined ? formatValue(value) : (labels[name] ?? ''),
  );
}

/** A sample a recording rule writes back (a staleness marker when `stale`). */
export interface RecordedSample {
  labels: Labels;
  t: number;
  value: number;
  stale?: boolean;
}

/** One recording rule across evaluations: it remembers what it wrote, to mark the gone stale. */
export class RecordingRule {
  readonly kind = 'recording';
  private previous = new Map<string, Labels>();
  lastEvaluationMs: number | null = null;
  lastError = '';
  /** Series written by the last evaluation. */
  lastSeries = 0;

  constructor(readonly spec: RecordingRuleSpec) {}

  /**
   * The samples one evaluation's output writes at `nowMs`: renamed, relabelled, and a stale
   * marker for every series of the previous evaluation that is missing now. Two outputs with
   * the same labels after relabelling fail the evaluation as in Prometheus (nothing written).
   */
  record(samples: readonly Sample[], nowMs: number): RecordedSample[] {
    this.lastEvaluationMs = nowMs;
    const out: RecordedSample[] = [];
    const seen = new Map<string, Labels>();
    for (const s of samples) {
      const labels = normalizeLabels([
        ...s.labels.filter(([n]) => n !== METRIC_NAME && !(n in this.spec.labels)),
        ...Object.entries(this.spec.labels),
        [METRIC_NAME, this.spec.name],
      ]);
      const key = labelsKey(labels);
      if (seen.has(key)) {
        this.lastError = 'vector contains metrics with the same labelset after applying rule labels';
        return this.failed(nowMs);
      }
      seen.set(key, labels);
      out.push({ labels, t: nowMs, value: s.value });
    }
    for (const [key, labels] of this.previous) {
      if (!seen.has(key)) out.push({ labels, t: nowMs, value: Number.NaN, stale: true });
    }
    this.previous = seen;
    this.lastError = '';
    this.lastSeries = seen.size;
    return out;
  }

  /** A failed evaluation writes nothing new; what the last one wrote goes stale. */
  failed(nowMs: number): RecordedSample[] {
    const out = [...this.previous.values()].map((labels) => ({
      labels,
      t: nowMs,
      value: Number.NaN,
      stale: true,
    }));
    this.previous = new Map();
    this.lastSeries = 0;
    return out;
  }
}

/** One alerting rule's instances across evaluations. */
export class AlertingRule {
  readonly kind = 'alerting';
  private readonly active = new Map<string, AlertInstance>();
  lastEvaluationMs: number | null = null;
  lastError = '';
  /** The learned baselines of an anomaly rule; null for a threshold rule. */
  readonly detector: AnomalyDetector | null;

  constructor(readonly spec: AlertRuleSpec) {
    this.detector = spec.anomaly === null ? null : new AnomalyDetector(spec.anomaly, spec.name);
  }

  /** Feeds one evaluation's output at `nowMs`; returns the instances that changed state. */
  update(samples: readonly Sample[], nowMs: number): AlertInstance[] {
    this.lastEvaluationMs = nowMs;
    this.lastError = '';
    const changed: AlertInstance[] = [];
    const seen = new Set<string>();
    for (const s of samples) {
      const labels = normalizeLabels([
        ...s.labels.filter(([n]) => n !== METRIC_NAME && !(n in this.spec.labels)),
        ...Object.entries(this.spec.labels),
        ['alertname', this.spec.name],
      ]);
      const key = labelsKey(labels);
      seen.add(key);
      const record = labelsToRecord(labels);
      const annotations: Record<string, string> = {};
      for (const [k, v] of Object.entries(this.spec.annotations))
        annotations[k] = expandTemplate(v, record, s.value);
      let alert = this.active.get(key);
      if (!alert || alert.state === 'inactive') {
        alert = {
          labels,
          annotations,
          state: 'pending',
          activeAtMs: nowMs,
          firedAtMs: null,
          resolvedAtMs: null,
          value: s.value,
        };
        this.active.set(key, alert);
        changed.push(alert);
      }
      alert.value = s.value;
      alert.annotations = annotations;
      if (alert.state === 'pending' && nowMs - alert.activeAtMs >= this.spec.forMs) {
        alert.state = 'firing';
        alert.firedAtMs = nowMs;
        changed.push(alert);
      }
    }
    for (const [key, alert] of this.active) {
      if (seen.has(key)) continue;
      if (alert.state === 'pending') {
        this.active.delete(key);
      } else if (alert.state === 'firing') {
        alert.state = 'inactive';
        alert.resolvedAtMs = nowMs;
        changed.push(alert);
      } else if (alert.resolvedAtMs !== null && nowMs - alert.resolvedAtMs > RESOLVED_RETENTION_MS) {
        this.active.delete(key);
      }
    }
    return changed;
  }

  /** Pending and firing instances (what /api/v1/alerts lists). */
  alerts(): AlertInstance[] {
    return [...this.active.values()].filter((a) => a.state !== 'inactive');
  }

  /** Every instance, including resolved ones still remembered. */
  instances(): AlertInstance[] {
    return [...this.active.values()];
  }

  /** The alerts of the last update that fired or resolved (what notifications are about). */
  static notifiable(changed: readonly AlertInstance[]): AlertInstance[] {
    return changed.filter((a) => a.state === 'firing' || a.state === 'inactive');
  }

  /** The rule's state as Prometheus's /api/v1/rules reports it. */
  state(): AlertState {
    const all = this.alerts();
    if (all.some((a) => a.state === 'firing')) return 'firing';
    if (all.length > 0) return 'pending';
    return 'inactive';
  }
}

export type Rule = AlertingRule | RecordingRule;

export function newRule(spec: RuleSpec): Rule {
  return spec.kind === 'recording' ? new RecordingRule(spec) : new AlertingRule(spec);
}
