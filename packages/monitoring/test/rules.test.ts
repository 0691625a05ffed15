// Recording rules and alert webhooks: the rule-file format, what a recording rule writes back
// (renamed, relabelled, stale markers for series that vanish), Alertmanager's webhook JSON, and
// the service end to end: a recorded series queryable, a webhook POSTed when an alert fires and
// again when it resolves.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '@ddia/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint, type WebhookMessage, webhookMessage } from '../src/alerting/webhook.js';
import { ConfigFileError } from '../src/core/errors.js';
import { labelsFromRecord, labelsToRecord } from '../src/core/labels.js';
import { AlertingRule, parseRuleFile, RecordingRule, type RuleSpec } from '../src/core/rules.js';
import { MONITORING_FLAGS, type Monitoring, startMonitoring } from '../src/monitoring-node.js';
import { type Exporter, scrapeConfigYaml, startExporter } from './support/exporter.js';

const L = labelsFromRecord;

function rulesOf(yamlDoc: unknown): RuleSpec[] {
  return parseRuleFile(yamlDoc, 5000);
}

describe('rule files', () => {
  it('reads recording rules beside alerting rules, with group intervals', () => {
    const specs = rulesOf({
      groups: [
        {
          name: 'rec',
          interval: '10s',
          rules: [
            { record: 'job:requests:rate1m', expr: 'sum by (job) (rate(req_total[1m]))', labels: { a: 'b' } },
            { alert: 'High', expr: 'job:requests:rate1m > 10', for: '1m' },
          ],
        },
      ],
    });
    expect(specs.map((s) => [s.kind, s.name, s.intervalMs])).toEqual([
      ['recording', 'job:requests:rate1m', 10_000],
      ['alerting', 'High', 10_000],
    ]);
    expect(specs[0]!.labels).toEqual({ a: 'b' });
  });

  it.each([
    [{ record: 'bad-name', expr: 'up' }, 'not a valid metric name'],
    [{ record: 'ok', expr: 'up', for: '1m' }, "invalid field 'for'"],
    [{ record: 'ok', expr: 'up', annotations: { a: 'b' } }, "invalid field 'annotations'"],
    [{ record: 'ok', alert: 'ok', expr: 'up' }, "only one of 'record' and 'alert'"],
    [{ expr: 'up' }, "one of 'record' or 'alert'"],
    [{ record: 'ok', expr: 'sum(' }, 'expr'],
  ])('refuses %j', (rule, message) => {
    expect(() => rulesOf({ groups: [{ name: 'g', rules: [rule] }] })).toThrow(ConfigFileError);
    expect(() => rulesOf({ groups: [{ name: 'g', rules: [rule] }] })).toThrow(message);
  });

  it('refuses a repeated group name', () => {
    const g = { name: 'g', rules: [{ record: 'x', expr: 'up' }] };
    expect(() => rulesOf({ groups: [g, g] })).toThrow('repeated');
  });
});

describe('recording rules', () => {
  const spec = rulesOf({
    groups: [{ name: 'g', rules: [{ record: 'job:up:sum', expr: 'up', labels: { source: 'rule' } }] }],
  })[0]!;
  if (spec.kind !== 'recording') throw new Error('expected a recording rule');

  it('writes the output renamed and relabelled, and marks series that vanish stale', () => {
    const rule = new RecordingRule(spec);
    const a = L({ __name__: 'up', job: 'a', source: 'scrape' });
    const b = L({ __name__: 'up', job: 'b' });
    const first = rule.record(
      [
        { labels: a, value: 1, t: 0 },
        { labels: b, value: 0, t: 0 },
      ],
      1000,
    );
    expect(first.map((s) => [labelsToRecord(s.labels), s.t, s.value, s.stale ?? false])).toEqual([
      [{ __name__: 'job:up:sum', job: 'a', source: 'rule' }, 1000, 1, false],
      [{ __name__: 'job:up:sum', job: 'b', source: 'rule' }, 1000, 0, false],
    ]);
    // Job b is gone from the next evaluation: a staleness marker ends its recorded series.
    const second = rule.record([{ labels: a, value: 1, t: 0 }], 2000);
    expect(second.map((s) => [labelsToRecord(s.labels).job, s.stale ?? false])).toEqual([
      ['a', false],
      ['b', true],
    ]);
    expect(rule.lastSeries).toBe(1);
  });

  it('fails an evaluation whose output collides after relabelling, writing nothing new', () => {
    const rule = new RecordingRule(spec);
    rule.record([{ labels: L({ __name__: 'up', job: 'a' }), value: 1, t: 0 }], 1000);
    const out = rule.record(
      [
        { labels: L({ __name__: 'up', job: 'a', source: 'x' }), value: 1, t: 0 },
        { labels: L({ __name__: 'up', job: 'a', source: 'y' }), value: 2, t: 0 },
      ],
      2000,
    );
    expect(rule.lastError).toContain('same labelset');
    expect(out.map((s) => s.stale)).toEqual([true]);
  });
});

