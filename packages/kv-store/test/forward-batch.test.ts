// Followers forward writes to the leader in batches (src/cluster/forward-batcher.ts, FORMAT.md
// §4): the codec on bytes, the batcher against real sockets that misbehave, and a real
// three-node cluster where writes through a follower must answer exactly like writes to the
// leader while costing fewer internal requests than writes.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpClient, writeVarint } from '@ddia/common';
import { freePorts } from '@ddia/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeForwardBatch,
  encodeForwardBatch,
  FORWARD_BATCH_COMMANDS_MAX,
  FORWARD_CONTENT_TYPE,
  FORWARD_PATH,
  ForwardBatchFormatError,
  parseForwardBatchAnswer,
} from '../src/cluster/forward-batch.js';
import { ForwardBatcher } from '../src/cluster/forward-batcher.js';
import { RETRY } from '../src/cluster/router.js';
import { encodeCommand } from '../src/store/command.js';
import { type InProcessCluster, leaderOf, startInProcess } from './support/in-process.js';

const http = new HttpClient({ deadlineMs: 10_000, retries: 0 });
const LIMITS = { commandsMax: FORWARD_BATCH_COMMANDS_MAX, commandBytesMax: 1 << 20 };
const putCommand = (key: string, value: string) =>
  encodeCommand({
    op: 'put',
    key: Buffer.from(key),
    value: Buffer.from(value),
    condition: { kind: 'none' },
  });

describe('forward batch format (FORMAT.md §4)', () => {
  it('round-trips any list of commands and deadlines', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            deadlineMs: fc.integer({ min: 1, max: 600_000 }),
            command: fc.uint8Array({ minLength: 1, maxLength: 300 }),
          }),
          { minLength: 1, maxLength: 50 },
        ),
        (commands) => {
          const decoded = decodeForwardBatch(encodeForwardBatch(commands), LIMITS);
          expect(decoded.map((c) => ({ deadlineMs: c.deadlineMs, command: [...c.command] }))).toEqual(
            commands.map((c) => ({ deadlineMs: c.deadlineMs, command: [...c.command] })),
          );
        },
      ),
    );
  });

  it('refuses damaged, empty, oversized and truncated batches with ForwardBatchFormatError', () => {
    const good = encodeForwardBatch([{ deadlineMs: 100, command: putCommand('k', 'v') }]);
    const bad: [string, Uint8Array, typeof LIMITS?][] = [
      ['empty body', new Uint8Array(0)],
      ['unknown version', Uint8Array.from([9, ...good.subarray(1)])],
      ['zero commands', Uint8Array.from([1, 0])],
      ['truncated command', good.subarray(0, good.length - 1)],
      ['trailing bytes', Uint8Array.from([...good, 0])],
      ['count varint runs past the end', Uint8Array.from([1, 0x80])],
      ['zero deadline', encodeForwardBatch([{ deadlineMs: 0, command: putCommand('k', 'v') }])],
      ['empty command', Uint8Array.from([1, 1, 100, 0])],
      ['too many commands', good, { commandsMax: 0, commandBytesMax: 100 }],
      ['command too large', good, { commandsMax: 10, commandBytesMax: 2 }],
    ];
    for (const [what, bytes, limits] of bad) {
      expect(() => decodeForwardBatch(bytes, limits ?? LIMITS), what).toThrow(ForwardBatchFormatError);
    }
  });

  it('checks the leader’s answer before trusting it', () => {
    const ok = { term: 2, leaderId: 'n1', results: [{ retry: true }] };
    expect(parseForwardBatchAnswer(Buffer.from(JSON.stringify(ok)), 1)).toEqual(ok);
    for (const body of ['{', 'null', JSON.stringify({ ...ok, results: [] }), JSON.stringify({ term: 1 })]) {
      expect(() => parseForwardBatchAnswer(Buffer.from(body), 1), body).toThrow(ForwardBatchFormatError);
    }
    const unknown = JSON.stringify({ ...ok, results: [{ maybe: true }] });
    expect(() => parseForwardBatchAnswer(Buffer.from(unknown), 1)).toThrow(ForwardBatchFormatError);
  });
});

