// Writes sent to a follower: Raft carries them to the leader inside messages (etcd's MsgProp)
// and the follower answers once it applies the entry. The answers must be exactly what the
// leader gives, sessions must dedupe across nodes, and a leader crash must not strand them.
import { HttpClient } from '@ddia/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessCluster, leaderOf, startInProcess } from './support/in-process.js';

const http = new HttpClient({ deadlineMs: 10_000, retries: 0 });

describe('writes through a follower, three nodes', () => {
  let cluster: InProcessCluster;
  beforeAll(async () => {
    cluster = await startInProcess(3);
    await leaderOf(cluster);
  });
  afterAll(async () => {
    await cluster?.close();
  });
  const nodes = async () => {
    const leader = await leaderOf(cluster);
    const follower = cluster.nodes.find((n) => n !== leader)!;
    return { leader, follower };
  };
  const metric = async (url: string, name: string): Promise<number> => {
    const text = (await http.request(`${url}/metrics`, { retry: false })).text();
    // `name{service="kv-store",node="n2"} 12`: the service's default labels, then the value.
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  /** PUT /kv/* requests a node served over HTTP, any status (common's request histogram). */
  const kvPutsServed = async (url: string): Promise<number> => {
    const text = (await http.request(`${url}/metrics`, { retry: false })).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith('http_request_duration_seconds_count{'))
      .filter((l) => l.includes('method="PUT"') && l.includes('route="/kv/*"'))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  };

  it('many concurrent writes through a follower ride Raft messages and all apply', async () => {
    const { leader, follower } = await nodes();
    const WRITES = 96;
    const sentBefore = await metric(follower.url, 'kv_raft_messages_sent_total');
    const leaderPutsBefore = await kvPutsServed(leader.url);
    const followerPutsBefore = await kvPutsServed(follower.url);
    const answers = await Promise.all(
      Array.from({ length: WRITES }, (_, i) =>
        http.request(`${follower.url}/kv/many/${i}`, { method: 'PUT', body: `v${i}`, retry: false }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 201));
    // The follower's answer comes from its own apply: every node holds every value already.
    for (const i of [0, WRITES / 2, WRITES - 1]) {
      for (const node of [leader, follower]) {
        const read = await http.request(`${node.url}/kv/many/${i}?consistency=serializable`, {
          retry: false,
        });
        expect(read.text()).toBe(`v${i}`);
      }
    }
    // The proposals left in Raft messages (how many depends on how Ready cycles batched them,
    // so only "some" is certain) and never as HTTP requests to the leader's /kv routes.
    const sent = (await metric(follower.url, 'kv_raft_messages_sent_total')) - sentBefore;
    expect(sent).toBeGreaterThan(0);
    expect(await kvPutsServed(follower.url)).toBe(followerPutsBefore + WRITES);
    expect(await kvPutsServed(leader.url)).toBe(leaderPutsBefore);
  });

  it('answers exactly as the leader does: 201, 200, 412, 204, 404, headers included', async () => {
    const { leader, follower } = await nodes();
    // The same script against the leader (direct) and a follower (forwarded), on separate keys.
    const script = async (base: string, key: string) => {
      const out: { status: number; headers: Record<string, unknown>; body: unknown }[] = [];
      const step = async (options: Parameters<HttpClient['request']>[1]) => {
        const r = await http.request(`${base}/kv/${key}`, { retry: false, ...options });
        const body = r.body.length > 0 ? (r.json() as Record<string, unknown>) : null;
        out.push({ status: r.status, headers: r.headers as Record<string, unknown>, body });
        return r;
      };
      const created = await step({ method: 'PUT', body: 'one' });
      await step({ method: 'PUT', body: 'two' });
      await step({ method: 'PUT', body: 'three', headers: { 'if-match': String(created.headers.etag) } });
      await step({ method: 'PUT', body: 'four', headers: { 'if-none-match': '*' } });
      await step({ method: 'DELETE' });
      await step({ method: 'DELETE' });
      return out;
    };
    const direct = await script(leader.url, 'same-direct');
    const forwarded = await script(follower.url, 'same-forwarded');
    expect(forwarded.map((s) => s.status)).toEqual([201, 200, 412, 412, 204, 404]);
    expect(forwarded.map((s) => s.status)).toEqual(direct.map((s) => s.status));
    const leaderId = leader.raft.status().id;
    for (const [i, step] of forwarded.entries()) {
      const twin = direct[i]!;
      for (const name of ['etag', 'x-revision', 'x-request-duplicate', 'content-type']) {
        expect(step.headers[name] === undefined, `${name} on step ${i}`).toBe(
          twin.headers[name] === undefined,
        );
      }
      expect(step.headers['x-raft-leader']).toBe(leaderId);
      expect(step.headers['x-raft-term']).toBe(String(leader.raft.status().term));
      expect(Object.keys(step.body ?? {}).sort()).toEqual(Object.keys(twin.body ?? {}).sort());
      const twinCode = (twin.body as { code?: string } | null)?.code;
      if (twinCode) expect((step.body as { code?: string }).code).toBe(twinCode);
    }
    // The 412 names the version that is there now, like the leader's, and its ETag says it too.
    const failedCas = forwarded[2]!;
    expect(`"${(failedCas.body as { currentVersion: number }).currentVersion}"`).toBe(failedCas.headers.etag);
    expect(forwarded[0]!.headers.etag).toBe(`"${(forwarded[0]!.body as { version: number }).version}"`);
  });

  it('a retried session write through a follower gets the original answer, marked duplicate', async () => {
    const { leader, follower } = await nodes();
    const headers = { 'x-client-id': 'batch-client', 'x-request-seq': '7' };
    const first = await http.request(`${follower.url}/kv/session`, {
      method: 'PUT',
      body: 'once',
      headers,
      retry: false,
    });
    expect(first.status).toBe(201);
    expect(first.headers['x-request-duplicate']).toBeUndefined();
    // The retry goes to another node than the first try: sessions live in the replicated state.
    for (const node of [follower, leader]) {
      const again = await http.request(`${node.url}/kv/session`, {
        method: 'PUT',
        body: 'twice',
        headers,
        retry: false,
      });
      expect(again.status).toBe(201);
      expect(again.headers['x-request-duplicate']).toBe('true');
      expect(again.json()).toEqual(first.json());
    }
    const stale = await http.request(`${follower.url}/kv/session`, {
      method: 'PUT',
      body: 'old',
      headers: { ...headers, 'x-request-seq': '3' },
      retry: false,
    });
    expect(stale.status).toBe(409);
    expect(stale.json()).toMatchObject({ code: 'DDIA_ERR_KV_STALE_REQUEST' });
    expect((await http.request(`${leader.url}/kv/session`, { retry: false })).text()).toBe('once');
  });

  it('concurrent CAS through a follower: exactly one wins, the rest get 412', async () => {
    const { follower } = await nodes();
    const etag = String(
      (await http.request(`${follower.url}/kv/race`, { method: 'PUT', body: '0', retry: false })).headers
        .etag,
    );
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        http.request(`${follower.url}/kv/race`, {
          method: 'PUT',
          body: `w${i}`,
          headers: { 'if-match': etag },
          retry: false,
        }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(11);
  });

  it('a write sent to a follower while the leader is gone waits for the new leader, then applies once', async () => {
    const { leader, follower } = await nodes();
    const survivors = cluster.nodes.filter((n) => n !== leader);
    await leader.close();
    const started = performance.now();
    const answer = await http.request(`${follower.url}/kv/after-failover`, {
      method: 'PUT',
      body: 'kept',
      retry: false,
    });
    const tookMs = performance.now() - started;
    expect(answer.status).toBe(201);
    // Elections here take a few hundred ms (tick 20 ms); the request timeout is 5 s. A proposal
    // lost with the old leader is refused as soon as a later term's entry applies, and retried.
    expect(tookMs).toBeLessThan(4_000);
    for (const node of survivors) {
      const read = await http.request(`${node.url}/kv/after-failover`, { retry: false });
      expect(read.text()).toBe('kept');
      expect(read.headers.etag).toBe(answer.headers.etag);
    }
  });
});
