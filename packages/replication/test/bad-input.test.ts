// Bad input and misuse: flags that make no sense exit 2 naming the flag (a real process), and
// malformed requests get a 4xx problem+json, never a 500 (a node in this process).
import { spawn } from 'node:child_process';
import { ConfigError, HttpClient, parseConfig } from '@ddia/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPLICATION_FLAGS, type ReplicationNode, settingsOf, startReplicationNode } from '../src/index.js';
import { MAIN_JS } from './support/real-cluster.js';

const PEERS = 'n1=http://127.0.0.1:1,n2=http://127.0.0.1:2,n3=http://127.0.0.1:3';
const http = new HttpClient({ deadlineMs: 5_000, retries: 0 });

function run(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN_JS, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

describe('bad flags exit 2 naming the flag', () => {
  // Two through the real entry point, started together (a process start costs seconds on a
  // busy machine)...
  it('an unknown mode and W > N (processes)', { timeout: 60_000 }, async () => {
    const [mode, w] = await Promise.all([
      run(['--mode', 'chain']),
      run(['--mode', 'leaderless', '--peers', PEERS, '--n', '3', '--w', '4']),
    ]);
    expect(mode.status).toBe(2);
    expect(mode.stderr).toContain('--mode');
    expect(w.status).toBe(2);
    expect(w.stderr).toContain('--w: W = 4 is more than N = 3');
  });
  // ...the rest through the same checks main.ts runs before it exits 2.
  const checks: [string, string[], string][] = [
    ['R that is not a quorum', ['--mode', 'leaderless', '--peers', PEERS, '--r', 'most'], '--r'],
    ['N larger than the cluster', ['--mode', 'leaderless', '--peers', PEERS, '--n', '5'], '--n'],
    [
      'a leader not among the peers',
      ['--mode', 'single-leader', '--peers', PEERS, '--leader', 'n9'],
      '--leader',
    ],
    [
      'a datacenter level without --dcs',
      ['--mode', 'leaderless', '--peers', PEERS, '--w', 'local_quorum'],
      '--w',
    ],
    ['--dcs missing a member', ['--mode', 'leaderless', '--peers', PEERS, '--dcs', 'n1=us,n2=eu'], '--dcs'],
    [
      '--dcs outside leaderless mode',
      ['--mode', 'multi-leader', '--peers', PEERS, '--dcs', 'n1=us'],
      '--dcs',
    ],
    [
      'a multi-leader topology outside multi-leader mode',
      ['--mode', 'leaderless', '--peers', PEERS, '--topology', 'circular'],
      '--topology',
    ],
    [
      'a bad synchronous_standby_names',
      ['--mode', 'single-leader', '--peers', PEERS, '--sync-standbys', 'ANY 3 (n2)'],
      '--sync-standbys',
    ],
  ];
  for (const [what, args, flag] of checks) {
    it(what, () => {
      const check = () => settingsOf(parseConfig([...args, '--id', 'n1'], {}, REPLICATION_FLAGS));
      expect(check).toThrow(ConfigError);
      expect(check).toThrow(flag);
    });
  }
});

describe('malformed requests get 4xx problem+json', () => {
  let node: ReplicationNode;
  beforeAll(async () => {
    const config = parseConfig(
      ['--mode', 'leaderless', '--n', '1', '--log-level', 'silent'],
      {},
      REPLICATION_FLAGS,
    );
    node = await startReplicationNode(config, { handleSignals: false });
  });
  afterAll(async () => {
    await node?.close();
    await http.close();
  });

  const request = (path: string, init: Parameters<HttpClient['request']>[1] = {}) =>
    http.request(`${node.url}${path}`, { retry: false, ...init });

  const cases: [string, string, Parameters<HttpClient['request']>[1], number, string][] = [
    ['a context that is not base64url', '/kv/a', { headers: { 'x-context': '!!' } }, 400, 'BAD_CONTEXT'],
    [
      'a context that is not a vector',
      '/kv/a',
      { headers: { 'x-context': Buffer.from('[1]').toString('base64url') } },
      400,
      'BAD_CONTEXT',
    ],
    [
      'a context with a negative counter',
      '/kv/a',
      { headers: { 'x-context': Buffer.from('{"n1":-1}').toString('base64url') } },
      400,
      'BAD_CONTEXT',
    ],
    ['W that is not a quorum', '/kv/a?w=most', { method: 'PUT', body: 'v' }, 400, 'BAD_REQUEST'],
    ['W > N on a request', '/kv/a?w=2', { method: 'PUT', body: 'v' }, 400, 'BAD_REQUEST'],
    ['R > N on a request', '/kv/a?r=2', {}, 400, 'BAD_REQUEST'],
    [
      'local_quorum on a node without --dcs',
      '/kv/a?w=local_quorum',
      { method: 'PUT', body: 'v' },
      400,
      'BAD_REQUEST',
    ],
    ['each_quorum on a node without --dcs', '/kv/a?r=each_quorum', {}, 400, 'BAD_REQUEST'],
    ['a misspelt datacenter level', '/kv/a?r=LOCAL-QUORUM', {}, 400, 'BAD_REQUEST'],
    ['sync= outside single-leader', '/kv/a?sync=true', { method: 'PUT', body: 'v' }, 400, 'BAD_REQUEST'],
    ['an empty value', '/kv/a', { method: 'PUT', body: '' }, 400, 'BAD_REQUEST'],
    ['an unknown type', '/kv/a?type=crdt', { method: 'PUT', body: 'v' }, 400, 'BAD_REQUEST'],
    [
      'an unknown session guarantee',
      '/kv/a',
      { headers: { 'x-session': 'linearizable' } },
      400,
      'BAD_REQUEST',
    ],
    [
      'a consistent-prefix session outside single-leader mode (no one order of writes)',
      '/kv/a',
      { headers: { 'x-session': 'consistent-prefix' } },
      400,
      'BAD_REQUEST',
    ],
    [
      'a CRDT op that does not exist',
      '/crdt/c',
      { method: 'POST', body: { op: 'multiply', by: 2 } },
      400,
      'VALIDATION',
    ],
    ['a key over the limit', `/kv/${'k'.repeat(2_000)}`, {}, 400, 'BAD_REQUEST'],
  ];
  for (const [what, path, init, status, code] of cases) {
    it(what, async () => {
      const response = await request(path, init);
      expect(response.status).toBe(status);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json<{ code: string }>().code).toContain(code);
    });
  }

  it('without --chaos there is no clock-skew endpoint (fault injection is opt-in)', async () => {
    const response = await request('/chaos/clock-skew', { method: 'POST', body: { ms: -60_000 } });
    expect(response.status).toBe(404);
    expect((await http.json<{ clockSkewMs: number }>(`${node.url}/cluster`)).clockSkewMs).toBe(0);
  });

  it('a write to a single-leader follower is a 421 naming the leader and its URL', async () => {
    const follower = await startReplicationNode(
      parseConfig(
        ['--mode', 'single-leader', '--id', 'n2', '--peers', PEERS, '--log-level', 'silent'],
        {},
        REPLICATION_FLAGS,
      ),
      { handleSignals: false },
    );
    try {
      const response = await http.request(`${follower.url}/kv/a`, { method: 'PUT', body: 'v', retry: false });
      expect(response.status).toBe(421);
      expect(response.json()).toMatchObject({ leader: 'n1', leaderUrl: 'http://127.0.0.1:1', epoch: 1 });
    } finally {
      await follower.close();
    }
  });

  it('a CRDT op on a key of another type is a 409', async () => {
    expect((await request('/kv/typed', { method: 'PUT', body: 'v' })).status).toBe(200);
    const response = await request('/crdt/typed', { method: 'POST', body: { op: 'increment', amount: 1 } });
    expect(response.status).toBe(409);
    expect(response.json<{ code: string }>().code).toBe('DDIA_ERR_REPLICATION_TYPE_MISMATCH');
  });

  it('a counter, a set and a map converge by CRDT merge (one node: the API shape)', async () => {
    for (const amount of [5, -2])
      await request('/crdt/likes', { method: 'POST', body: { op: 'increment', amount } });
    const counter = await request('/kv/likes');
    expect(counter.json()).toEqual({ key: 'likes', type: 'counter', value: 3 });
    await request('/crdt/cart', { method: 'POST', body: { op: 'add', element: 'milk' } });
    await request('/crdt/cart', { method: 'POST', body: { op: 'add', element: 'eggs' } });
    await request('/crdt/cart', { method: 'POST', body: { op: 'remove', element: 'milk' } });
    expect((await request('/kv/cart')).json()).toEqual({ key: 'cart', type: 'set', elements: ['eggs'] });
  });
});
