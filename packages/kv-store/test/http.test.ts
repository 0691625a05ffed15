// Route-level tests against real nodes in this process: every route of the API and
// its bad input, on one node and on three.
import { HttpClient } from '@ddia/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessCluster, leaderOf, startInProcess, waitFor } from './support/in-process.js';

const http = new HttpClient({ deadlineMs: 10_000, retries: 0 });
const VALUE_LIMIT = 1024;

describe('kv-store HTTP API, one node', () => {
  let cluster: InProcessCluster;
  let base: string;
  beforeAll(async () => {
    cluster = await startInProcess(1, ['--value-bytes-max', String(VALUE_LIMIT), '--key-bytes-max', '64']);
    base = cluster.urls[0] as string;
    await leaderOf(cluster);
  });
  afterAll(async () => {
    await cluster?.close();
  });
  const req = (path: string, options: Parameters<HttpClient['request']>[1] = {}) =>
    http.request(`${base}${path}`, { retry: false, ...options });

  it("kv_applied_index counts the new leader's empty entry: with no write yet, it reaches the commit index", async () => {
    // Read together from one scrape; apply trails commit for a moment, so wait until they meet
    // (with the store's own index they never did: the empty entry carries no command).
    const indexes = await waitFor('applied index = commit index', async () => {
      const metrics = (await req('/metrics')).text();
      const gauge = (name: string) =>
        Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'm').exec(metrics)?.[1]);
      const commit = gauge('kv_raft_commit_index');
      const applied = gauge('kv_applied_index');
      return commit > 1 && applied === commit ? { commit, applied } : undefined;
    });
    expect(indexes.applied).toBe(indexes.commit);
  });

  it('PUT creates (201) then overwrites (200) with ETag = version and X-Revision', async () => {
    const created = await req('/kv/alpha', { method: 'PUT', body: 'one' });
    expect(created.status).toBe(201);
    const v1 = Number(String(created.headers.etag).replaceAll('"', ''));
    expect(created.headers['x-revision']).toBe(String(v1));
    expect(created.json()).toMatchObject({ key: 'alpha', version: v1, created: true });
    const updated = await req('/kv/alpha', { method: 'PUT', body: 'two' });
    expect(updated.status).toBe(200);
    expect(updated.headers.etag).toBe(`"${v1 + 1}"`);
    const got = await req('/kv/alpha');
    expect(got.status).toBe(200);
    expect(got.text()).toBe('two');
    expect(got.headers.etag).toBe(`"${v1 + 1}"`);
    expect(got.headers['content-type']).toBe('application/octet-stream');
    expect(got.headers['x-raft-leader']).toBe('n1');
    expect(Number(got.headers['x-raft-term'])).toBeGreaterThan(0);
  });

  it('stores raw bytes exactly; keys may hold slashes and unicode', async () => {
    const bytes = Buffer.from([0, 255, 1, 254, 10, 13]);
    expect((await req('/kv/dir%2Fsub/%C3%A9t%C3%A9', { method: 'PUT', body: bytes })).status).toBe(201);
    const got = await req(`/kv/${encodeURIComponent('dir/sub/été')}`);
    expect(got.status).toBe(200);
    expect(Buffer.compare(got.body, bytes)).toBe(0);
    expect((await req('/kv/empty', { method: 'PUT', body: '' })).status).toBe(201);
    expect((await req('/kv/empty')).body.length).toBe(0);
  });

  it('GET of a missing key is 404 problem+json', async () => {
    const r = await req('/kv/nope');
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toContain('application/problem+json');
    expect(r.json()).toMatchObject({ code: 'DDIA_ERR_KV_KEY_NOT_FOUND', retriable: false });
  });

  it('If-Match is compare-and-set; a stale version is 412 with the current version', async () => {
    const v = String((await req('/kv/cas', { method: 'PUT', body: 'a' })).headers.etag);
    const ok = await req('/kv/cas', { method: 'PUT', body: 'b', headers: { 'if-match': v } });
    expect(ok.status).toBe(200);
    const stale = await req('/kv/cas', { method: 'PUT', body: 'c', headers: { 'if-match': v } });
    expect(stale.status).toBe(412);
    expect(stale.json()).toMatchObject({ code: 'DDIA_ERR_KV_PRECONDITION_FAILED' });
    expect(`"${(stale.json() as { currentVersion: number }).currentVersion}"`).toBe(ok.headers.etag);
    expect((await req('/kv/cas')).text()).toBe('b');
    expect(
      (await req('/kv/missing-cas', { method: 'PUT', body: 'x', headers: { 'if-match': '"1"' } })).status,
    ).toBe(412);
  });

  it('RFC 9110 §13.1.1: a well-formed tag that names no version is a false condition (412), not a 400', async () => {
    const v = String((await req('/kv/tags', { method: 'PUT', body: 'a' })).headers.etag);
    for (const tag of ['"no-such-version"', `W/${v}`, '""']) {
      const r = await req('/kv/tags', { method: 'PUT', body: 'x', headers: { 'if-match': tag } });
      expect(r.status, tag).toBe(412);
      expect(r.headers.etag, tag).toBe(v);
    }
    expect((await req('/kv/tags')).text()).toBe('a');
    const listed = await req('/kv/tags', {
      method: 'PUT',
      body: 'b',
      headers: { 'if-match': `"nope", ${v}` },
    });
    expect(listed.status).toBe(200);
    const star = await req('/kv/tags', { method: 'PUT', body: 'c', headers: { 'if-match': '*' } });
    expect(star.status).toBe(200);
    expect(
      (await req('/kv/tags-missing', { method: 'PUT', body: 'c', headers: { 'if-match': '*' } })).status,
    ).toBe(412);
    expect((await req('/kv/tags')).text()).toBe('c');
  });

  it('If-None-Match: * creates only when absent', async () => {
    expect(
      (await req('/kv/once', { method: 'PUT', body: 'a', headers: { 'if-none-match': '*' } })).status,
    ).toBe(201);
    const again = await req('/kv/once', { method: 'PUT', body: 'b', headers: { 'if-none-match': '*' } });
    expect(again.status).toBe(412);
    expect((await req('/kv/once')).text()).toBe('a');
  });

  it('malformed conditions are 400', async () => {
    const cases: Record<string, string>[] = [
      { 'if-match': 'abc' },
      { 'if-match': '"1", abc' },
      { 'if-match': '"unterminated' },
      { 'if-none-match': '"3"' },
      { 'if-match': '"1"', 'if-none-match': '*' },
    ];
    for (const headers of cases) {
      const r = await req('/kv/cond', { method: 'PUT', body: 'x', headers });
      expect(r.status, JSON.stringify(headers)).toBe(400);
      expect(r.json()).toMatchObject({ code: 'DDIA_ERR_KV_BAD_CONDITION' });
    }
    expect((await req('/kv/cond', { method: 'DELETE', headers: { 'if-none-match': '*' } })).status).toBe(400);
  });

  it('DELETE answers 204, then 404; If-Match guards it', async () => {
    const v = String((await req('/kv/gone', { method: 'PUT', body: 'x' })).headers.etag);
    expect((await req('/kv/gone', { method: 'DELETE', headers: { 'if-match': '"999999"' } })).status).toBe(
      412,
    );
    const del = await req('/kv/gone', { method: 'DELETE', headers: { 'if-match': v } });
    expect(del.status).toBe(204);
    expect(Number(del.headers['x-revision'])).toBeGreaterThan(Number(v.replaceAll('"', '')));
    expect((await req('/kv/gone')).status).toBe(404);
    expect((await req('/kv/gone', { method: 'DELETE' })).status).toBe(404);
  });

  it('keys and values over the limits are 413; an empty key is 400', async () => {
    const bigKey = await req(`/kv/${'k'.repeat(65)}`, { method: 'PUT', body: 'x' });
    expect(bigKey.status).toBe(413);
    expect(bigKey.json()).toMatchObject({ code: 'DDIA_ERR_KV_KEY_TOO_LARGE' });
    const bigValue = await req('/kv/big', { method: 'PUT', body: Buffer.alloc(VALUE_LIMIT + 1) });
    expect(bigValue.status).toBe(413);
    expect((await req('/kv/big')).status).toBe(404);
    expect((await req('/kv/big', { method: 'PUT', body: Buffer.alloc(VALUE_LIMIT) })).status).toBe(201);
    expect((await req('/kv/', { method: 'PUT', body: 'x' })).status).toBe(400);
  });

  it('a retried write with the same X-Client-Id / X-Request-Seq applies once and gets the original answer', async () => {
    const headers = { 'x-client-id': 'client-a', 'x-request-seq': '1' };
    const first = await req('/kv/once-only', { method: 'PUT', body: 'first', headers });
    expect(first.status).toBe(201);
    await req('/kv/once-only', { method: 'PUT', body: 'between' });
    const retry = await req('/kv/once-only', { method: 'PUT', body: 'first', headers });
    expect(retry.status).toBe(201);
    expect(retry.headers['x-request-duplicate']).toBe('true');
    expect(retry.headers.etag).toBe(first.headers.etag);
    expect((await req('/kv/once-only')).text()).toBe('between');
    expect(
      (
        await req('/kv/once-only', {
          method: 'PUT',
          body: 'x',
          headers: { 'x-client-id': 'client-a', 'x-request-seq': '2' },
        })
      ).status,
    ).toBe(200);
    const stale = await req('/kv/once-only', { method: 'PUT', body: 'old', headers });
    expect(stale.status).toBe(409);
    expect(stale.json()).toMatchObject({ code: 'DDIA_ERR_KV_STALE_REQUEST' });
    const bads: Record<string, string>[] = [
      { 'x-client-id': 'c' },
      { 'x-client-id': 'c', 'x-request-seq': '0' },
      { 'x-client-id': 'bad id', 'x-request-seq': '1' },
    ];
    for (const bad of bads) {
      expect((await req('/kv/s', { method: 'PUT', body: 'x', headers: bad })).status).toBe(400);
    }
  });

  it('lists by prefix, start, end and limit; non-UTF-8 values in base64', async () => {
    for (const k of ['list/a', 'list/b', 'list/c', 'lisz']) await req(`/kv/${k}`, { method: 'PUT', body: k });
    await req('/kv/list/bin', { method: 'PUT', body: Buffer.from([0xff, 0xfe]) });
    const all = (await req('/kv?prefix=list/')).json() as {
      items: { key: string; value: string; encoding: string; version: number }[];
      more: boolean;
      count: number;
      revision: number;
    };
    expect(all.items.map((i) => i.key)).toEqual(['list/a', 'list/b', 'list/bin', 'list/c']);
    expect(all.items.find((i) => i.key === 'list/bin')).toMatchObject({
      value: Buffer.from([0xff, 0xfe]).toString('base64'),
      encoding: 'base64',
    });
    expect(all.items[0]).toMatchObject({ value: 'list/a', encoding: 'utf8' });
    expect(all.revision).toBeGreaterThanOrEqual(all.items[0]?.version ?? 0);
    const page = (await req('/kv?prefix=list/&limit=2')).json() as {
      items: { key: string }[];
      more: boolean;
    };
    expect(page.items.map((i) => i.key)).toEqual(['list/a', 'list/b']);
    expect(page.more).toBe(true);
    const range = (await req('/kv?start=list/b&end=list/c&consistency=serializable')).json() as {
      items: { key: string }[];
    };
    expect(range.items.map((i) => i.key)).toEqual(['list/b', 'list/bin']);
    expect((await req('/kv?limit=0')).status).toBe(400);
    expect((await req('/kv?limit=100000')).status).toBe(400);
    expect((await req('/kv?consistency=eventual')).status).toBe(400);
  });

  it('serves cluster status, snapshots, readiness and metrics', async () => {
    const cluster = (await req('/cluster')).json() as {
      leader: string;
      members: { id: string; appliedIndex: number; reachable: boolean }[];
    };
    expect(cluster.leader).toBe('n1');
    expect(cluster.members).toHaveLength(1);
    expect(cluster.members[0]).toMatchObject({ id: 'n1', reachable: true });
    const snap = await req('/admin/snapshot', { method: 'POST' });
    expect(snap.status).toBe(200);
    expect((snap.json() as { index: number }).index).toBeGreaterThan(0);
    expect((await req('/ready')).status).toBe(200);
    const metrics = (await req('/metrics')).text();
    for (const name of [
      'kv_proposals_total',
      'kv_commits_applied_total',
      'kv_applied_index',
      'kv_leader_changes_total',
      'kv_request_duration_seconds_bucket',
    ]) {
      expect(metrics).toContain(name);
    }
    expect(metrics).toMatch(/consistency="linearizable"/);
  });

  it('admin bad input is 4xx problem+json', async () => {
    expect((await req('/cluster/members', { method: 'POST', body: { action: 'grow' } })).status).toBe(400);
    expect(
      (await req('/cluster/members', { method: 'POST', body: { action: 'add', id: 'n9' } })).status,
    ).toBe(400);
    expect(
      (await req('/cluster/members', { method: 'POST', body: { action: 'remove', id: 'n9' } })).status,
    ).toBe(404);
    expect((await req('/cluster/transfer-leader', { method: 'POST', body: { to: 'n9' } })).status).toBe(404);
    expect(
      (
        await req('/cluster/members', {
          method: 'POST',
          body: '{',
          headers: { 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(400);
  });
});

describe('kv-store HTTP API, three nodes', () => {
  let cluster: InProcessCluster;
  beforeAll(async () => {
    cluster = await startInProcess(3);
    await leaderOf(cluster);
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('a follower forwards writes to the leader and serves linearizable reads itself', async () => {
    const leader = await leaderOf(cluster);
    const follower = cluster.nodes.find((n) => n !== leader)!;
    const put = await http.request(`${follower.url}/kv/fwd`, { method: 'PUT', body: 'v', retry: false });
    expect(put.status).toBe(201);
    expect(put.headers['x-raft-leader']).toBe(leader.raft.status().id);
    for (const node of cluster.nodes) {
      const got = await http.request(`${node.url}/kv/fwd`, { retry: false });
      expect(got.status).toBe(200);
      expect(got.text()).toBe('v');
    }
    await waitFor('every replica to apply', () =>
      cluster.nodes.every((n) => n.machine.revision === leader.machine.revision) ? true : undefined,
    );
  });

  it('GET /cluster reports every member with its applied index; leadership can be transferred', async () => {
    const leader = await leaderOf(cluster);
    const status = (await http.json(`${leader.url}/cluster`)) as {
      leader: string;
      members: { id: string; reachable: boolean; appliedIndex: number; lagEntries: number }[];
    };
    expect(status.members.map((m) => m.id).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(status.members.every((m) => m.reachable)).toBe(true);
    const target = cluster.nodes.find((n) => n !== leader)!.raft.status().id;
    const follower = cluster.nodes.find((n) => n !== leader)!;
    const moved = await http.request(`${follower.url}/cluster/transfer-leader`, {
      method: 'POST',
      body: { to: target },
      retry: false,
    });
    expect(moved.status).toBe(200);
    await waitFor('the new leader', () =>
      cluster.nodes.find((n) => n.raft.status().id === target)?.raft.status().role === 'leader'
        ? true
        : undefined,
    );
    expect(
      (await http.request(`${leader.url}/kv/after-transfer`, { method: 'PUT', body: 'x', retry: false }))
        .status,
    ).toBe(201);
  });
});

describe('kv-store HTTP API without a quorum', () => {
  it('waits for a leader up to the deadline, then answers 503 retriable; serializable reads still answer', {
    timeout: 60_000,
  }, async () => {
    const cluster = await startInProcess(3, ['--request-timeout-ms', '700']);
    try {
      const leader = await leaderOf(cluster);
      expect(
        (await http.request(`${leader.url}/kv/q`, { method: 'PUT', body: 'v', retry: false })).status,
      ).toBe(201);
      const survivor = cluster.nodes.find((n) => n !== leader)!;
      await waitFor('the survivor to apply', () => (survivor.machine.revision >= 1 ? true : undefined));
      for (const node of cluster.nodes) if (node !== survivor) await node.close();
      await waitFor('the survivor to forget the leader', () =>
        survivor.raft.status().leaderId === null ? true : undefined,
      );
      const started = performance.now();
      const put = await http.request(`${survivor.url}/kv/q`, { method: 'PUT', body: 'w', retry: false });
      const waitedMs = performance.now() - started;
      expect(put.status).toBe(503);
      expect(put.json()).toMatchObject({ code: 'DDIA_ERR_KV_NO_LEADER', retriable: true });
      expect(waitedMs).toBeGreaterThanOrEqual(600);
      expect((await http.request(`${survivor.url}/kv/q`, { retry: false })).status).toBe(503);
      expect((await http.request(`${survivor.url}/ready`, { retry: false })).status).toBe(503);
      const stale = await http.request(`${survivor.url}/kv/q?consistency=serializable`, { retry: false });
      expect(stale.status).toBe(200);
      expect(stale.text()).toBe('v');
    } finally {
      await cluster.close();
    }
  });
});
