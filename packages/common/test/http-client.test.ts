import { createServer, type Server } from 'node:http';
import { HttpClient, HttpTimeoutError, HttpUnavailableError, ProblemError } from '@ddia/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('HttpClient', () => {
  let server: Server;
  let base: string;
  let flaky = 0;
  const seen: Record<string, string | undefined> = {};

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.traceparent = String(req.headers.traceparent);
      if (req.url === '/flaky') {
        flaky++;
        if (flaky < 3) {
          res.writeHead(503, { 'content-type': 'application/problem+json' });
          res.end(JSON.stringify({ code: 'DDIA_ERR_UNAVAILABLE', retriable: true, detail: 'later' }));
          return;
        }
        res.end(JSON.stringify({ ok: true, attempts: flaky }));
        return;
      }
      if (req.url === '/slow') return void setTimeout(() => res.end('{}'), 500);
      if (req.url === '/stalls') {
        // Headers and half a body at once, the rest too late: the deadline covers the body too.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"half":');
        return void setTimeout(() => res.end('1}'), 500);
      }
      if (req.url === '/conflict') {
        res.writeHead(409, { 'content-type': 'application/problem+json' });
        res.end(JSON.stringify({ code: 'DDIA_ERR_CONFLICT', retriable: false, detail: 'taken' }));
        return;
      }
      res.end(JSON.stringify({ ok: true }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('retries retriable answers with backoff, within the budget', async () => {
    const client = new HttpClient({ retries: 3, backoffBaseMs: 1 });
    expect(await client.json(`${base}/flaky`)).toEqual({ ok: true, attempts: 3 });
    await client.close();
  });

  it('does not retry PUT unless told: a late retry could overwrite a newer write', async () => {
    flaky = 0;
    const client = new HttpClient({ retries: 3, backoffBaseMs: 1 });
    expect((await client.request(`${base}/flaky`, { method: 'PUT', body: {} })).status).toBe(503);
    expect(flaky).toBe(1);
    expect((await client.request(`${base}/flaky`, { method: 'PUT', body: {}, retry: true })).status).toBe(
      200,
    );
    await client.close();
    await client.close(); // closing twice is harmless
  });

  it('reports a malformed URL at once, without retrying', async () => {
    const client = new HttpClient({ retries: 3, backoffBaseMs: 1 });
    const err = await client.request('not a url').catch((e) => e);
    expect(err).not.toBeInstanceOf(HttpUnavailableError);
    await client.close();
  });

  it('does not retry non-idempotent requests unless told', async () => {
    flaky = 0;
    const client = new HttpClient({ retries: 3, backoffBaseMs: 1 });
    const res = await client.request(`${base}/flaky`, { method: 'POST', body: {} });
    expect(res.status).toBe(503);
    expect(flaky).toBe(1);
    await client.close();
  });

  it('maps problem+json to ProblemError with code and retriable', async () => {
    const client = new HttpClient();
    const err = await client.json(`${base}/conflict`).catch((e) => e);
    expect(err).toBeInstanceOf(ProblemError);
    expect(err).toMatchObject({ status: 409, code: 'DDIA_ERR_CONFLICT', retriable: false });
    await client.close();
  });

  it('enforces the deadline', async () => {
    const client = new HttpClient({ deadlineMs: 100 });
    const started = performance.now();
    await expect(client.request(`${base}/slow`)).rejects.toBeInstanceOf(HttpTimeoutError);
    expect(performance.now() - started).toBeLessThan(400);
    await client.close();
  });

  it('enforces the deadline on an answer whose body stalls after the headers', async () => {
    const client = new HttpClient({ deadlineMs: 100 });
    const started = performance.now();
    await expect(client.request(`${base}/stalls`)).rejects.toBeInstanceOf(HttpTimeoutError);
    expect(performance.now() - started).toBeLessThan(400);
    await client.close();
  });

  it('reports an unreachable peer as HttpUnavailableError', async () => {
    const client = new HttpClient({ retries: 1, backoffBaseMs: 1 });
    await expect(client.request('http://127.0.0.1:1/')).rejects.toBeInstanceOf(HttpUnavailableError);
    await client.close();
  });

  it('sends a traceparent on every request', async () => {
    const client = new HttpClient();
    await client.request(`${base}/`);
    expect(seen.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    await client.close();
  });
});
