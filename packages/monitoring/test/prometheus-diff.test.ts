// Differential test against real Prometheus (Debian's `prometheus` and `promtool`, 2.42 here):
// one seeded hour of lab series is backfilled into Prometheus with `promtool tsdb
// create-blocks-from openmetrics` and ingested into ours; every query of the corpus
// (test/differential/corpus.ts) then goes to both HTTP APIs and the answers must agree.
// Skips, saying why, when prometheus or promtool is not installed (apt-get install prometheus).
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HttpClient, parseConfig } from '@ddia/common';
import { freePort, longRun, startCluster } from '@ddia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MONITORING_FLAGS, type Monitoring, startMonitoring } from '../src/monitoring-node.js';
import {
  ABSOLUTE_TOLERANCE,
  INSTANT_QUERIES,
  RANGE_QUERIES,
  RELATIVE_TOLERANCE,
} from './differential/corpus.js';
import { LAB_QUERIES, LAB_TOLERANCE, LAB_UNCOMPARABLE_RE } from './differential/lab-corpus.js';
import { type Exporter, scrapeConfigYaml, startExporter } from './support/exporter.js';
import { labData, toOpenMetrics } from './support/lab-data.js';

function which(cmd: string): string | null {
  try {
    return execFileSync('which', [cmd], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

const PROMETHEUS = which('prometheus');
const PROMTOOL = which('promtool');
const execFileAsync = promisify(execFile);
const SKIP_REASON =
  PROMETHEUS && PROMTOOL ? '' : 'prometheus/promtool not installed (Debian: apt-get install prometheus)';
if (SKIP_REASON) console.warn(`prometheus differential test skipped: ${SKIP_REASON}`);

interface Element {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

function close(a: string, b: string, relative = RELATIVE_TOLERANCE): boolean {
  if (a === b) return true;
  const x = Number(a);
  const y = Number(b);
  if (Number.isNaN(x) && Number.isNaN(y)) return true;
  if (relative === Number.POSITIVE_INFINITY) return true;
  return Math.abs(x - y) <= ABSOLUTE_TOLERANCE + relative * Math.max(Math.abs(x), Math.abs(y));
}

/** Differences between two /api/v1/query(_range) data objects, as readable strings. */
function compare(
  ours: { resultType: string; result: unknown },
  theirs: { resultType: string; result: unknown },
  relative = RELATIVE_TOLERANCE,
): string[] {
  if (ours.resultType !== theirs.resultType) return [`resultType ${ours.resultType} != ${theirs.resultType}`];
  if (ours.resultType === 'scalar' || ours.resultType === 'string') {
    const [ta, va] = ours.result as [number, string];
    const [tb, vb] = theirs.result as [number, string];
    return ta === tb && close(va, vb, relative)
      ? []
      : [`${JSON.stringify(ours.result)} != ${JSON.stringify(theirs.result)}`];
  }
  const key = (e: Element) => JSON.stringify(Object.entries(e.metric).sort());
  const a = new Map((ours.result as Element[]).map((e) => [key(e), e]));
  const b = new Map((theirs.result as Element[]).map((e) => [key(e), e]));
  const diffs: string[] = [];
  for (const k of b.keys()) if (!a.has(k)) diffs.push(`missing in ours: ${k}`);
  for (const k of a.keys()) if (!b.has(k)) diffs.push(`extra in ours: ${k}`);
  for (const [k, ea] of a) {
    const eb = b.get(k);
    if (!eb) continue;
    const pa = ea.values ?? [ea.value!];
    const pb = eb.values ?? [eb.value!];
    if (pa.length !== pb.length) {
      diffs.push(`${k}: ${pa.length} points != ${pb.length}`);
      continue;
    }
    pa.forEach((p, i) => {
      const q = pb[i]!;
      if (Math.abs(p[0] - q[0]) > 1e-6 || !close(p[1], q[1], relative))
        diffs.push(`${k}[${i}]: ${JSON.stringify(p)} != ${JSON.stringify(q)}`);
    });
  }
  return diffs;
}

async function startPrometheus(
  dir: string,
  config: string,
  storage: string,
): Promise<{ child: ChildProcess; url: string }> {
  await writeFile(join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    PROMETHEUS!,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${storage}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=15d',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  const deadline = Date.now() + 40_000;
  for (;;) {
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { child, url };
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`prometheus did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const RECORDING_RULES = `groups:
  - name: recorded
    interval: 1s
    rules:
      - record: code:synthetic_requests:sum
        expr: sum by (code, job) (synthetic_requests_total)
        labels: { recorded: "yes" }
`;

describe.skipIf(SKIP_REASON !== '')('differential: ours and Prometheus scraping the same exporter', () => {
  let dir: string;
  let exporter: Exporter;
  let prometheus: ChildProcess | undefined;
  let promUrl: string;
  let mon: Monitoring;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'monitoring-scrape-diff-'));
    exporter = await startExporter();
    // The same recording rule in both, evaluated every second.
    await writeFile(join(dir, 'rules.yml'), RECORDING_RULES);
    const config = scrapeConfigYaml('synthetic', [exporter.address], '1s')
      .replace('global:\n', 'global:\n  evaluation_interval: 1s\n')
      .concat(`rule_files: ['${join(dir, 'rules.yml')}']\n`);
    await writeFile(join(dir, 'targets.yml'), config);
    mon = await startMonitoring(
      parseConfig(
        ['--log-level', 'silent', '--targets', join(dir, 'targets.yml'), '--rules', join(dir, 'rules.yml')],
        {},
        MONITORING_FLAGS,
      ),
    );
    ({ child: prometheus, url: promUrl } = await startPrometheus(dir, config, join(dir, 'prom')));
  }, 60_000);

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    await mon?.close();
    await exporter?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('stores the same series with the same labels (target labels, exported_ renames, histogram families)', async () => {
    const match = { 'match[]': '{job="synthetic"}' };
    const labelSets = async (base: string) => {
      const res = await fetch(`${base}/api/v1/series?${new URLSearchParams(match)}`);
      const body = (await res.json()) as { data: Record<string, string>[] };
      return body.data
        .filter(
          (s) =>
            // Prometheus's extra scrape series, and our failure detector's own series.
            s.__name__ !== 'scrape_series_added' &&
            !s.__name__!.startsWith('scrape_samples_post') &&
            !s.__name__!.startsWith('monitoring_'),
        )
        .map((s) => JSON.stringify(Object.entries(s).sort()))
        .sort();
    };
    const deadline = Date.now() + 30_000;
    let ours: string[] = [];
    let theirs: string[] = [];
    while (Date.now() < deadline) {
      [ours, theirs] = await Promise.all([labelSets(mon.url), labelSets(promUrl)]);
      if (theirs.length > 0 && ours.length === theirs.length) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(theirs.length).toBeGreaterThan(10);
    expect(ours).toEqual(theirs);
    expect(ours.some((s) => s.includes('"exported_job","inner"'))).toBe(true);
    const up = await Promise.all(
      [mon.url, promUrl].map(async (base) => {
        const res = await fetch(`${base}/api/v1/query?query=up`);
        const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
        return body.data.result.map((r) => r.value[1]);
      }),
    );
    expect(up).toEqual([['1'], ['1']]);
  });

  it('writes the same recording-rule series as Prometheus', async () => {
    const sets = async (base: string) => {
      const res = await fetch(
        `${base}/api/v1/series?${new URLSearchParams({ 'match[]': 'code:synthetic_requests:sum' })}`,
      );
      const body = (await res.json()) as { data: Record<string, string>[] };
      return body.data.map((x) => JSON.stringify(Object.entries(x).sort())).sort();
    };
    const deadline = Date.now() + 20_000;
    let ours: string[] = [];
    let theirs: string[] = [];
    while (Date.now() < deadline) {
      [ours, theirs] = await Promise.all([sets(mon.url), sets(promUrl)]);
      if (ours.length === 2 && theirs.length === 2) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(theirs).toHaveLength(2);
    expect(ours).toEqual(theirs);
    const rules = async (base: string) => {
      const body = (await (await fetch(`${base}/api/v1/rules`)).json()) as {
        data: {
          groups: { name: string; rules: { type: string; name: string; query: string; health: string }[] }[];
        };
      };
      return body.data.groups.map((g) => [g.name, g.rules.map((r) => [r.type, r.name, r.health])]);
    };
    expect(await rules(mon.url)).toEqual(await rules(promUrl));
  });

  // Prometheus's staleness (prometheus/docs/querying/basics.md, "Staleness"): a series missing
  // from a scrape, or every series of a target whose scrape fails, gets a stale marker, and an
  // instant query stops returning it at once instead of for the 5-minute lookback. Both systems
  // scrape the same exporter; at the same query time their answers must have the same series.
  it('makes a vanished series and a dead target stale exactly as Prometheus does', async () => {
    const instantSets = async (base: string, q: string, timeS: number) => {
      const res = await fetch(
        `${base}/api/v1/query?${new URLSearchParams({ query: q, time: String(timeS) })}`,
      );
      const body = (await res.json()) as { status: string; data: { result: Element[] } };
      expect(body.status, `${q} on ${base}`).toBe('success');
      return body.data.result.map((e) => JSON.stringify(Object.entries(e.metric).sort())).sort();
    };
    const waitBoth = async (q: string, done: (ours: string[], theirs: string[]) => boolean) => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const t = Date.now() / 1000;
        const [ours, theirs] = await Promise.all([instantSets(mon.url, q, t), instantSets(promUrl, q, t)]);
        if (done(ours, theirs)) return t;
        if (Date.now() > deadline) throw new Error(`${q}: ours ${ours}, Prometheus ${theirs}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const diffsAt = async (queries: string[], timeS: number) => {
      const diffs: string[] = [];
      for (const q of queries) {
        const [ours, theirs] = await Promise.all([
          instantSets(mon.url, q, timeS),
          instantSets(promUrl, q, timeS),
        ]);
        if (JSON.stringify(ours) !== JSON.stringify(theirs))
          diffs.push(`${q} at ${timeS}: ours ${ours.join(' ')} | Prometheus ${theirs.join(' ')}`);
      }
      return diffs;
    };
    const sameAt = async (queries: string[], timeS: number) => {
      expect(await diffsAt(queries, timeS)).toEqual([]);
    };
    // On a loaded machine one side's scrape can time out near the chosen time (every series of
    // the target then goes stale for a moment, in that side only): retry at a later time.
    const sameSoon = async (queries: string[], fromS: number) => {
      let diffs = await diffsAt(queries, fromS);
      for (let k = 0; k < 20 && diffs.length > 0; k++) {
        await new Promise((r) => setTimeout(r, 500));
        diffs = await diffsAt(queries, Date.now() / 1000);
      }
      expect(diffs).toEqual([]);
    };
    const t0 = await waitBoth('synthetic_temperature', (a, b) => a.length === 1 && b.length === 1);

    // 1. The gauge vanishes from the exposition: stale at the next scrape, in both.
    exporter.hideGauge = true;
    const t1 = await waitBoth('synthetic_temperature', (a, b) => a.length === 0 && b.length === 0);
    await sameSoon(
      [
        'synthetic_temperature',
        'absent(synthetic_temperature)',
        // The samples are still there: only the newest one is the marker.
        'count_over_time(synthetic_temperature[5m]) > 0',
        'synthetic_requests_total',
      ],
      t1,
    );
    // Before the marker, both still answer with the series.
    await sameAt(['synthetic_temperature'], t0);
    expect(await instantSets(mon.url, 'synthetic_temperature', t0)).toHaveLength(1);

    // 2. The target dies: up = 0 and every series it exported goes stale, in both.
    await exporter.stop();
    const t2 = await waitBoth('up == 0', (a, b) => a.length === 1 && b.length === 1);
    await waitBoth('synthetic_requests_total', (a, b) => a.length === 0 && b.length === 0);
    await sameSoon(
      [
        'up',
        'synthetic_requests_total',
        'synthetic_latency_seconds_bucket',
        'absent(synthetic_requests_total)',
        'count_over_time(synthetic_requests_total[5m]) > 0',
        // The recording rule's output went stale with its input, in both.
        'code:synthetic_requests:sum',
      ],
      Math.max(t2, Date.now() / 1000),
    );
  }, 60_000);
});

describe.skipIf(SKIP_REASON !== '')('differential: ours vs Prometheus on the same hour of data', () => {
  let dir: string;
  let prometheus: ChildProcess | undefined;
  let promUrl: string;
  let mon: Monitoring;
  // One hour ending a few minutes ago, on a whole minute (the blocks must be inside retention).
  const endMs = Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000;
  const startMs = endMs - 60 * 60_000;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'monitoring-diff-'));
    const series = labData(42, startMs, endMs - startMs);
    await writeFile(join(dir, 'data.om'), toOpenMetrics(series));
    execFileSync(
      PROMTOOL!,
      ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'data.om'), join(dir, 'prom')],
      {
        stdio: 'pipe',
      },
    );
    const started = startPrometheus(
      dir,
      'global:\n  scrape_interval: 15s\nscrape_configs: []\n',
      join(dir, 'prom'),
    );

    mon = await startMonitoring(
      parseConfig(['--log-level', 'silent', '--scrape-interval', '15s'], {}, MONITORING_FLAGS),
    );
    for (const s of series) {
      await mon.storage.ingest(s.timestamps.map((t, i) => ({ labels: s.labels, t, value: s.values[i]! })));
    }

    ({ child: prometheus, url: promUrl } = await started);
  }, 60_000);

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    await mon?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const query = async (base: string, path: string, params: Record<string, string>) => {
    const res = await fetch(`${base}${path}?${new URLSearchParams(params)}`);
    return (await res.json()) as {
      status: string;
      data: { resultType: string; result: unknown };
      error?: string;
    };
  };

  it('agrees on every instant query of the corpus at several times', async () => {
    const failures: string[] = [];
    let compared = 0;
    let nonEmpty = 0;
    for (const minute of [7, 31, 59, 62]) {
      const time = String((startMs + minute * 60_000 + 1234) / 1000);
      for (const q of INSTANT_QUERIES) {
        const [ours, theirs] = await Promise.all([
          query(mon.url, '/api/v1/query', { query: q, time }),
          query(promUrl, '/api/v1/query', { query: q, time }),
        ]);
        expect(theirs.status, `prometheus on ${q}: ${theirs.error}`).toBe('success');
        if (ours.status !== 'success') {
          failures.push(`${q} @${time}: ours failed: ${ours.error}`);
          continue;
        }
        const diffs = compare(ours.data, theirs.data);
        if (diffs.length > 0) failures.push(`${q} @${time}: ${diffs.slice(0, 3).join('; ')}`);
        compared++;
        if (
          !Array.isArray(theirs.data.result) ||
          theirs.data.result.length === 0 ||
          typeof theirs.data.result[0] !== 'object'
        )
          nonEmpty += theirs.data.resultType === 'scalar' ? 1 : 0;
        else nonEmpty++;
      }
    }
    expect(failures).toEqual([]);
    expect(compared).toBe(INSTANT_QUERIES.length * 4);
    // The data really is there: all but a few answers (e.g. `> 20` when it is cold) have series.
    expect(nonEmpty).toBeGreaterThan(compared * 0.8);
  });

  it('agrees on every range query of the corpus over the hour', async () => {
    const failures: string[] = [];
    const params = { start: String(startMs / 1000), end: String(endMs / 1000 + 120), step: '37' };
    for (const q of RANGE_QUERIES) {
      const [ours, theirs] = await Promise.all([
        query(mon.url, '/api/v1/query_range', { query: q, ...params }),
        query(promUrl, '/api/v1/query_range', { query: q, ...params }),
      ]);
      expect(theirs.status, `prometheus on ${q}: ${theirs.error}`).toBe('success');
      if (ours.status !== 'success') {
        failures.push(`${q}: ours failed: ${ours.error}`);
        continue;
      }
      const diffs = compare(ours.data, theirs.data);
      if (diffs.length > 0) failures.push(`${q}: ${diffs.slice(0, 3).join('; ')}`);
      const points = (theirs.data.result as Element[]).reduce((n, e) => n + (e.values?.length ?? 0), 0);
      expect(points, q).toBeGreaterThan(50);
    }
    expect(failures).toEqual([]);
  });

  it('agrees on series, labels and label values', async () => {
    const range = { start: String(startMs / 1000), end: String(endMs / 1000) };
    for (const [path, params] of [
      ['/api/v1/series', { 'match[]': 'lab_requests_total{job="api"}', ...range }],
      ['/api/v1/labels', {}],
      ['/api/v1/label/instance/values', {}],
      ['/api/v1/label/__name__/values', {}],
      ['/api/v1/label/le/values', { 'match[]': '{job="db"}', ...range }],
    ] as const) {
      const [ours, theirs] = await Promise.all([query(mon.url, path, params), query(promUrl, path, params)]);
      const norm = (d: unknown) =>
        Array.isArray(d)
          ? d.map((x) => JSON.stringify(typeof x === 'object' ? Object.entries(x).sort() : x)).sort()
          : d;
      expect(norm(ours.data), path).toEqual(norm(theirs.data));
    }
  });

  it('answers promtool query instant and range exactly as Prometheus does (its HTTP API, unchanged)', async () => {
    const time = String(Math.round((startMs + 31 * 60_000) / 1000));
    const range = ['--start', String(Math.round(startMs / 1000)), '--end', String(Math.round(endMs / 1000))];
    for (const [mode, flags, expr] of [
      ['instant', ['--time', time], 'count by (job) (lab_requests_total)'],
      ['range', [...range, '--step', '5m'], 'max by (job) (lab_temperature)'],
    ] as const) {
      // Not execFileSync: our server answers on this process's event loop.
      const run = async (server: string) =>
        (await execFileAsync(PROMTOOL!, ['query', mode, ...flags, server, expr], { timeout: 20_000 })).stdout;
      const theirs = await run(promUrl);
      expect(theirs.trim().length, `${mode}: prometheus answered nothing`).toBeGreaterThan(0);
      expect(await run(mon.url), mode).toBe(theirs);
    }
  });

  it('rejects the same bad queries with the same errorType', async () => {
    for (const q of ['sum(lab_temperature', 'rate(lab_temperature)', 'lab_temperature[5m] + 1', '{}']) {
      const [ours, theirs] = await Promise.all([
        fetch(`${mon.url}/api/v1/query?${new URLSearchParams({ query: q })}`),
        fetch(`${promUrl}/api/v1/query?${new URLSearchParams({ query: q })}`),
      ]);
      const [a, b] = (await Promise.all([ours.json(), theirs.json()])) as { errorType: string }[];
      expect([q, ours.status, a!.errorType]).toEqual([q, theirs.status, b!.errorType]);
    }
  });
});

