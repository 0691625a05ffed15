import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DdiaError, forwardedParts, forwardRequest, HttpClient, relayHeaders } from '../src/index.js';

describe('forwardedParts', () => {
  it('passes on the named single-valued headers and the raw body, nothing else', () => {
    const raw = Buffer.from('v1');
    const parts = forwardedParts(
      {
        headers: { 'content-type': 'text/plain', 'if-match': '"3"', cookie: 'secret', 'x-seq': ['1', '2'] },
        body: raw,
      },
      ['content-type', 'if-match', 'x-seq', 'if-none-match'],
    );
    expect(parts).toEqual({ headers: { 'content-type': 'text/plain', 'if-match': '"3"' }, body: raw });
  });

  it('passes a parsed JSON body on as an object, and no body when there is none', () => {
    expect(forwardedParts({ headers: {}, body: { a: 1 } }, []).body).toEqual({ a: 1 });
    expect(forwardedParts({ headers: {}, body: undefined }, [])).toEqual({ headers: {} });
    expect('body' in forwardedParts({ headers: {}, body: null }, [])).toBe(false);
  });
});

describe('forwardRequest', () => {
  const outcomeUnknown = {
    code: 'TEST_ERR_OUTCOME_UNKNOWN',
    status: 504,
    title: 'Outcome unknown',
    retriable: false,
  };
  const client = new HttpClient({ deadlineMs: 2_000, retries: 0 });
  let server: Server;
  let url = '';
  const seen: { method?: string; headers?: Record<string, unknown>; body?: string } = {};
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        Object.assign(seen, { method: req.method, headers: req.headers, body });
        // /slow never answers in time: the caller's deadline passes first.
        if (req.url === '/slow') return;
        res.writeHead(201, { etag: '"7"', 'x-private': 'no', 'content-type': 'application/json' });
        res.end('{"ok":true}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await client.close();
  });
  const request = (method: string) =>
    ({
      method,
      headers: { 'if-match': '"3"', cookie: 'secret' },
      body: Buffer.from('v1'),
    }) as unknown as Parameters<typeof forwardRequest>[1];
  const options = (path: string, mutates: boolean) => ({
    url: `${url}${path}`,
    headerNames: ['if-match'],
    headers: { 'x-forwarded-by': 'n1' },
    deadlineMs: 300,
    mutates,
    outcomeUnknown,
    target: 'the leader',
  });

  it('sends the named headers, its own and the body; relays only the named answer headers', async () => {
    const response = await forwardRequest(client, request('PUT'), options('/kv/k', true));
    expect(response?.status).toBe(201);
    expect(seen).toMatchObject({ method: 'PUT', body: 'v1' });
    expect(seen.headers).toMatchObject({ 'if-match': '"3"', 'x-forwarded-by': 'n1' });
    expect(seen.headers).not.toHaveProperty('cookie');
    const reply = {
      sent: {} as Record<string, string>,
      header(name: string, value: string) {
        this.sent[name] = value;
        return this;
      },
    };
    relayHeaders(response!, reply as never, ['etag', 'x-missing']);
    expect(reply.sent).toEqual({ etag: '"7"' });
  });

  it('a refused connection, or a read without an answer, may be sent again (null)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = { ...options('/kv/k', true), url: `http://127.0.0.1:${port}/kv/k` };
    expect(await forwardRequest(client, request('PUT'), refused)).toBeNull();
    expect(await forwardRequest(client, request('GET'), options('/slow', false))).toBeNull();
  });

  it("a write without an answer is the caller's outcome-unknown error, naming the target", async () => {
    const failure = await forwardRequest(client, request('PUT'), options('/slow', true)).catch(
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(DdiaError);
    expect(failure).toMatchObject({ code: outcomeUnknown.code });
    expect(String(failure)).toContain('forwarding to the leader failed');
  });
});
