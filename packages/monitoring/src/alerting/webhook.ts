// Alert notifications as Alertmanager's webhook receiver sends them
// (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config): one POST per
// rule evaluation that fired or resolved alerts, with the JSON body of Alertmanager's webhook
// (version "4"), so that a receiver written for Alertmanager takes ours unchanged. There is no
// Alertmanager in between: no grouping across rules, no silences or inhibition, no repeat
// interval; a notification goes out on each transition (pending -> firing, firing -> resolved).
// Delivery: bounded queue, a few retries with backoff through common's HttpClient, failures
// counted and logged, never blocking rule evaluation.
import { HttpClient } from '@ddia/common';
import type { FastifyBaseLogger } from 'fastify';
import { labelsToRecord } from '../core/labels.js';
import type { AlertInstance, AlertingRule } from '../core/rules.js';

/** Notifications waiting or in flight; more are dropped (and counted). */
export const NOTIFY_QUEUE_MAX = 100;
export const NOTIFY_DEADLINE_MS = 5000;
export const NOTIFY_RETRIES = 2;
/** Alertmanager's "no end time" for a firing alert. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

export interface WebhookMessage {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: WebhookAlert[];
}

/** Prometheus's label-set fingerprint: FNV-1a 64 over sorted names and values, 0xff between. */
export function fingerprint(labels: Record<string, string>): string {
  let hash = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  const mask = 0xffffffffffffffffn;
  const encoder = new TextEncoder();
  for (const name of Object.keys(labels).sort()) {
    for (const part of [name, labels[name]!]) {
      for (const byte of [...encoder.encode(part), 0xff]) {
        hash ^= BigInt(byte);
        hash = (hash * prime) & mask;
      }
    }
  }
  return hash.toString(16).padStart(16, '0');
}

function common(maps: Record<string, string>[]): Record<string, string> {
  const [first, ...rest] = maps;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(first ?? {})) if (rest.every((m) => m[k] === v)) out[k] = v;
  return out;
}

/** The webhook body for alerts of one rule that just fired or resolved. */
export function webhookMessage(
  rule: AlertingRule,
  alerts: readonly AlertInstance[],
  externalUrl: string,
): WebhookMessage {
  const out: WebhookAlert[] = alerts.map((a) => {
    const labels = labelsToRecord(a.labels);
    const resolved = a.state === 'inactive';
    return {
      status: resolved ? 'resolved' : 'firing',
      labels,
      annotations: a.annotations,
      // Prometheus sends StartsAt = the time the alert fired (not when it became pending).
      startsAt: new Date(a.firedAtMs ?? a.activeAtMs).toISOString(),
      endsAt: resolved && a.resolvedAtMs !== null ? new Date(a.resolvedAtMs).toISOString() : ZERO_TIME,
      generatorURL: `${externalUrl}/graph?g0.expr=${encodeURIComponent(rule.spec.exprText)}&g0.tab=1`,
      fingerprint: fingerprint(labels),
    };
  });
  const groupLabels = { alertname: rule.spec.name };
  return {
    version: '4',
    groupKey: `{}:{alertname="${rule.spec.name}"}`,
    truncatedAlerts: 0,
    status: out.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: 'webhook',
    groupLabels,
    commonLabels: common(out.map((a) => a.labels)),
    commonAnnotations: common(out.map((a) => a.annotations)),
    externalURL: externalUrl,
    alerts: out,
  };
}

export interface NotifierStats {
  sent: number;
  failed: number;
  dropped: number;
}

/** Posts webhook messages to every configured URL, off the evaluation path. */
export class WebhookNotifier {
  private readonly client = new HttpClient({ retries: NOTIFY_RETRIES });
  private queued = 0;
  private idle: Promise<void> = Promise.resolve();
  readonly stats: NotifierStats = { sent: 0, failed: 0, dropped: 0 };

  constructor(
    readonly urls: readonly string[],
    private readonly externalUrl: () => string,
    private readonly log?: FastifyBaseLogger,
  ) {}

  /** Queues one message per URL for the alerts of `rule` that fired or resolved. */
  notify(rule: AlertingRule, alerts: readonly AlertInstance[]): void {
    if (alerts.length === 0 || this.urls.length === 0) return;
    const message = webhookMessage(rule, alerts, this.externalUrl());
    for (const url of this.urls) {
      if (this.queued >= NOTIFY_QUEUE_MAX) {
        this.stats.dropped++;
        continue;
      }
      this.queued++;
      const send = this.send(url, message).finally(() => {
        this.queued--;
      });
      this.idle = Promise.all([this.idle, send]).then(() => {});
    }
  }

  private async send(url: string, message: WebhookMessage): Promise<void> {
    try {
      const res = await this.client.request(url, {
        method: 'POST',
        body: message,
        deadlineMs: NOTIFY_DEADLINE_MS,
        // A receiver dedupes by fingerprint and status; a repeat is harmless, a loss is not.
        retry: true,
      });
      if (res.status >= 200 && res.status < 300) this.stats.sent++;
      else {
        this.stats.failed++;
        this.log?.warn({ url, status: res.status }, 'alert webhook refused the notification');
      }
    } catch (err) {
      this.stats.failed++;
      this.log?.warn({ url, err: (err as Error).message }, 'alert webhook unreachable');
    }
  }

  /** Resolves once every queued notification was delivered or given up. */
  drain(): Promise<void> {
    return this.idle;
  }

  async close(): Promise<void> {
    await this.drain();
    await this.client.close();
  }
}
