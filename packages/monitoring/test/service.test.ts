// The service end to end in one process: a synthetic exporter with known series is scraped
// every 100 ms into a disk TSDB and read back through Prometheus's HTTP API. Last, a real
// process: a monitoring node started with --chaos gets its wall clock skewed over HTTP, and a
// second node scraping it sees the skew in /api/v1/clocks and monitoring_clock_offset_seconds;
// then it is paused with SIGSTOP and both failure detectors suspect it until SIGCONT.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig, pollUntil } from '@ddia/common';
import { freePort } from '@ddia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MONITORING_FLAGS, type Monitoring, startMonitoring } from '../src/monitoring-node.js';
import { type Exporter, scrapeConfigYaml, startExporter } from './support/exporter.js';

// biome-ignore lint/suspicious/noExplicitAny: API JSON read loosely, shapes asserted below
type Json = any;

const RULES = `groups:
  - name: lab
    rules:
      - alert: TargetDown
        expr: up == 0
        for: 300ms
        labels: { severity: page }
        annotations: { summary: "{{ $labels.instance }} is down ({{ $value }})" }
      - alert: Always
        expr: vector(1)
`;

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('monitoring service', () => {
  let dir: string;
  let exporter: Exporter;
  let down: Exporter;
  let mon: Monitoring;
  const get = async (path: string) => {
    const res = await fetch(`${mon.url}${path}`);
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      body: (await res.json()) as Json,
    };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'monitoring-svc-'));
    exporter = await startExporter();
    down = await startExporter();
    await writeFile(
      join(dir, 'targets.yml'),
      scrapeConfigYaml('synthetic', [exporter.address, down.address], '100ms'),
    );
    await writeFile(join(dir, 'rules.yml'), RULES);
    const config = parseConfig(
      [
        '--data-dir',
        join(dir, 'data'),
        '--targets',
        join(dir, 'targets.yml'),
        '--rules',
        join(dir, 'rules.yml'),
        '--scrape-interval',
        '100ms',
        '--log-level',
        'silent',
      ],
      {},
      MONITORING_FLAGS,
    );
    mon = await startMonitoring(config);
    await until('scrapes', async () => exporter.scrapes >= 5 && down.scrapes >= 5);
  });

  afterAll(async () => {
    await mon?.close();
    await exporter?.stop();
    await down?.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  it('answers an instant query in Prometheus JSON with target labels and up', async () => {
    const { status, body } = await get('/api/v1/query?query=up');
    expect(status).toBe(200);
    expect(body.status).toBe('success');
    expect(body.data.resultType).toBe('vector');
    const instances = body.data.result.map((r: Json) => r.metric.instance).sort();
    expect(instances).toEqual([exporter.address, down.address].sort());
    for (const r of body.data.result) {
      expect(r.metric).toMatchObject({ __name__: 'up', job: 'synthetic', lab: 'test' });
      expect(r.value[1]).toBe('1');
      expect(typeof r.value[0]).toBe('number');
    }
    const dur = await get('/api/v1/query?query=scrape_duration_seconds');
    expect(dur.body.data.result).toHaveLength(2);
    expect(Number(dur.body.data.result[0].value[1])).toBeGreaterThan(0);
  });

  it('keeps the exporter label values with escapes and computes rates over the scraped counter', async () => {
    // Scrapes time out after 100 ms: on a loaded machine one can fail (up=0, series stale), so
    // wait for a healthy moment rather than assume every scrape succeeded.
    const t = await until('the gauge', async () => {
      const g = await get('/api/v1/query?query=synthetic_temperature');
      return g.body.data.result.length > 0 ? g : undefined;
    });
    expect(t.body.data.result[0].metric.room).toBe('lab "A"');
    // The counter grows by 10 per scrape at 10 scrapes/s: rate ≈ 100/s (timing jitter allowed).
    await until('a second of samples', async () => exporter.scrapes >= 15);
    const r = await until('a rate', async () => {
      const x = await get(
        `/api/v1/query?query=${encodeURIComponent(`rate(synthetic_requests_total{code="200",instance="${exporter.address}"}[1s])`)}`,
      );
      return x.body.data.result.length > 0 ? x : undefined;
    });
    const rate = Number(r.body.data.result[0].value[1]);
    expect(rate).toBeGreaterThan(40);
    expect(rate).toBeLessThan(200);
    const q = await get(
      `/api/v1/query?query=${encodeURIComponent('histogram_quantile(0.5, sum by (le) (synthetic_latency_seconds_bucket))')}`,
    );
    // Half of the observations are ≤ 0.1 exactly: the median is the bucket's upper bound.
    expect(Number(q.body.data.result[0].value[1])).toBeCloseTo(0.1, 6);
  });

  it('answers range queries, series, labels and label values', async () => {
    let now = 0;
    const range = await until('both targets up', async () => {
      now = Date.now() / 1000;
      const x = await get(`/api/v1/query_range?query=up&start=${now - 1}&end=${now}&step=0.25`);
      return x.body.data.result[0]?.values[4]?.[1] === '1' ? x : undefined;
    });
    expect(range.status).toBe(200);
    expect(range.body.data.resultType).toBe('matrix');
    expect(range.body.data.result[0].values.length).toBe(5);
    expect(range.body.data.result[0].values[0][0]).toBeCloseTo(now - 1, 3);
    expect(range.body.data.result[0].values[4]).toEqual([expect.closeTo(now, 3), '1']);
    const post = await fetch(`${mon.url}/api/v1/query_range`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: 'up', start: String(now - 2), end: String(now), step: '1s' }),
    });
    expect(((await post.json()) as Json).data.result).toHaveLength(2);

    const series = await get(
      `/api/v1/series?${new URLSearchParams({ 'match[]': 'synthetic_requests_total' })}`,
    );
    expect(series.body.data).toHaveLength(4);
    expect(series.body.data.map((s: Json) => s.code).sort()).toEqual(['200', '200', '500', '500']);
    const labels = await get('/api/v1/labels');
    expect(labels.body.data).toEqual(
      expect.arrayContaining(['__name__', 'code', 'instance', 'job', 'le', 'room']),
    );
    const values = await get('/api/v1/label/__name__/values');
    expect(values.body.data).toEqual(
      expect.arrayContaining(['scrape_duration_seconds', 'synthetic_temperature', 'up']),
    );
    const job = await get(
      `/api/v1/label/code/values?${new URLSearchParams({ 'match[]': '{job="synthetic"}' })}`,
    );
    expect(job.body.data).toEqual(['200', '500']);
  });

  it('rejects bad PromQL and parameters with 400 bad_data, with the position', async () => {
    const bad = await get(`/api/v1/query?query=${encodeURIComponent('sum(up')}`);
    expect(bad.status).toBe(400);
    expect(bad.type).toMatch(/application\/json/);
    expect(bad.body).toMatchObject({ status: 'error', errorType: 'bad_data', position: expect.any(Number) });
    expect(bad.body.error).toMatch(/^invalid parameter "query": 1:\d+: parse error: /);
    const badTime = await get('/api/v1/query?query=up&time=yesterday');
    expect(badTime.status).toBe(400);
    expect(badTime.body.error).toBe(
      'invalid parameter "time": cannot parse "yesterday" to a valid timestamp',
    );
    const badStep = await get('/api/v1/query_range?query=up&start=1&end=2&step=0');
    expect(badStep.status).toBe(400);
    const tooMany = await get('/api/v1/query_range?query=up&start=0&end=100000&step=1');
    expect(tooMany.body.error).toMatch(/exceeded maximum resolution of 11,000 points/);
    const noMatch = await get('/api/v1/series');
    expect(noMatch.body).toMatchObject({
      status: 'error',
      errorType: 'bad_data',
      error: 'no match[] parameter provided',
    });
    const badLabel = await get('/api/v1/label/1bad/values');
    expect(badLabel.status).toBe(400);
    const exec = await get(`/api/v1/query?query=${encodeURIComponent('rate(up)')}`);
    expect(exec.status).toBe(400);
    expect(exec.body.errorType).toBe('bad_data');
    // Outside /api/v1 errors stay problem+json.
    const res = await fetch(`${mon.url}/nope`);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });

  it('lists targets in Prometheus shape', async () => {
    const { body } = await get('/api/v1/targets');
    expect(body.data.activeTargets).toHaveLength(2);
    const t = body.data.activeTargets.find((x: Json) => x.labels.instance === exporter.address);
    expect(t).toMatchObject({
      scrapePool: 'synthetic',
      scrapeUrl: `http://${exporter.address}/metrics`,
      health: 'up',
      lastError: '',
      scrapeInterval: '0.1s',
      labels: { job: 'synthetic', instance: exporter.address, lab: 'test' },
    });
    expect(t.lastScrape).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('marks a vanished series stale at once, instead of for the 5-minute lookback', async () => {
    const sel = `synthetic_temperature{instance="${exporter.address}"}`;
    expect((await get(`/api/v1/query?query=${encodeURIComponent(sel)}`)).body.data.result).toHaveLength(1);
    exporter.hideGauge = true;
    const before = exporter.scrapes;
    await until('two scrapes without the gauge', async () => exporter.scrapes >= before + 2);
    expect((await get(`/api/v1/query?query=${encodeURIComponent(sel)}`)).body.data.result).toHaveLength(0);
    exporter.hideGauge = false;
  });

  it('takes a dead target down: up=0, its series stale, φ rising, TargetDown pending then firing', async () => {
    await down.stop();
    const upDown = await until('up == 0', async () => {
      const { body } = await get(
        `/api/v1/query?query=${encodeURIComponent(`up{instance="${down.address}"} == 0`)}`,
      );
      return body.data.result.length === 1 ? body : undefined;
    });
    expect(upDown.data.result[0].value[1]).toBe('0');
    const stale = await get(
      `/api/v1/query?query=${encodeURIComponent(`synthetic_requests_total{instance="${down.address}"}`)}`,
    );
    expect(stale.body.data.result).toHaveLength(0);
    const target = (await get('/api/v1/targets')).body.data.activeTargets.find(
      (x: Json) => x.labels.instance === down.address,
    );
    expect(target.health).toBe('down');
    expect(target.lastError).not.toBe('');

    const states: string[] = [];
    const firing = await until('TargetDown firing', async () => {
      await mon.evaluateRules();
      const { body } = await get('/api/v1/alerts');
      const a = body.data.alerts.find((x: Json) => x.labels.alertname === 'TargetDown');
      if (a) states.push(a.state);
      return a?.state === 'firing' ? a : undefined;
    });
    expect(states[0]).toBe('pending');
    expect(firing.labels).toMatchObject({ severity: 'page', instance: down.address, job: 'synthetic' });
    expect(firing.annotations.summary).toBe(`${down.address} is down (0)`);
    const always = (await get('/api/v1/alerts')).body.data.alerts.find(
      (x: Json) => x.labels.alertname === 'Always',
    );
    expect(always.state).toBe('firing'); // no `for:` fires on the first evaluation
    const rules = await get('/api/v1/rules');
    expect(rules.body.data.groups[0].rules[0]).toMatchObject({
      name: 'TargetDown',
      duration: 0.3,
      state: 'firing',
    });
    const alertsSeries = await get(
      `/api/v1/query?query=${encodeURIComponent('ALERTS{alertname="TargetDown"}')}`,
    );
    expect(alertsSeries.body.data.result.length).toBeGreaterThanOrEqual(1);

    const phi = await until('φ suspects the dead target', async () => {
      const { body } = await get('/api/v1/failure-detector');
      const d = body.data.find((x: Json) => x.instance === down.address);
      return d?.suspect ? d : undefined;
    });
    expect(phi.phi).toBeGreaterThan(8);
    const alive = (await get('/api/v1/failure-detector')).body.data.find(
      (x: Json) => x.instance === exporter.address,
    );
    expect(alive.suspect).toBe(false);
    const metrics = await (await fetch(`${mon.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`monitoring_target_phi\\{[^}]*instance="${down.address}"`));
    expect(metrics).toMatch(/monitoring_tsdb_bytes_per_sample\{[^}]*\} \d/);
    const stored = await get(
      `/api/v1/query?query=${encodeURIComponent(`monitoring_phi{instance="${down.address}"}`)}`,
    );
    expect(Number(stored.body.data.result[0].value[1])).toBeGreaterThan(0);
  });

  it('serves the dashboard page', async () => {
    const res = await fetch(`${mon.url}/`);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain('/api/v1/query_range');
    expect(html).toContain('Failure detector');
  });
});

/** Another chapter's service: the skew and the stamps come from common's createService. */
const KV_STORE_MAIN = fileURLToPath(new URL('../../kv-store/dist/main.js', import.meta.url));

describe('a --chaos clock skew and a pause on a real lab process (a kv-store node)', () => {
  it('a skew of a kv-store node shows up in the offset monitoring estimates from its answers, and heals; a SIGSTOP pause is suspected by φ and the fixed timeout, and cleared on SIGCONT', async () => {
    const port = await freePort();
    const target = `127.0.0.1:${port}`;
    const kvDir = await mkdtemp(join(tmpdir(), 'monitoring-kv-'));
    const child: ChildProcess = spawn(
      process.execPath,
      [
        KV_STORE_MAIN,
        '--id',
        'n1',
        '--port',
        String(port),
        '--data-dir',
        kvDir,
        '--chaos',
        '--log-level',
        'error',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const watcher = await startMonitoring(
      parseConfig(
        ['--scrape', `lab=${target}`, '--scrape-interval', '100ms', '--log-level', 'silent'],
        {},
        MONITORING_FLAGS,
      ),
    );
    try {
      await pollUntil(
        () =>
          fetch(`http://${target}/health`).then(
            (r) => r.ok,
            () => false,
          ),
        {
          timeoutMs: 30_000,
          what: 'the --chaos node to answer /health',
        },
      );
      const skew = (body: unknown) =>
        fetch(`http://${target}/chaos/clock-skew`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      // Bad input is a 400 problem+json; a node without --chaos has no such route.
      const bad = await skew({ ms: 'soon' });
      expect(bad.status).toBe(400);
      expect(bad.headers.get('content-type')).toContain('application/problem+json');
      expect((await fetch(`${watcher.url}/chaos/clock-skew`, { method: 'POST' })).status).toBe(404);

      const clock = async () => {
        const body = (await (await fetch(`${watcher.url}/api/v1/clocks`)).json()) as {
          data: { instance: string; offsetMs: number; errorMs: number }[];
        };
        return body.data.find((c) => c.instance === target);
      };
      /** Waits until the estimate's bounds hold `ms` and are tighter than 250 ms. */
      const settlesAt = (ms: number) =>
        pollUntil(
          async () => {
            const c = await clock();
            return c && Math.abs(c.offsetMs - ms) <= c.errorMs && c.errorMs < 250 ? c : undefined;
          },
          { timeoutMs: 30_000, what: `the estimated offset to hold ${ms} ms` },
        );
      // The same machine: the offset starts near 0 (millisecond x-ddia-wall-ms stamps).
      await settlesAt(0);
      expect(((await (await skew({ ms: 5000 })).json()) as { clockSkewMs: number }).clockSkewMs).toBe(5000);
      const skewed = await settlesAt(5000);
      expect(skewed.offsetMs).toBeGreaterThan(4700);
      // Stored as a series too, so the dashboard and alert rules can use it.
      await pollUntil(
        async () => {
          const q = encodeURIComponent(`monitoring_clock_offset_seconds{instance="${target}"} > 4.5`);
          const r = (await (await fetch(`${watcher.url}/api/v1/query?query=${q}`)).json()) as {
            data: { result: unknown[] };
          };
          return r.data.result.length === 1;
        },
        { timeoutMs: 30_000, what: 'monitoring_clock_offset_seconds to show the skew' },
      );
      expect((await skew({ ms: 0 })).status).toBe(200);
      await settlesAt(0);

      // A process pause (SIGSTOP: a GC stall, a frozen VM): the node's socket still accepts,
      // but no scrape is answered, so no heartbeat arrives. Both detectors come to suspect it,
      // and both clear once it runs again (SIGCONT): the chapter's "timeouts and unbounded delays".
      const detector = async () => {
        const body = (await (await fetch(`${watcher.url}/api/v1/failure-detector`)).json()) as {
          data: { instance: string; phi: number | null; suspect: boolean; fixedTimeoutSuspect: boolean }[];
        };
        return body.data.find((d) => d.instance === target);
      };
      await pollUntil(async () => (await detector())?.suspect === false, {
        timeoutMs: 30_000,
        what: 'φ to trust the running node',
      });
      child.kill('SIGSTOP');
      const paused = await pollUntil(
        async () => {
          const d = await detector();
          return d?.suspect && d.fixedTimeoutSuspect ? d : undefined;
        },
        { timeoutMs: 30_000, what: 'both detectors to suspect the paused node' },
      );
      expect(paused.phi === null || paused.phi > 8).toBe(true);
      child.kill('SIGCONT');
      await pollUntil(
        async () => {
          const d = await detector();
          return d !== undefined && !d.suspect && !d.fixedTimeoutSuspect;
        },
        { timeoutMs: 30_000, what: 'both detectors to trust the resumed node again' },
      );
    } finally {
      child.kill('SIGCONT');
      await watcher.close();
      child.kill('SIGTERM');
      await new Promise((r) =>
        child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r),
      );
      await rm(kvDir, { recursive: true, force: true });
    }
  }, 90_000);
});
