import {
  CLOCK_SKEW_MS_MAX,
  CommonErrors,
  createService,
  DdiaError,
  HttpClient,
  type Service,
  WALL_MS_HEADER,
  withRawBodies,
} from '@ddia/common';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const config = { host: '127.0.0.1', port: 0, id: 'n1', logLevel: 'silent' as const };

describe('createService', () => {
  let service: Service;
  let base: string;
  let ready: boolean | 'throws' = false;
  let closed = false;
  const client = new HttpClient({ retries: 0 });

  beforeAll(async () => {
    service = await createService({
      name: 'demo',
      config,
      bodyLimitBytes: 1024,
      paramBytesMax: 200,
      ready: () => {
        if (ready === 'throws') throw new Error('probe failed');
        return ready;
      },
      handleSignals: false,
      onClose: async () => {
        closed = true;
      },
    });
    service.app.post(
      '/echo',
      { schema: { body: Type.Object({ n: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }) } },
      async (request) => ({ twice: request.body.n * 2, trace: request.trace.traceId }),
    );
    // Calls itself on behalf of the request it serves: the inner call must join its trace.
    service.app.get('/relay', async (request) => {
      const inner = await client.request(`${base}/echo`, {
        method: 'POST',
        body: { n: 1 },
        trace: request.trace,
      });
      return { span: request.trace.spanId, inner: String(inner.headers.traceparent) };
    });
    service.app.get('/missing/:id', async (request) => {
      throw new DdiaError(CommonErrors.notFound, `no thing ${(request.params as { id: string }).id}`);
    });
    service.app.get('/boom', async () => {
      throw new Error('secret internals');
    });
    await service.app.register(async (scope) => {
      withRawBodies(scope);
      scope.put('/raw', async (request) => ({ bytes: (request.body as Buffer).length }));
    });
    base = await service.listen();
  });
  afterAll(async () => {
    await service.close();
    await client.close();
    expect(closed).toBe(true);
  });

  it('binds 127.0.0.1 and answers /health', async () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await client.json<{ status: string }>(`${base}/health`);
    expect(res.status).toBe('ok');
  });

  it('answers /ready from the service readiness', async () => {
    const before = await client.request(`${base}/ready`);
    expect(before.status).toBe(503);
    expect(before.headers['content-type']).toContain('application/problem+json');
    expect(before.json<{ retriable: boolean }>().retriable).toBe(true);
    ready = 'throws';
    expect((await client.request(`${base}/ready`)).status).toBe(503);
    ready = true;
    expect((await client.request(`${base}/ready`)).status).toBe(200);
  });

  it('serves Prometheus metrics with the request histogram', async () => {
    await client.request(`${base}/health`);
    const res = await client.request(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.text()).toContain('http_request_duration_seconds_bucket');
    expect(res.text()).toContain('route="/health"');
    expect(res.text()).toContain('process_cpu_user_seconds_total');
  });

  it('serves OpenAPI generated from route schemas, and a docs page', async () => {
    const spec = await client.json<{ openapi: string; paths: Record<string, unknown> }>(
      `${base}/openapi.json`,
    );
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toContain('/echo');
    const docs = await client.request(`${base}/docs/`, { method: 'GET' });
    expect(docs.status).toBe(200);
    expect(docs.text().toLowerCase()).toContain('swagger');
  });

  it('validates bodies against the schema', async () => {
    expect(await client.json(`${base}/echo`, { method: 'POST', body: { n: 21 } })).toMatchObject({
      twice: 42,
    });
    const bad = await client.request(`${base}/echo`, { method: 'POST', body: { n: -1 } });
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'DDIA_ERR_VALIDATION', status: 400, retriable: false });
  });

  it('answers bad JSON with 400 problem+json', async () => {
    const res = await client.request(`${base}/echo`, {
      method: 'POST',
      body: '{"n": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'DDIA_ERR_BAD_JSON' });
  });

  it('answers oversize bodies with 413', async () => {
    const res = await client.request(`${base}/echo`, {
      method: 'POST',
      body: { n: 1, pad: 'x'.repeat(4096) },
    });
    expect(res.status).toBe(413);
    expect(res.json()).toMatchObject({ code: 'DDIA_ERR_PAYLOAD_TOO_LARGE' });
  });

  it('answers unknown routes with 404 problem+json', async () => {
    const res = await client.request(`${base}/nope`);
    expect(res.status).toBe(404);
    expect(res.json()).toMatchObject({ code: 'DDIA_ERR_ROUTE_NOT_FOUND', status: 404 });
  });

  it('takes long path parameters up to paramBytesMax, then answers 414 problem+json', async () => {
    expect((await client.request(`${base}/missing/${'k'.repeat(150)}`)).status).toBe(404);
    const res = await client.request(`${base}/missing/${'k'.repeat(300)}`);
    expect(res.status).toBe(414);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'DDIA_ERR_URI_TOO_LONG' });
  });

  it('maps DdiaError to its status and code', async () => {
    const res = await client.request(`${base}/missing/42`);
    expect(res.status).toBe(404);
    expect(res.json()).toMatchObject({
      code: 'DDIA_ERR_NOT_FOUND',
      detail: 'no thing 42',
      instance: '/missing/42',
    });
  });

  it('hides internals of unexpected errors behind a 500 problem', async () => {
    const res = await client.request(`${base}/boom`);
    expect(res.status).toBe(500);
    expect(res.text()).not.toContain('secret');
    expect(res.json()).toMatchObject({ code: 'DDIA_ERR_INTERNAL' });
  });

  it('receives raw bodies of any content type in a raw scope', async () => {
    const res = await client.json(`${base}/raw`, {
      method: 'PUT',
      body: 'a=b&c',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res).toEqual({ bytes: 5 });
  });

  it('continues a W3C trace and answers with its own span', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await client.request(`${base}/echo`, {
      method: 'POST',
      body: { n: 1 },
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(res.json()).toMatchObject({ trace: traceId });
    const answered = String(res.headers.traceparent);
    expect(answered).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(answered).not.toContain('00f067aa0ba902b7');
  });

  it('propagates the trace to outbound calls made on behalf of a request', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const res = await client.request(`${base}/relay`, {
      headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` },
    });
    const { span, inner } = res.json<{ span: string; inner: string }>();
    // The inner request answered with its own span in the same trace...
    expect(inner).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(inner).not.toContain(span);
    // ...and a call made outside any request starts a trace of its own.
    const alone = await client.request(`${base}/health`);
    expect(String(alone.headers.traceparent)).not.toContain(traceId);
  });
});

describe('createService and the process signals', () => {
  it('takes SIGTERM and SIGINT while it listens and gives them back when closed', async () => {
    const before = { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') };
    const service = await createService({ name: 'signals', config });
    await service.listen();
    expect(process.listenerCount('SIGTERM')).toBe(before.term + 1);
    expect(process.listenerCount('SIGINT')).toBe(before.int + 1);
    await service.close();
    expect(process.listenerCount('SIGTERM')).toBe(before.term);
    expect(process.listenerCount('SIGINT')).toBe(before.int);
  });
});

describe('createService and the --chaos wall clock', () => {
  it('with --chaos: POST /chaos/clock-skew skews the wall clock every answer is stamped with; 0 heals it; bad input is a 400', async () => {
    const service = await createService({
      name: 'skew',
      config: { ...config, chaos: true },
      handleSignals: false,
    });
    try {
      const stamp = async () => {
        const r = await service.app.inject({ method: 'GET', url: '/health' });
        return Number(r.headers[WALL_MS_HEADER]) - Date.now();
      };
      expect(Math.abs(await stamp())).toBeLessThan(1000);
      const skew = (ms: unknown) =>
        service.app.inject({ method: 'POST', url: '/chaos/clock-skew', payload: { ms } });
      expect((await skew(60_000)).json()).toEqual({ clockSkewMs: 60_000 });
      expect(service.wallClock.skewMs).toBe(60_000);
      // The stamp and Date move with the skew; the monotonic clock does not.
      expect(await stamp()).toBeGreaterThan(59_000);
      const skewed = await service.app.inject({ method: 'GET', url: '/health' });
      expect(Date.parse(String(skewed.headers.date)) - Date.now()).toBeGreaterThan(58_000);
      expect(Math.abs(service.wallClock.nowMs() - performance.now())).toBeLessThan(1000);
      const bad = await skew('soon');
      expect(bad.statusCode).toBe(400);
      expect(bad.headers['content-type']).toContain('application/problem+json');
      expect((await skew(CLOCK_SKEW_MS_MAX + 1)).statusCode).toBe(400);
      expect((await skew(0)).json()).toEqual({ clockSkewMs: 0 });
      expect(Math.abs(await stamp())).toBeLessThan(1000);
    } finally {
      await service.close();
    }
  });

  it('without --chaos there is no skew route and no stamp, unless the service asks for stamps', async () => {
    const plain = await createService({ name: 'plain', config, handleSignals: false });
    const stamped = await createService({
      name: 'stamped',
      config,
      handleSignals: false,
      stampWallClock: true,
    });
    try {
      expect(
        (await plain.app.inject({ method: 'POST', url: '/chaos/clock-skew', payload: { ms: 1 } })).statusCode,
      ).toBe(404);
      expect(
        (await plain.app.inject({ method: 'GET', url: '/health' })).headers[WALL_MS_HEADER],
      ).toBeUndefined();
      const r = await stamped.app.inject({ method: 'GET', url: '/health' });
      expect(Math.abs(Number(r.headers[WALL_MS_HEADER]) - Date.now())).toBeLessThan(1000);
      expect((await stamped.app.inject({ method: 'GET', url: '/chaos/clock-skew' })).statusCode).toBe(404);
    } finally {
      await plain.close();
      await stamped.close();
    }
  });
});
