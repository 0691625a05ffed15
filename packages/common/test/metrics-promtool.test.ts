// The /metrics page must be valid Prometheus exposition format: promtool (Debian's
// prometheus package, installed by .ci/run) is the judge where it is installed.
import { spawnSync } from 'node:child_process';
import { createService, HttpClient } from '@ddia/common';
import { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';

const promtool = spawnSync('promtool', ['--version']).status === 0;
if (!promtool)
  console.warn('promtool not installed (apt-get install prometheus): skipping the /metrics format check');

describe.skipIf(!promtool)('GET /metrics under promtool', () => {
  it('passes `promtool check metrics`', async () => {
    const service = await createService({
      name: 'metrics-demo',
      config: { host: '127.0.0.1', port: 0, id: 'n1', logLevel: 'silent' },
      handleSignals: false,
    });
    const writes = new Counter({
      name: 'demo_writes_total',
      help: 'Writes applied',
      registers: [service.registry],
    });
    writes.inc(3);
    const base = await service.listen();
    const client = new HttpClient();
    try {
      await client.request(`${base}/health`);
      const page = (await client.request(`${base}/metrics`)).text();
      expect(page).toContain('demo_writes_total{service="metrics-demo",node="n1"} 3');
      const check = spawnSync('promtool', ['check', 'metrics'], { input: page, encoding: 'utf8' });
      expect(check.stderr + check.stdout).not.toMatch(/error/i);
      expect(check.status).toBe(0);
    } finally {
      await client.close();
      await service.close();
    }
  });
});
