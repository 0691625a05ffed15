// The cluster harness on real register-server processes: readiness, SIGKILL and restart on the
// same data dir and port, SIGSTOP/SIGCONT, SIGTERM, logs, and no process left behind.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, NodeStartError, reaper, startCluster } from '../src/harness/index.js';
import { call, isAlive, registerCommand, waitUntil } from './cluster-fixtures.js';

// One three-node cluster serves the cases below, in order (starting one per case cost most of
// this file's time): n1 is killed and restarted, n3 paused and resumed, then stopped, and the
// last case closes the cluster with n2 paused.
describe('startCluster', () => {
  let c: Cluster;
  beforeAll(async () => {
    // Generous: on a loaded machine three node processes can take long to get ready.
    c = await startCluster({ nodes: 3, command: registerCommand(), readyTimeoutMs: 60_000 });
  }, 120_000);
  afterEach(async (context) => {
    if (context.task.result?.state === 'fail') console.error(await c.logTails());
  });
  afterAll(async () => {
    await c?.close();
  });

  it('starts N nodes on their own ports and data dirs with @ddia/common flags, ready to serve', async () => {
    expect(c.ids()).toEqual(['n1', 'n2', 'n3']);
    expect(new Set(c.nodes.map((n) => n.port)).size).toBe(3);
    expect(new Set(c.nodes.map((n) => n.dataDir)).size).toBe(3);
    expect(c.node('n2').spec.flags).toEqual(
      expect.arrayContaining(['--id', 'n2', '--port', String(c.node('n2').port), '--data-dir']),
    );
    for (const n of c.nodes) expect((await call(`${n.url}/ready`)).status).toBe(200);
    // A write through a follower lands on the primary (n1) and is read back through another.
    expect((await call(`${c.node('n2').url}/register/x`, 'PUT', { value: 7 })).status).toBe(200);
    expect((await call(`${c.node('n3').url}/register/x`)).body.value).toBe(7);
  });

  it('kill() is a SIGKILL; restart() comes back on the same port with the same data', async () => {
    const n1 = c.node('n1');
    await call(`${n1.url}/register/k`, 'PUT', { value: 'durable' });
    const { port, pid } = n1;
    await n1.kill();
    expect(n1.state).toBe('stopped');
    expect(n1.exitStatus?.signal).toBe('SIGKILL');
    expect(isAlive(pid!)).toBe(false);
    expect((await call(`${c.node('n2').url}/register/k`)).status).toBe(503);
    await n1.restart();
    expect(n1.port).toBe(port);
    expect(n1.pid).not.toBe(pid);
    expect((await call(`${c.node('n2').url}/register/k`)).body.value).toBe('durable');
  });

  it('pause() stops the process (requests hang), resume() lets it answer again', async () => {
    const n3 = c.node('n3');
    n3.pause();
    expect(n3.state).toBe('paused');
    expect((await call(`${n3.url}/register/p`, 'GET', undefined, 500)).status).toBe(0);
    n3.resume();
    expect((await call(`${n3.url}/register/p`)).status).toBe(200);
  });

  it('stop() is a SIGTERM: a clean exit; logs are collected per node', async () => {
    const n3 = c.node('n3');
    await n3.stop();
    expect(n3.exitStatus).toEqual({ code: 0, signal: null });
    const log = await readFile(n3.logFile, 'utf8');
    expect(log).toMatch(/start #1 of n3/);
    expect(log).toMatch(/n3 exited code=0/);
    expect(await n3.logTail(5)).toMatch(/=== n3 .* last 5 lines ===/);
  });

  it('close() kills every node, paused ones too', async () => {
    c.node('n2').pause();
    const pids = c.nodes.map((n) => n.pid!);
    await c.close();
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
  });

  it('a node that never gets ready fails the start with its log tail, leaving nothing behind', async () => {
    const before = reaper.tracked().length;
    const error = await startCluster({
      nodes: 2,
      command: (node) => ({
        args: ['-e', `console.error('boom from ${node.id}'); process.exit(3)`],
      }),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NodeStartError);
    expect((error as Error).message).toMatch(/boom from n\d/);
    expect(reaper.tracked().length).toBe(before);
  });
});

describe('no process left behind', () => {
  const script = fileURLToPath(new URL('./fixtures/orphan-cluster.mjs', import.meta.url));
  async function orphan(mode: 'exit' | 'wait') {
    const child = spawn(process.execPath, [script, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pids = await new Promise<number[]>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve(JSON.parse(out) as number[]);
      });
      child.once('exit', (code) => reject(new Error(`fixture exited with ${code} before printing pids`)));
    });
    return { child, pids };
  }

  it('when the test process exits without cleaning up, its exit handler kills the nodes', async () => {
    const { child, pids } = await orphan('exit');
    expect(pids).toHaveLength(2);
    await new Promise((resolve) => child.once('exit', resolve));
    expect(await waitUntil(() => pids.every((pid) => !isAlive(pid)), 5_000)).toBe(true);
  });

  it('when the test process is SIGKILLed, the watchdog kills the nodes', async () => {
    const { child, pids } = await orphan('wait');
    for (const pid of pids) expect(isAlive(pid)).toBe(true);
    child.kill('SIGKILL');
    expect(await waitUntil(() => pids.every((pid) => !isAlive(pid)), 5_000)).toBe(true);
  });
});
