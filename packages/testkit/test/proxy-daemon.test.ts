// The proxy daemon as the CLI runs it: a separate process from dist/, configured by a JSON file,
// driven through ProxyControlClient; the faults it reports are measured on its links.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePorts } from '../src/harness/index.js';
import { ProxyControlClient, ProxyControlError } from '../src/proxy/index.js';
import { type Closable, get, median, namedHttpServer } from './proxy-helpers.js';

const DAEMON_MAIN = fileURLToPath(new URL('../dist/proxy/daemon-main.js', import.meta.url));
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function writeConfig(config: unknown): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'proxy-daemon-')), 'proxies.json');
  await writeFile(path, typeof config === 'string' ? config : JSON.stringify(config));
  return path;
}

function spawnDaemon(configPath: string): ChildProcess {
  const child = spawn(process.execPath, [DAEMON_MAIN, '--config', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => void child.kill('SIGKILL'));
  return child;
}

async function startDaemon() {
  const servers: Record<string, Closable> = {};
  for (const id of ['n1', 'n2']) servers[id] = await namedHttpServer(id);
  for (const s of Object.values(servers)) cleanups.push(() => s.close());
  const [control, p12, p21, pc1, pc2] = await freePorts(5);
  const config = {
    controlPort: control,
    nodes: [
      { id: 'n1', port: servers.n1!.port },
      { id: 'n2', port: servers.n2!.port },
    ],
    links: [
      { from: 'n1', to: 'n2', port: p12 },
      { from: 'n2', to: 'n1', port: p21 },
      { from: 'client', to: 'n1', port: pc1 },
      { from: 'client', to: 'n2', port: pc2 },
    ],
  };
  const child = spawnDaemon(await writeConfig(config));
  const ready = await new Promise<{ ready: boolean; controlUrl: string }>((resolve, reject) => {
    child.stdout!.once('data', (c: Buffer) => resolve(JSON.parse(c.toString())));
    child.once('exit', (code) => reject(new Error(`daemon exited ${code}`)));
  });
  return { child, ready, client: new ProxyControlClient(ready.controlUrl), ports: { p12, p21, pc1, pc2 } };
}

describe('proxy daemon', () => {
  it('hosts the links of its config and reports them', async () => {
    const { ready, client, ports } = await startDaemon();
    expect(ready.ready).toBe(true);
    const { nodes, links } = await client.links();
    expect(nodes).toEqual(['n1', 'n2']);
    expect(links.map((l) => `${l.from}->${l.to}:${l.proxyPort}`).sort()).toEqual(
      [
        `client->n1:${ports.pc1}`,
        `client->n2:${ports.pc2}`,
        `n1->n2:${ports.p12}`,
        `n2->n1:${ports.p21}`,
      ].sort(),
    );
    expect(await get(ports.p12, 1_000)).toMatchObject({ kind: 'ok', body: 'n2' });
  });

  it('latency, partition and heal over the control API take effect on the links', async () => {
    const { client, ports } = await startDaemon();
    const sample = async () => {
      const ms: number[] = [];
      for (let i = 0; i < 5; i++) {
        const outcome = await get(ports.pc1, 2_000);
        expect(outcome.kind).toBe('ok');
        ms.push(outcome.ms);
      }
      return median(ms);
    };
    const baseline = await sample();
    await client.latency('client', 'n1', 100, 5);
    const withLatency = await sample();
    const added = withLatency - baseline;
    console.log(`daemon latency 100±5 ms: added median ${added.toFixed(1)} ms`);
    // No request can be faster than the injected delay less its jitter; a loaded machine may
    // slow the baseline, so the upper bound is on what was added.
    expect(withLatency).toBeGreaterThanOrEqual(95);
    expect(added).toBeLessThan(140);
    expect(
      (await client.links()).links.find((l) => l.from === 'client' && l.to === 'n1')?.forward.latencyMs,
    ).toBe(100);

    const cuts = await client.partition([['n1'], ['n2']]);
    expect(cuts).toEqual(
      expect.arrayContaining([
        ['n1', 'n2'],
        ['n2', 'n1'],
      ]),
    );
    expect((await get(ports.p12, 400)).kind).toBe('timeout');
    await client.heal();
    expect(await get(ports.p12, 1_000)).toMatchObject({ kind: 'ok', body: 'n2' });

    await client.blackhole('n2', 'n1');
    expect((await get(ports.p21, 400)).kind).toBe('timeout');
    await client.clear();
    expect(await get(ports.p21, 1_000)).toMatchObject({ kind: 'ok', body: 'n1' });
  });

  it('answers bad commands with 400 problem+json and unknown routes with 404', async () => {
    const { client, ready } = await startDaemon();
    await expect(client.latency('n1', 'n9', 10)).rejects.toThrow(ProxyControlError);
    await expect(client.latency('n1', 'n2', -1)).rejects.toMatchObject({ status: 400 });
    await expect(client.partition([['n1'], ['n1']])).rejects.toThrow(/two groups/);
    const response = await fetch(`${ready.controlUrl}/latency`, { method: 'POST', body: '{not json' });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect((await fetch(`${ready.controlUrl}/nope`)).status).toBe(404);
    await expect(new ProxyControlClient('http://127.0.0.1:1').heal()).rejects.toThrow(/not answering/);
  });

  it('exits 0 on SIGTERM, and 2 on a bad config naming the problem', async () => {
    const { child } = await startDaemon();
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });

    const bad = spawnDaemon(
      await writeConfig({
        controlPort: 0,
        nodes: [{ id: 'n1', port: 1 }],
        links: [{ from: 'n1', to: 'n7', port: 0 }],
      }),
    );
    let stderr = '';
    bad.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    expect(await new Promise((resolve) => bad.once('exit', (code) => resolve(code)))).toBe(2);
    expect(stderr).toMatch(/links\[0\]\.to must be a node id/);
  });
});
