// The `ddia` command as a user runs it: real processes, a temp lab home, every child gone
// at the end.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isProcessAlive } from '@ddia/common';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'packages/cli/dist/main.js');
const home = mkdtempSync(join(tmpdir(), 'ddia-home-'));
const env = { ...process.env, DDIA_HOME: home, DDIA_LOG_LEVEL: 'warn' };
const registryBuilt = existsSync(join(root, 'packages/schema-evolution/dist/main.js'));
const kvBuilt = existsSync(join(root, 'packages/kv-store/dist/main.js'));

function ddia(...args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

const alive = isProcessAlive;

afterAll(() => {
  ddia('down');
  rmSync(home, { recursive: true, force: true });
});

describe('ddia: errors a user can fix', () => {
  it('names an unknown command, service, node or bad flag and exits 2', () => {
    expect(ddia('frobnicate')).toMatchObject({ code: 2 });
    const unknownService = ddia('up', 'nosuch');
    expect(unknownService.code).toBe(2);
    expect(unknownService.err).toContain("unknown service 'nosuch'");
    const unknownNode = ddia('kill', 'zz-n9');
    expect(unknownNode.code).toBe(2);
    expect(unknownNode.err).toContain("unknown node 'zz-n9'");
    expect(ddia('up', 'kv', '--nodes', 'many')).toMatchObject({ code: 2 });
    expect(ddia('up', 'kv', '--nodes', '9').err).toContain('runs 1 to 5 nodes');
    expect(ddia('ps', '--bogus').code).toBe(2);
  });

  it('clean refuses to delete a folder the lab did not make', () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'ddia-not-a-lab-'));
    writeFileSync(join(elsewhere, 'precious.txt'), 'keep me');
    const r = spawnSync(process.execPath, [cli, 'clean'], {
      env: { ...env, DDIA_HOME: elsewhere },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('precious.txt');
    expect(readFileSync(join(elsewhere, 'precious.txt'), 'utf8')).toBe('keep me');
    rmSync(elsewhere, { recursive: true, force: true });
  });

  it('prints usage', () => {
    const help = ddia('help');
    expect(help.code).toBe(0);
    expect(help.out).toContain('ddia up <service>');
  });
});

describe.skipIf(!registryBuilt)('ddia up / ps / pause / resume / kill / restart / down', () => {
  it('runs a service as detached processes and controls them', async () => {
    const upped = ddia('up', 'schema-registry');
    expect(upped.code, upped.err).toBe(0);
    expect(upped.out).toMatch(/schema-registry-n1\s+pid \d+\s+http:\/\/127\.0\.0\.1:8081/);
    const state = JSON.parse(readFileSync(join(home, 'state.json'), 'utf8'));
    const pid: number = state.nodes[0].pid;
    expect(alive(pid)).toBe(true);

    expect(ddia('ps').out).toMatch(/schema-registry-n1\s+\d+\s+8081\s+running\s+up/);
    expect(ddia('up', 'schema-registry').code).toBe(1); // already up

    expect(ddia('pause', 'schema-registry-n1').code).toBe(0);
    expect(ddia('ps').out).toMatch(/schema-registry-n1.*paused\s+down/);
    expect(ddia('resume', 'schema-registry-n1').code).toBe(0);
    expect(ddia('ps').out).toMatch(/schema-registry-n1.*running\s+up/);

    expect(ddia('kill', 'schema-registry-n1').code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(alive(pid)).toBe(false);
    expect(ddia('ps').out).toMatch(/schema-registry-n1.*exited\s+down/);

    const restarted = ddia('restart', 'schema-registry-n1');
    expect(restarted.code, restarted.err).toBe(0);
    const newPid: number = JSON.parse(readFileSync(join(home, 'state.json'), 'utf8')).nodes[0].pid;
    expect(newPid).not.toBe(pid);
    expect(alive(newPid)).toBe(true);
    expect(ddia('logs', 'schema-registry-n1').out.length).toBeGreaterThan(0);

    expect(ddia('down').code).toBe(0);
    expect(alive(newPid)).toBe(false);
    expect(ddia('ps').out).toContain('no nodes running');
  });
});

async function timedHealth(url: string): Promise<number | 'failed'> {
  const started = performance.now();
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_500) });
    await res.text();
    return performance.now() - started;
  } catch {
    return 'failed';
  }
}