const KV_STORE_MAIN = fileURLToPath(new URL('../../kv-store/dist/main.js', import.meta.url));
/** How long the client writes and reads while both scrape: "a few minutes" with DDIA_LONG=1. */
const LAB_LOAD_MS = longRun() ? 180_000 : 6_000;
/** One node in CI (three processes took 25 s to start on two loaded cores), three with DDIA_LONG=1. */
const LAB_NODES = longRun() ? 3 : 1;
const LAB_SCRAPE_INTERVAL_S = 1;
/** Scrapes both must have taken after a change, so that the counters' final values are stored. */
const SETTLE_SCRAPES = 3;
/** Keys the load writes and reads, over and over. */
const KEYS = 10;

describe.skipIf(SKIP_REASON !== '')(
  'differential: ours and Prometheus scraping a live kv-store cluster',
  () => {
    it(
      'the same series, and the corpus (test/differential/lab-corpus.ts) within its tolerances, after a load',
      async () => {
        const dir = await mkdtemp(join(tmpdir(), 'monitoring-lab-diff-'));
        const cluster = await startCluster({
          nodes: LAB_NODES,
          readyTimeoutMs: 60_000,
          command: (node) => ({ args: [KV_STORE_MAIN, ...node.flags, '--log-level', 'warn'] }),
        });
        let prometheus: ChildProcess | undefined;
        let mon: Monitoring | undefined;
        const http = new HttpClient({ retries: 2 });
        const settle = () =>
          new Promise((r) => setTimeout(r, (SETTLE_SCRAPES + 0.5) * LAB_SCRAPE_INTERVAL_S * 1000));
        try {
          const addresses = cluster.urls().map((u) => new URL(u).host);
          const config = scrapeConfigYaml('kv', addresses, `${LAB_SCRAPE_INTERVAL_S}s`);
          await writeFile(join(dir, 'targets.yml'), config);
          mon = await startMonitoring(
            parseConfig(
              ['--log-level', 'silent', '--targets', join(dir, 'targets.yml')],
              {},
              MONITORING_FLAGS,
            ),
          );
          let promUrl: string;
          ({ child: prometheus, url: promUrl } = await startPrometheus(dir, config, join(dir, 'prom')));
          const query = async (base: string, q: string, timeS: number) => {
            const res = await fetch(
              `${base}/api/v1/query?${new URLSearchParams({ query: q, time: String(timeS) })}`,
            );
            const body = (await res.json()) as {
              status: string;
              data: { resultType: string; result: unknown };
            };
            expect(body.status, `${q} on ${base}: ${JSON.stringify(body)}`).toBe('success');
            return body.data;
          };
          const upCount = async (base: string) =>
            ((await query(base, 'up{job="kv"} == 1', Date.now() / 1000)).result as unknown[]).length;
          const deadline = Date.now() + 30_000;
          while ((await upCount(mon.url)) < LAB_NODES || (await upCount(promUrl)) < LAB_NODES) {
            if (Date.now() > deadline) throw new Error('both scrapers never had every kv-store node up');
            await new Promise((r) => setTimeout(r, 250));
          }

          // Every series the load will move exists, and both scrapers have seen it, before the window
          // opens: a series born during the load would lose a different share of it in each (its first
          // sample comes at each one's first scrape). Every key is created (201) and rewritten and read
          // (200) through every node, so that the load itself only repeats those answers.
          const urls = cluster.urls();
          for (let k = 0; k < KEYS; k++) {
            await http.request(`${urls[k % urls.length]}/kv/key-${k}`, { method: 'PUT', body: 'new' });
            for (const url of urls) {
              await http.request(`${url}/kv/key-${k}`, { method: 'PUT', body: 'again' });
              await http.request(`${url}/kv/key-${k}`);
            }
          }
          await settle();
          const windowStartS = Date.now() / 1000;
          // One scrape of each into the window before the load: its first sample is before the load.
          await new Promise((r) => setTimeout(r, 1.5 * LAB_SCRAPE_INTERVAL_S * 1000));

          // The load: writes through every node (a follower forwards to the leader) and reads.
          const loadStart = Date.now();
          let ops = 0;
          for (let i = 0; Date.now() - loadStart < LAB_LOAD_MS; i++) {
            const url = urls[i % urls.length]!;
            await http.request(`${url}/kv/key-${i % KEYS}`, { method: 'PUT', body: `v${i}` });
            await http.request(`${url}/kv/key-${i % KEYS}`);
            ops += 2;
          }
          const loadEnd = Date.now();
          expect(ops).toBeGreaterThan(20);
          await settle();

          // Series and labels: exactly the same, but for each system's own extra series.
          const labelSets = async (base: string) => {
            const res = await fetch(
              `${base}/api/v1/series?${new URLSearchParams({ 'match[]': '{job="kv"}' })}`,
            );
            const body = (await res.json()) as { data: Record<string, string>[] };
            return body.data
              .filter((x) => !LAB_UNCOMPARABLE_RE.test(x.__name__!))
              .map((x) => JSON.stringify(Object.entries(x).sort()))
              .sort();
          };
          // Polled: a series first exported between the two scrapers' last scrapes is in one only for
          // up to an interval (a raft message route answered for the first time, say).
          let [ourSeries, theirSeries] = await Promise.all([labelSets(mon.url), labelSets(promUrl)]);
          for (let k = 0; k < 20 && JSON.stringify(ourSeries) !== JSON.stringify(theirSeries); k++) {
            await new Promise((r) => setTimeout(r, 500));
            [ourSeries, theirSeries] = await Promise.all([labelSets(mon.url), labelSets(promUrl)]);
          }
          expect(theirSeries.length).toBeGreaterThan(50);
          expect(ourSeries.filter((x) => !theirSeries.includes(x))).toEqual([]);
          expect(theirSeries.filter((x) => !ourSeries.includes(x))).toEqual([]);

          // The corpus at one time after the load, with W from before the load to after it.
          const atS = Date.now() / 1000;
          const windowS = Math.floor(atS - windowStartS);
          const diffs: string[] = [];
          for (const { query: q, check } of LAB_QUERIES) {
            const text = q.replaceAll('[W]', `[${windowS}s]`).replaceAll('offset W', `offset ${windowS}s`);
            const [ours, theirs] = await Promise.all([query(mon.url, text, atS), query(promUrl, text, atS)]);
            expect(
              (theirs.result as unknown[]).length,
              `${text}: Prometheus answered nothing`,
            ).toBeGreaterThan(0);
            for (const d of compare(ours, theirs, LAB_TOLERANCE[check]))
              diffs.push(`${text} (${check}): ${d}`);
          }
          expect(diffs).toEqual([]);

          // A counter over time, at the same 1 s steps on both: each scraper holds the counter as of
          // its own last scrape, so ours at t lies between Prometheus's at t - 2 s and at t + 2 s
          // (one interval each way, and one for a late scrape); after the load, exactly equal.
          const range = async (base: string) => {
            const q = `sum(kv_proposals_total{job="kv"})`;
            const params = new URLSearchParams({
              query: q,
              start: String(Math.floor(loadStart / 1000) - 2),
              end: String(Math.floor(atS)),
              step: '1',
            });
            const body = (await (await fetch(`${base}/api/v1/query_range?${params}`)).json()) as {
              data: { result: { values: [number, string][] }[] };
            };
            return new Map(body.data.result[0]!.values.map(([t, v]) => [t, Number(v)]));
          };
          const [ourCurve, theirCurve] = await Promise.all([range(mon.url), range(promUrl)]);
          let compared = 0;
          for (const [t, v] of ourCurve) {
            if (t >= loadEnd / 1000 + SETTLE_SCRAPES * LAB_SCRAPE_INTERVAL_S) {
              expect(v, `at ${t}, after the load`).toBe(theirCurve.get(t));
              continue;
            }
            const low = theirCurve.get(t - 2);
            const high = theirCurve.get(t + 2);
            if (low === undefined || high === undefined) continue;
            expect(v, `at ${t}`).toBeGreaterThanOrEqual(low);
            expect(v, `at ${t}`).toBeLessThanOrEqual(high);
            compared++;
          }
          expect(compared).toBeGreaterThan(LAB_LOAD_MS / 1000 / 2);
        } finally {
          await http.close();
          prometheus?.kill('SIGTERM');
          await mon?.close();
          await cluster.close();
          await rm(dir, { recursive: true, force: true });
        }
      },
      120_000 + LAB_LOAD_MS,
    );
  },
);
