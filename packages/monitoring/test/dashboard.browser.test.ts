// The dashboard in a real headless browser (Debian's Chromium driven by playwright-core): the
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
import { type Exporter, scrapeConfigYaml, startExporter } from './support/exporter.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const artifacts = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
if (!hasChromium) {
  console.warn(`dashboard browser test skipped: ${CHROMIUM} not found (apt-get install chromium)`);
}

describe.skipIf(!hasChromium)(`dashboard in headless Chromium (screenshot in ${artifacts})`, () => {
  let dir: string;
  let alive: Exporter;
  let doomed: Exporter;
  let mon: Monitoring;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'monitoring-browser-'));
    alive = await startExporter();
    doomed = await startExporter();
    await writeFile(
      join(dir, 'targets.yml'),
      scrapeConfigYaml('synthetic', [alive.address, doomed.address], '200ms'),
    );
    mon = await startMonitoring(
      parseConfig(
        ['--targets', join(dir, 'targets.yml'), '--scrape-interval', '200ms', '--log-level', 'silent'],
        {},
        MONITORING_FLAGS,
      ),
    );
  }, 30_000);

  afterAll(async () => {
    await mon?.close();
    await alive?.stop().catch(() => {});
    await doomed?.stop().catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('renders targets and graphs from the API, turns a killed target red, saves a screenshot', async () => {
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
      await page.goto(`${mon.url}/?refresh=0.5`);
      expect(await page.title()).toBe('DDIA Lab monitoring');

      // Both targets listed and up (green) once they have been scraped.
      const row = (address: string, cls: string) => `#targets tr.${cls}[data-instance="${address}"]`;
      await page.waitForSelector(row(alive.address, 'up'), { timeout: 20_000 });
      await page.waitForSelector(row(doomed.address, 'up'), { timeout: 20_000 });

      // The `up` graph draws one line per target, with points taken from query_range.
      // (Page code as a string: the tests' tsconfig has no DOM types.)
      await page.waitForFunction(
        `(() => {
          const chart = [...document.querySelectorAll('.chart')].find((c) => c.querySelector('h3')?.textContent === 'up');
          const lines = chart ? [...chart.querySelectorAll('polyline')] : [];
          return lines.length === 2 && lines.every((l) => (l.getAttribute('points') ?? '').trim() !== '');
        })()`,
        undefined,
        { timeout: 20_000 },
      );

      // Kill one target: its row turns red, the other stays green.
      await doomed.stop();
      await page.waitForSelector(row(doomed.address, 'down'), { timeout: 20_000 });
      expect(await page.locator(row(alive.address, 'up')).count()).toBe(1);
      const bg = await page
        .locator(row(doomed.address, 'down'))
        .evaluate(
          (el) =>
            (
              globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }
            ).getComputedStyle(el).backgroundColor,
        );
      expect(bg).toBe('rgb(249, 201, 201)');
      expect(await page.locator('#error').textContent()).toBe('');
      expect(pageErrors).toEqual([]);

      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'dashboard.png'), fullPage: true });
      expect(existsSync(join(artifacts, 'dashboard.png'))).toBe(true);
    } finally {
      await browser.close();
    }
  }, 90_000);
});