describe.skipIf(!kvBuilt)('ddia up kv: a cluster behind the fault proxy', () => {
  it('adds latency, partitions and heals the links between nodes', async () => {
    // A brand-new lab home, as on a fresh clone: `up` must create it.
    rmSync(home, { recursive: true, force: true });
    try {
      await latencyPartitionHeal();
    } finally {
      ddia('down');
    }
  });
});

async function latencyPartitionHeal(): Promise<void> {
  {
    const upped = ddia('up', 'kv', '--nodes', '3');
    expect(upped.code, upped.err + upped.out).toBe(0);
    expect(upped.out).toContain('kv fault proxy');
    // n1 reaches n2 through its outgoing link proxy at basePort + 500 + 10*1 + 2.
    const n1ToN2 = 'http://127.0.0.1:7513';
    const base = await timedHealth(n1ToN2);
    expect(base).not.toBe('failed');

    expect(ddia('latency', 'kv-n1', 'kv-n2', '200').code).toBe(0);
    const slow = await timedHealth(n1ToN2);
    expect(slow).not.toBe('failed');
    expect(slow as number).toBeGreaterThan(190);

    const cut = ddia('partition', 'kv-n1', 'kv-n2,kv-n3');
    expect(cut.code, cut.err).toBe(0);
    expect(await timedHealth(n1ToN2)).toBe('failed');
    expect(await timedHealth('http://127.0.0.1:7533')).not.toBe('failed'); // n3 -> n2 stays inside one side

    expect(ddia('heal').code).toBe(0);
    const healed = await timedHealth(n1ToN2);
    expect(healed).not.toBe('failed');
    expect(healed as number).toBeLessThan(150);

    expect(ddia('partition', 'kv-n1').code).toBe(2);
    expect(ddia('partition', 'kv-n1', 'kv-n1').code).toBe(2); // the proxy refuses; a clear error, exit 2
    const again = ddia('up', 'kv');
    expect(again.code).toBe(1);
    expect(ddia('latency', 'kv-n1', 'nobody', '5').code).toBe(2);
    expect(ddia('down', 'kv').code).toBe(0);
    expect(await timedHealth(n1ToN2)).toBe('failed');
  }
}

describe('ddia start (pnpm start)', () => {
  it('starts every built service and a landing page, and Ctrl-C leaves no process behind', async () => {
    const landingPort = 18080 + Math.floor(Math.random() * 1000);
    const child = spawn(process.execPath, [cli, 'start', '--port', String(landingPort)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const deadline = Date.now() + 60_000;
    while (!output.includes('DDIA Lab is up') && Date.now() < deadline && child.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(output).toContain(`DDIA Lab is up: http://127.0.0.1:${landingPort}`);
    expect(output).toContain('curl ');
    const status = (await (await fetch(`http://127.0.0.1:${landingPort}/api/status`)).json()) as {
      nodes: { name: string; health: string; pid: number; url: string }[];
    };
    expect(status.nodes.length).toBeGreaterThan(0);
    for (const node of status.nodes) expect(node.health, node.name).toBe('up');
    const page = await (await fetch(`http://127.0.0.1:${landingPort}/`)).text();
    for (const node of status.nodes) expect(page).toContain(node.name);

    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).not.toMatch(/Error|at .*\.js/);
    // Every node's process is gone and its port closed: nothing of the lab is left running.
    for (const node of status.nodes) {
      expect(alive(node.pid), node.name).toBe(false);
      await expect(fetch(`${node.url}/health`)).rejects.toThrow();
    }
  });
});
