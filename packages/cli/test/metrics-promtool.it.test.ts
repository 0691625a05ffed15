// Every service of the lab, started as a user starts it, serves a /metrics page that promtool
// (Debian's prometheus package; .ci/run installs it) accepts: valid exposition format and
// Prometheus's naming conventions (base units, no abbreviated units, _total on counters).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpClient } from '@ddia/common';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeArgs, type PlanContext, planNodes, TOPOLOGY } from '../src/topology.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const promtool = spawnSync('promtool', ['--version']).status === 0;
/** TCP port 9 (discard): nothing listens there on these machines. */
const CLOSED_PORT = 9;
if (!promtool)
  console.warn(
    "promtool not installed (apt-get install prometheus): skipping every service's /metrics check",
  );
const START_DEADLINE_MS = 30_000;
const POLL_MS = 100;

const children: ChildProcess[] = [];
/** URL of each service this file started, by topology name. */
const started = new Map<string, string>();
const dirs: string[] = [];
const client = new HttpClient({ retries: 0, deadlineMs: 2_000 });

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await client.close();
});

/** A port nobody listens on right now (the kernel picks it). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function healthy(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + START_DEADLINE_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode} before answering /health`);
    try {
      if ((await client.request(`${url}/health`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error(`no /health answer from ${url} within ${START_DEADLINE_MS} ms`);
}

describe.skipIf(!promtool)('promtool check metrics on every service of the lab', () => {
  for (const def of TOPOLOGY) {
    const mainJs = join(root, `packages/${def.pkg}/dist/main.js`);
    it.skipIf(!existsSync(mainJs))(`${def.name} (${def.pkg})`, async () => {
      const port = await freePort();
      const [planned] = planNodes(def, 1);
      const node = { ...planned, port, url: `http://127.0.0.1:${port}` };
      const dataDir = mkdtempSync(join(tmpdir(), `promtool-${def.name}-`));
      dirs.push(dataDir);
      // Its other listeners (MongoDB, Kafka) on free ports too; a worker finds the coordinator
      // an earlier case of this file started (they stay up until the end).
      const extra = new Map<number, number>();
      for (const fixed of def.extraPorts ?? []) extra.set(fixed, await freePort());
      const lab: PlanContext = {
        port: (fixed) => extra.get(fixed) ?? fixed,
        urlOf: (service) => {
          const url = started.get(service);
          // The monitoring node only scrapes the others: one that is not running is just `up 0`.
          if (!url && def.name === 'monitoring') return `http://127.0.0.1:${CLOSED_PORT}`;
          if (!url) throw new Error(`${def.name} needs ${service}, which this file did not start`);
          return url;
        },
      };
      const child = spawn(process.execPath, [mainJs, ...nodeArgs(def, node, [node], dataDir, lab)], {
        env: { ...process.env, DDIA_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      children.push(child);
      let stderr = '';
      child.stderr?.on('data', (chunk) => {
        stderr += chunk;
      });
      try {
        await healthy(node.url, child);
      } catch (error) {
        throw new Error(`${def.name}: ${(error as Error).message}\n${stderr}`);
      }
      // One request first, so request histograms have samples to check.
      await client.request(`${node.url}/health`);
      const page = (await client.request(`${node.url}/metrics`)).text();
      expect(page).toContain('process_cpu_seconds_total');
      const check = spawnSync('promtool', ['check', 'metrics'], { input: page, encoding: 'utf8' });
      expect(check.stdout + check.stderr, `${def.name}: promtool's findings`).toBe('');
      expect(check.status).toBe(0);
      started.set(def.name, node.url);
    });
  }
});
