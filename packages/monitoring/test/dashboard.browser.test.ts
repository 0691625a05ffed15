// Clock offsets estimated from scrape answers, and the dashboard in a real headless browser (Debian's Chromium driven by playwright-core): the
// page renders, the targets table and the graphs fill from the API, a killed target's row turns
// red (class "down") in the targets table, and a screenshot is saved as a test artifact
// (test/artifacts/dashboard.png, git-ignored). Skips with a reason where Chromium is absent.
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '@ddia/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MONITORING_FLAGS, type Monitoring, startMonitoring } from '../src/monitoring-node.js';
import { type Exporter, type RaftState, scrapeConfigYaml, startExporter } from './support/exporter.js';

const CHROMIUM = '/usr/bin/chromium';

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const hasChromium = existsSync(CHROMIUM);
const artifacts = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
if (!hasChromium) {
  console.warn(`dashboard browser test skipped: ${CHROMIUM} not found (apt-get install chromium)`);
}

// Node 1 ('alive') runs its clock 7.3 s ahead of ours: the clock-offset estimator must see it.
const SKEW_MS = 7300;
const WF_TRACE = 'abcdef0123456789abcdef0123456789';

describe('dashboard and clocks', () => {
  let dir: string;
  let alive: Exporter;
  let doomed: Exporter;
  let mon: Monitoring;
  // A three-node Raft cluster (job kv) exporting kv-store's metric names: n1 leads in term 2.
  const raft: RaftState[] = [
    { node: 'n1', term: 2, commit: 10, applied: 10, leader: true, leaderChanges: 1, lag: { n2: 0, n3: 2 } },
    { node: 'n2', term: 2, commit: 10, applied: 9, leader: false, leaderChanges: 1, lag: {} },
    { node: 'n3', term: 2, commit: 8, applied: 7, leader: false, leaderChanges: 1, lag: {} },
  ];
  let raftNodes: Exporter[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'monitoring-browser-'));
    alive = await startExporter(0, { clockSkewMs: SKEW_MS });
    doomed = await startExporter();
    raftNodes = await Promise.all(raft.map((r) => startExporter(0, { raft: r })));
    await writeFile(
      join(dir, 'targets.yml'),
      [
        scrapeConfigYaml('synthetic', [alive.address, doomed.address], '100ms'),
        '  - job_name: kv',
        '    static_configs:',
        `      - targets: [${raftNodes.map((n) => `'${n.address}'`).join(', ')}]`,
        '',
      ].join('\n'),
    );
    mon = await startMonitoring(
      parseConfig(
        ['--targets', join(dir, 'targets.yml'), '--scrape-interval', '100ms', '--log-level', 'silent'],
        {},
        MONITORING_FLAGS,
      ),
    );
  }, 30_000);

  afterAll(async () => {
    await mon?.close();
    await alive?.stop().catch(() => {});
    await doomed?.stop().catch(() => {});
    for (const n of raftNodes) await n.stop().catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('estimates each target clock offset NTP-style from the Date headers of its answers', async () => {
    // 1-second Date stamps: each answer bounds the offset to a 1 s window; scrapes at
    // different phases of the second narrow the intersection.
    const clocks = async () =>
      (
        (await (await fetch(`${mon.url}/api/v1/clocks`)).json()) as {
          data: Record<string, number | null | string>[];
        }
      ).data;
    const deadline = Date.now() + 30_000;
    let view = await clocks();
    const of = (address: string) => view.find((c) => c.instance === address)!;
    while (
      Date.now() < deadline &&
      (Number(of(alive.address).probes) < 15 || Number(of(doomed.address).probes) < 15)
    ) {
      await new Promise((r) => setTimeout(r, 100));
      view = await clocks();
    }
    const skewed = of(alive.address);
    const honest = of(doomed.address);
    // The truth is inside every estimate's bounds (the bounds are sound by construction) ...
    expect(Math.abs(Number(skewed.offsetMs) - SKEW_MS)).toBeLessThanOrEqual(Number(skewed.errorMs) + 1);
    expect(Math.abs(Number(honest.offsetMs))).toBeLessThanOrEqual(Number(honest.errorMs) + 1);
    // ... and 15 probes have narrowed the 1 s stamps to well under a second.
    expect(Number(skewed.errorMs)).toBeLessThan(500);
    expect(Number(honest.errorMs)).toBeLessThan(500);
    // The estimate is stored as a series too (the dashboard's Clocks table reads the endpoint).
    await until('the clock-offset series', async () => {
      const r = await fetch(
        `${mon.url}/api/v1/query?${new URLSearchParams({ query: `monitoring_clock_offset_seconds{instance="${alive.address}"}` })}`,
      );
      const body = (await r.json()) as { data: { result: { value: [number, string] }[] } };
      const v = body.data.result[0]?.value[1];
      return v !== undefined && Math.abs(Number(v) - SKEW_MS / 1000) < 1;
    });
  }, 40_000);

  it.skipIf(!hasChromium)(
    'renders targets and graphs from the API, turns a killed target red, saves a screenshot',
    async () => {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        // Without the background-networking flags Chromium keeps dialling Google on a closed network.
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
        timeout: 60_000,
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
        const pageErrors: string[] = [];
        page.on('pageerror', (e) => pageErrors.push(String(e)));
        // A trace of three spans (server -> client -> failing server) for the waterfall.
        // One base time for every span: read per span, a millisecond tick between two reads
        // shifted some spans by 1 ms (seen: bars at 10.891 % instead of 10 % under load).
        const traceBaseMs = Date.now() - 1000;
        const ns = (ms: number) => String(BigInt(traceBaseMs + ms) * 1_000_000n);
        const sp = (
          id: string,
          parent: string | null,
          kind: number,
          from: number,
          to: number,
          error = false,
        ) => ({
          traceId: WF_TRACE,
          spanId: id,
          ...(parent ? { parentSpanId: parent } : {}),
          name: `span ${id.slice(0, 2)}`,
          kind,
          startTimeUnixNano: ns(from),
          endTimeUnixNano: ns(to),
          status: { code: error ? 2 : 0 },
        });
        const otlp = await fetch(`${mon.url}/v1/traces`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            resourceSpans: [
              {
                resource: { attributes: [{ key: 'service.name', value: { stringValue: 'gateway' } }] },
                scopeSpans: [
                  {
                    spans: [
                      sp('aa00000000000001', null, 2, 0, 100),
                      sp('bb00000000000002', 'aa00000000000001', 3, 10, 90),
                      sp('cc00000000000003', 'bb00000000000002', 2, 20, 80, true),
                    ],
                  },
                ],
              },
            ],
          }),
        });
        expect(otlp.status).toBe(200);
        await page.goto(`${mon.url}/?refresh=0.5`);
        expect(await page.title()).toBe('DDIA Lab monitoring');

        // Both targets listed and up (green) once they have been scraped.
        const row = (address: string, cls: string) => `#targets tr.${cls}[data-instance="${address}"]`;
        await page.waitForSelector(row(alive.address, 'up'), { timeout: 20_000 });
        await page.waitForSelector(row(doomed.address, 'up'), { timeout: 20_000 });

        // The `up` graph draws one line per target (two synthetic, three Raft), with points from query_range.
        // (Page code as a string: the tests' tsconfig has no DOM types.)
        await page.waitForFunction(
          `(() => {
          const chart = [...document.querySelectorAll('.chart')].find((c) => c.querySelector('h3')?.textContent === 'up');
          const lines = chart ? [...chart.querySelectorAll('polyline')] : [];
          return lines.length === ${2 + raftNodes.length} && lines.every((l) => (l.getAttribute('points') ?? '').trim() !== '');
        })()`,
          undefined,
          { timeout: 20_000 },
        );

        // The newest trace's waterfall: a row per span, indented by depth, bars on one time axis.
        await page.waitForSelector('#waterfall .wf-row >> nth=2', { timeout: 20_000 });
        const bars = await page.$$eval('#waterfall .bar', (els) =>
          els.map((e) => [
            e.className,
            (e as unknown as { style: { left: string; width: string } }).style.left,
            (e as unknown as { style: { width: string } }).style.width,
          ]),
        );
        expect(bars).toEqual([
          ['bar', '0%', '100%'],
          ['bar client', '10%', '80%'],
          ['bar error', '20%', '60%'],
        ]);
        expect(await page.locator(`#traces tr[data-trace="${WF_TRACE}"]`).count()).toBe(1);
        // Every lane starts at the same x, whatever a row's indentation (one time axis).
        const lanes = await page.$$eval('#waterfall .wf-lane', (els) =>
          els.map((e) =>
            Math.round(
              (e as unknown as { getBoundingClientRect(): { left: number } }).getBoundingClientRect().left,
            ),
          ),
        );
        expect(new Set(lanes).size).toBe(1);

        // Kill one target: its row turns red, the other stays green.
        await doomed.stop();
        await page.waitForSelector(row(doomed.address, 'down'), { timeout: 20_000 });
        // The live one is (again) green: a scrape can time out on a loaded machine, so wait.
        await page.waitForSelector(row(alive.address, 'up'), { timeout: 20_000 });
        // Red, as drawn (queried fresh: the table is redrawn every 0.5 s).
        await page.waitForFunction(
          `getComputedStyle(document.querySelector('#targets tr[data-instance="${doomed.address}"]')).backgroundColor === 'rgb(249, 201, 201)'`,
          undefined,
          { timeout: 10_000 },
        );
        // The skewed node's clock row is red (offset beyond a second past its error bound).
        await page.waitForSelector(`#clocks tr.down[data-instance="${alive.address}"]`, { timeout: 20_000 });
        expect(await page.locator('#error').textContent()).toBe('');
        expect(pageErrors).toEqual([]);

        // The Raft clusters table links to the kv cluster's page and names its leader.
        await page.waitForSelector('#clusters tr[data-job="kv"] a[href="/raft/kv"]', { timeout: 20_000 });
        await page.waitForFunction(
          `document.querySelector('#clusters tr[data-job="kv"]').textContent === 'kv3n12'`,
          undefined,
          { timeout: 10_000 },
        );

        mkdirSync(artifacts, { recursive: true });
        await page.screenshot({ path: join(artifacts, 'dashboard.png'), fullPage: true });
        expect(existsSync(join(artifacts, 'dashboard.png'))).toBe(true);

        // The cluster's page: leader, term, indexes per node, lag; then the leader dies.
        await page.click('#clusters a[href="/raft/kv"]');
        await page.waitForURL(/\/raft\/kv$/);
        await page.goto(`${mon.url}/raft/kv?refresh=0.5&step=0.5&window=120`);
        const [n1, n2, n3] = raftNodes as [Exporter, Exporter, Exporter];
        const cells = (address: string) =>
          page.$$eval(`#nodes tr[data-instance="${address}"] td`, (tds) => tds.map((td) => td.textContent));
        // A row as drawn, waited for: under load a 100 ms scrape can time out and show a node down for a moment.
        const rowIs = async (address: string, expected: string[]) => {
          let last: (string | null)[] = [];
          await until(`row ${address} = ${expected.join('|')}`, async () => {
            last = await cells(address);
            return JSON.stringify(last) === JSON.stringify(expected);
          }).catch(() => expect(last).toEqual(expected));
        };
        await page.waitForSelector('#nodes tr.up.leader[data-node="n1"]', { timeout: 20_000 });
        const textIs = (id: string, text: string) =>
          until(`#${id} = ${text}`, async () => (await page.locator(`#${id}`).textContent()) === text);
        await textIs('leader', `n1 (${n1.address})`);
        await textIs('term', '2');
        // instance, node, role, term, commit, applied, applied behind the highest commit (10 - 7),
        // lag as the leader reports it, leader changes seen.
        await rowIs(n3.address, [n3.address, 'n3', 'follower', '2', '8', '7', '3', '2', '1']);
        await rowIs(n1.address, [n1.address, 'n1', 'leader', '2', '10', '10', '0', '', '1']);

        // n1 dies; n2 wins term 3 and reports n3 one entry behind, n1 two.
        Object.assign(raft[1]!, {
          term: 3,
          commit: 12,
          applied: 12,
          leader: true,
          leaderChanges: 2,
          lag: { n1: 2, n3: 1 },
        });
        Object.assign(raft[2]!, { term: 3, commit: 12, applied: 11, leaderChanges: 2 });
        await n1.stop();
        await page.waitForSelector('#nodes tr.up.leader[data-node="n2"]', { timeout: 20_000 });
        await page.waitForSelector(`#nodes tr.down[data-instance="${n1.address}"]`, { timeout: 20_000 });
        await page.waitForFunction(
          `document.getElementById('term').textContent === '3' && document.getElementById('elections').textContent === '1' && document.getElementById('leader-changes').textContent === '1'`,
          undefined,
          { timeout: 20_000 },
        );
        await textIs('leader', `n2 (${n2.address})`);
        await rowIs(n3.address, [n3.address, 'n3', 'follower', '3', '12', '11', '1', '1', '2']);
        // The dead node keeps its id (from the window's series) and the lag the new leader reports.
        await rowIs(n1.address, [n1.address, 'n1', 'down', '', '', '', '', '2', '']);
        // The charts: the term line steps from 2 to 3; the leader chart has a line per node.
        const lines = (title: string) =>
          page.$$eval(
            '.chart',
            (charts, t) =>
              charts
                .filter((c) => c.querySelector('h3')?.textContent === t)
                .flatMap((c) =>
                  [...c.querySelectorAll('polyline')].map((l) => l.getAttribute('points') ?? ''),
                ),
            title,
          );
        await page.waitForFunction(`document.querySelectorAll('#charts .chart').length === 10`, undefined, {
          timeout: 10_000,
        });
        // The charts are redrawn after the summary: wait for a redraw that has the step.
        const levels = async () => {
          const term = await lines('term (max over nodes; each election raises it)');
          return term.length === 1
            ? new Set(
                term[0]!
                  .trim()
                  .split(' ')
                  .map((p: string) => p.split(',')[1]),
              ).size
            : -1;
        };
        await until('the term chart steps from 2 to 3', async () => (await levels()) === 2).catch(async () =>
          expect(await levels()).toBe(2),
        );
        expect(await lines('leader (1 = this node leads)')).toHaveLength(3);
        expect((await lines('requests/s')).length).toBeGreaterThanOrEqual(2);
        expect(await page.locator('#error').textContent()).toBe('');
        expect(pageErrors).toEqual([]);
        await page.screenshot({ path: join(artifacts, 'raft-kv.png'), fullPage: true });
      } finally {
        await browser.close();
      }
    },
    150_000,
  );
});