describe('webhook message (Alertmanager webhook_config JSON)', () => {
  it('has the version 4 shape, fingerprints and times', () => {
    const spec = rulesOf({ groups: [{ name: 'g', rules: [{ alert: 'Down', expr: 'up == 0' }] }] })[0]!;
    if (spec.kind !== 'alerting') throw new Error('expected an alerting rule');
    const rule = new AlertingRule(spec);
    const sample = { labels: L({ __name__: 'up', instance: 'a:1', job: 'j' }), value: 0, t: 0 };
    const fired = AlertingRule.notifiable(rule.update([sample], 1_700_000_000_000));
    const m = webhookMessage(rule, fired, 'http://mon:9090');
    expect(m).toMatchObject({
      version: '4',
      status: 'firing',
      receiver: 'webhook',
      groupKey: '{}:{alertname="Down"}',
      groupLabels: { alertname: 'Down' },
      commonLabels: { alertname: 'Down', instance: 'a:1', job: 'j' },
      truncatedAlerts: 0,
      externalURL: 'http://mon:9090',
    });
    expect(m.alerts[0]).toMatchObject({
      status: 'firing',
      startsAt: '2023-11-14T22:13:20.000Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://mon:9090/graph?g0.expr=up%20%3D%3D%200&g0.tab=1',
    });
    expect(m.alerts[0]!.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    const resolved = AlertingRule.notifiable(rule.update([], 1_700_000_060_000));
    const r = webhookMessage(rule, resolved, 'http://mon:9090');
    expect(r.status).toBe('resolved');
    expect(r.alerts[0]).toMatchObject({ status: 'resolved', endsAt: '2023-11-14T22:14:20.000Z' });
    expect(r.alerts[0]!.fingerprint).toBe(m.alerts[0]!.fingerprint);
  });

  it("fingerprints label sets as Prometheus's FNV-1a 64 does", () => {
    // The empty set hashes to the FNV-64 offset basis; order of labels does not matter.
    expect(fingerprint({})).toBe('cbf29ce484222325');
    expect(fingerprint({ a: '1', b: '2' })).toBe(fingerprint({ b: '2', a: '1' }));
    expect(fingerprint({ a: '1', b: '2' })).not.toBe(fingerprint({ a: '12' }));
  });
});

// biome-ignore lint/suspicious/noExplicitAny: API JSON read loosely, shapes asserted below
type Json = any;

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('recording rules and webhooks in the service', () => {
  let dir: string;
  let exporter: Exporter;
  let port: number;
  let receiver: Server;
  const received: WebhookMessage[] = [];
  let mon: Monitoring;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'monitoring-rules-'));
    exporter = await startExporter();
    port = Number(exporter.address.split(':')[1]);
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += String(d);
      });
      req.on('end', () => {
        received.push(JSON.parse(body) as WebhookMessage);
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    await writeFile(join(dir, 'targets.yml'), scrapeConfigYaml('synthetic', [exporter.address], '200ms'));
    await writeFile(
      join(dir, 'rules.yml'),
      [
        'groups:',
        '  - name: synthetic',
        '    interval: 200ms',
        '    rules:',
        '      - record: job:synthetic_requests:sum',
        '        expr: sum by (job) (synthetic_requests_total)',
        '        labels: { recorded: "yes" }',
        // Reads the series the rule above it just wrote, in the same evaluation.
        '      - record: job:synthetic_requests:sum_x2',
        '        expr: 2 * job:synthetic_requests:sum',
        '      - alert: SyntheticDown',
        '        expr: up{job="synthetic"} == 0',
        // A scrape can time out on a loaded machine; a real outage lasts longer than this.
        '        for: 600ms',
        '        labels: { severity: page }',
        '        annotations: { summary: "synthetic is down" }',
        // An anomaly rule: `up` has always been 1, so 0 is infinitely far outside its band.
        '      - alert: SyntheticUpAnomaly',
        '        expr: up{job="synthetic"}',
        '        anomaly: { direction: down, warmup: 3, z: 2, alpha: 0.5 }',
        '',
      ].join('\n'),
    );
    mon = await startMonitoring(
      parseConfig(
        [
          '--targets',
          join(dir, 'targets.yml'),
          '--rules',
          join(dir, 'rules.yml'),
          '--scrape-interval',
          '200ms',
          '--alert-webhook',
          hook,
          '--log-level',
          'silent',
        ],
        {},
        MONITORING_FLAGS,
      ),
    );
  }, 30_000);

  afterAll(async () => {
    await mon?.close();
    await exporter?.stop().catch(() => {});
    receiver?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const query = async (q: string): Promise<Json[]> => {
    const res = await fetch(`${mon.url}/api/v1/query?${new URLSearchParams({ query: q })}`);
    return ((await res.json()) as Json).data.result;
  };

  it('writes a recording rule back as a series, and lists it in /api/v1/rules', async () => {
    const [recorded] = await until('the recorded series', async () => {
      const r = await query('job:synthetic_requests:sum');
      return r.length > 0 ? r : undefined;
    });
    expect(recorded.metric).toEqual({
      __name__: 'job:synthetic_requests:sum',
      job: 'synthetic',
      recorded: 'yes',
    });
    // 10 per scrape for code 200 and 1 for code 500: the sum is 11 per scrape so far.
    expect(Number(recorded.value[1]) % 11).toBe(0);
    const rules = (await (await fetch(`${mon.url}/api/v1/rules`)).json()) as Json;
    expect(rules.data.groups[0].rules.map((r: Json) => [r.type, r.name, r.health])).toEqual([
      ['recording', 'job:synthetic_requests:sum', 'ok'],
      ['recording', 'job:synthetic_requests:sum_x2', 'ok'],
      ['alerting', 'SyntheticDown', 'ok'],
      ['alerting', 'SyntheticUpAnomaly', 'ok'],
    ]);
    expect(rules.data.groups[0].rules[3].anomaly).toMatchObject({
      alpha: 0.5,
      z: 2,
      direction: 'down',
      series: 1,
    });
    // The anomaly rule writes its score (once warmed up), baseline and band. The next test
    // needs it to have learned that up is 1: the first scrapes may time out on a loaded machine.
    const [zscore] = await until('the anomaly rule warmed up', async () => {
      const r = await query('anomaly_zscore{anomaly_rule="SyntheticUpAnomaly"}');
      const learned = await query('anomaly_baseline{anomaly_rule="SyntheticUpAnomaly"} > 0.95');
      return r.length > 0 && learned.length > 0 ? r : undefined;
    });
    expect(zscore.metric.job).toBe('synthetic');
    const [baseline] = await query('anomaly_baseline{anomaly_rule="SyntheticUpAnomaly"}');
    expect(baseline.metric.job).toBe('synthetic');
    const ratio = await query('job:synthetic_requests:sum_x2 / on(job) job:synthetic_requests:sum');
    expect(ratio.map((r: Json) => r.value[1])).toEqual(['2']);
  });

  it('POSTs the webhook when the alert fires and when it resolves; the recorded series goes stale', async () => {
    await exporter.stop();
    const firing = await until('a firing notification', async () =>
      received.find((m) => m.status === 'firing' && m.groupLabels.alertname === 'SyntheticDown'),
    );
    // The anomaly rule saw the same outage as an anomaly (0 far below its learned baseline).
    const anomaly = await until('a firing anomaly notification', async () =>
      received.find((m) => m.status === 'firing' && m.groupLabels.alertname === 'SyntheticUpAnomaly'),
    );
    expect(anomaly.alerts[0]!.labels).toMatchObject({ alertname: 'SyntheticUpAnomaly', job: 'synthetic' });
    expect(firing.alerts.map((a) => a.labels)).toContainEqual({
      alertname: 'SyntheticDown',
      severity: 'page',
      instance: exporter.address,
      job: 'synthetic',
      lab: 'test',
    });
    expect(firing.alerts[0]!.annotations).toEqual({ summary: 'synthetic is down' });
    // The raw series went stale, so the rule's output vanished and its series got a marker.
    await until(
      'the recorded series stale',
      async () => (await query('job:synthetic_requests:sum')).length === 0,
    );
    expect((await query('count_over_time(job:synthetic_requests:sum[1m])')).length).toBe(1);

    // The target comes back on the same port: the alert resolves.
    exporter = await startExporter(port);
    const back = received.length;
    const resolved = await until('a resolved notification', async () =>
      received
        .slice(back)
        .find((m) => m.status === 'resolved' && m.groupLabels.alertname === 'SyntheticDown'),
    );
    expect(resolved.alerts.every((a) => a.status === 'resolved' && a.endsAt !== '0001-01-01T00:00:00Z')).toBe(
      true,
    );
    expect(mon.notifier.stats.failed).toBe(0);
  }, 40_000);
});