describe('ForwardBatcher against leaders that fail', () => {
  const client = new HttpClient({ deadlineMs: 5_000, retries: 0 });
  const servers: Server[] = [];
  afterAll(async () => {
    await client.close();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });
  const listen = async (handler: Parameters<typeof createServer>[1]): Promise<string> => {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  it('a refused connection means "not sent": every write comes back RETRY', async () => {
    const [port] = await freePorts(1);
    const batcher = new ForwardBatcher({ client });
    const answers = await Promise.all(
      [1, 2, 3].map((i) => batcher.forward(`http://127.0.0.1:${port}`, putCommand(`k${i}`, 'v'), 1_000)),
    );
    expect(answers).toEqual([RETRY, RETRY, RETRY]);
  });

  it('one turn is one request; an unanswered batch is "outcome unknown" at each write’s own deadline', async () => {
    let requests = 0;
    const url = await listen((request) => {
      requests++;
      request.resume(); // never answers
    });
    let sent = 0;
    const batcher = new ForwardBatcher({ client, onBatchSent: (n) => (sent += n) });
    const startedAt = performance.now();
    const short = batcher.forward(url, putCommand('a', '1'), 150).catch((e: Error) => e);
    const long = batcher.forward(url, putCommand('b', '2'), 600).catch((e: Error) => e);
    const shortError = (await short) as Error & { code?: string };
    const shortMs = performance.now() - startedAt;
    expect(shortError.code).toBe('DDIA_ERR_KV_OUTCOME_UNKNOWN');
    expect(shortMs).toBeGreaterThanOrEqual(140);
    expect(shortMs).toBeLessThan(550);
    expect(((await long) as Error & { code?: string }).code).toBe('DDIA_ERR_KV_OUTCOME_UNKNOWN');
    expect(requests).toBe(1);
    expect(sent).toBe(2);
  });

  it('a NotLeader problem for the whole batch is RETRY; another problem reaches every write', async () => {
    const notLeader = await listen((_request, response) => {
      response.writeHead(503, { 'content-type': 'application/problem+json' });
      response.end(JSON.stringify({ code: 'DDIA_ERR_KV_NOT_LEADER', status: 503, title: 'x' }));
    });
    const batcher = new ForwardBatcher({ client });
    expect(await batcher.forward(notLeader, putCommand('a', '1'), 1_000)).toBe(RETRY);
    const broken = await listen((_request, response) => {
      response.writeHead(500);
      response.end('boom');
    });
    const error = (await batcher.forward(broken, putCommand('a', '1'), 1_000).catch((e) => e)) as {
      code: string;
      status: number;
    };
    expect(error).toMatchObject({ code: 'DDIA_ERR_KV_OUTCOME_UNKNOWN', status: 504 });
  });
});

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

  it('many concurrent writes travel in fewer internal requests than writes', async () => {
    const { leader, follower } = await nodes();
    const WRITES = 96;
    const batchesBefore = await metric(follower.url, 'kv_forward_batches_total');
    const writesBefore = await metric(follower.url, 'kv_forwarded_writes_total');
    const receivedBefore = await metric(leader.url, 'kv_forward_batches_received_total');
    const answers = await Promise.all(
      Array.from({ length: WRITES }, (_, i) =>
        http.request(`${follower.url}/kv/many/${i}`, { method: 'PUT', body: `v${i}`, retry: false }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 201));
    const batches = (await metric(follower.url, 'kv_forward_batches_total')) - batchesBefore;
    const writes = (await metric(follower.url, 'kv_forwarded_writes_total')) - writesBefore;
    const received = (await metric(leader.url, 'kv_forward_batches_received_total')) - receivedBefore;
    expect(writes).toBe(WRITES);
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(WRITES);
    expect(received).toBe(batches);
    console.log(`${WRITES} forwarded writes in ${batches} batches`);
    for (const i of [0, WRITES - 1]) {
      expect((await http.request(`${leader.url}/kv/many/${i}`, { retry: false })).text()).toBe(`v${i}`);
    }
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

  it('malformed internal bodies are 400 problem+json; nothing is proposed', async () => {
    const { leader } = await nodes();
    const appliedBefore = leader.machine.appliedIndex;
    const post = (body: Uint8Array | string, type = FORWARD_CONTENT_TYPE) =>
      http.request(`${leader.url}${FORWARD_PATH}`, {
        method: 'POST',
        body: Buffer.from(body),
        headers: { 'content-type': type },
        retry: false,
      });
    const good = putCommand('ok', 'v');
    const garbageCommand = Uint8Array.from([1, 7, 0, 0, 1, 65]); // op code 7 does not exist
    const tooMany = new Uint8Array(16);
    const tooManyEnd = writeVarint(tooMany, 1, FORWARD_BATCH_COMMANDS_MAX + 1);
    tooMany[0] = 1;
    const bodies: [string, Uint8Array | string][] = [
      ['empty', ''],
      ['unknown version', Uint8Array.from([2, 1, 1, 1, 1])],
      ['truncated', encodeForwardBatch([{ deadlineMs: 500, command: good }]).subarray(0, 6)],
      ['too many commands', tooMany.subarray(0, tooManyEnd)],
      // One good command and one that does not decode: the whole batch is refused.
      [
        'undecodable command',
        encodeForwardBatch([
          { deadlineMs: 500, command: good },
          { deadlineMs: 500, command: garbageCommand },
        ]),
      ],
    ];
    for (const [what, body] of bodies) {
      const r = await post(body);
      expect(r.status, what).toBe(400);
      expect(r.headers['content-type'], what).toContain('application/problem+json');
      expect(r.json(), what).toMatchObject({ code: 'DDIA_ERR_KV_BAD_FORWARD_BATCH', retriable: false });
    }
    expect((await post('{}', 'application/json')).status).toBe(415);
    expect(leader.machine.appliedIndex).toBe(appliedBefore);
    expect((await http.request(`${leader.url}/kv/ok`, { retry: false })).status).toBe(404);
  });

  it('a batch that reaches a follower comes back as retry marks; the route is not in the API docs', async () => {
    const { follower } = await nodes();
    const r = await http.request(`${follower.url}${FORWARD_PATH}`, {
      method: 'POST',
      body: encodeForwardBatch([
        { deadlineMs: 500, command: putCommand('lost', '1') },
        { deadlineMs: 500, command: putCommand('lost', '2') },
      ]),
      headers: { 'content-type': FORWARD_CONTENT_TYPE },
      retry: false,
    });
    expect(r.status).toBe(200);
    expect(parseForwardBatchAnswer(r.body, 2).results).toEqual([{ retry: true }, { retry: true }]);
    const openapi = (await http.request(`${follower.url}/openapi.json`, { retry: false })).text();
    expect(openapi).not.toContain(FORWARD_PATH);
  });
});
