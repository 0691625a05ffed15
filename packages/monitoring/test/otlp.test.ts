// OTLP/HTTP trace ingest: requests encoded by OpenTelemetry's own JS serializers
// (@opentelemetry/otlp-transformer, protobuf and JSON) are POSTed to /v1/traces of a running
// service, then found again by service, duration and error; bad bodies get 400 problem+json.
import { createService, HttpClient, parseConfig, pollUntil, type Service } from '@ddia/common';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spansFromRequest, TraceStore } from '../src/core/traces.js';
import { MONITORING_FLAGS, type Monitoring, startMonitoring } from '../src/monitoring-node.js';

// biome-ignore lint/suspicious/noExplicitAny: API JSON read loosely, shapes asserted below
type Json = any;

const T0 = 1_796_000_000_000; // ms
const hr = (ms: number): [number, number] => [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];

/** A finished span in the shape the OpenTelemetry SDK hands its exporters (ReadableSpan). */
function span(o: {
  service: string;
  traceId: string;
  spanId: string;
  parent?: string;
  name: string;
  kind: number;
  startMs: number;
  durationMs: number;
  error?: boolean;
  attributes?: Record<string, string | number | boolean>;
}) {
  return {
    name: o.name,
    kind: o.kind,
    spanContext: () => ({ traceId: o.traceId, spanId: o.spanId, traceFlags: 1 }),
    parentSpanId: o.parent,
    startTime: hr(o.startMs),
    endTime: hr(o.startMs + o.durationMs),
    duration: hr(o.durationMs),
    status: o.error ? { code: 2, message: 'boom' } : { code: 0 },
    attributes: o.attributes ?? {},
    links: [],
    events: [],
    ended: true,
    resource: RESOURCES[o.service]!,
    instrumentationLibrary: { name: 'ddia-test', version: '1' },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
const RESOURCES: Record<string, { attributes: Record<string, string>; droppedAttributesCount: number }> = {
  gateway: { attributes: { 'service.name': 'gateway' }, droppedAttributesCount: 0 },
  kv: { attributes: { 'service.name': 'kv' }, droppedAttributesCount: 0 },
};

const TRACE_A = '0af7651916cd43dd8448eb211c80319c';
const TRACE_B = '4bf92f3577b34da6a3ce929d0e0e4736';
// Trace A: gateway server span (120 ms) → client span → kv server span that fails.
const SPANS_A = [
  span({
    service: 'gateway',
    traceId: TRACE_A,
    spanId: 'b7ad6b7169203331',
    name: 'GET /kv/:key',
    kind: 1,
    startMs: T0,
    durationMs: 120,
    attributes: { 'http.route': '/kv/:key', 'http.status_code': 500 },
  }),
  span({
    service: 'gateway',
    traceId: TRACE_A,
    spanId: '00f067aa0ba902b7',
    parent: 'b7ad6b7169203331',
    name: 'GET kv',
    kind: 2,
    startMs: T0 + 5,
    durationMs: 100,
    attributes: { 'net.peer.name': 'kv-1' },
  }),
  span({
    service: 'kv',
    traceId: TRACE_A,
    spanId: '53995c3f42cd8ad8',
    parent: '00f067aa0ba902b7',
    name: 'GET /kv/:key',
    kind: 1,
    startMs: T0 + 10.5,
    durationMs: 90.25,
    error: true,
  }),
];
// Trace B: a quick, healthy gateway request.
const SPANS_B = [
  span({
    service: 'gateway',
    traceId: TRACE_B,
    spanId: '1111111111111111',
    name: 'GET /health',
    kind: 1,
    startMs: T0 + 1000,
    durationMs: 3,
  }),
];

describe('OTLP trace ingest', () => {
  let mon: Monitoring;
  beforeAll(async () => {
    mon = await startMonitoring(parseConfig(['--log-level', 'silent'], {}, MONITORING_FLAGS));
  }, 30_000);
  afterAll(async () => {
    await mon?.close();
  });

  const post = (type: string, body: Uint8Array | string) =>
    fetch(`${mon.url}/v1/traces`, { method: 'POST', headers: { 'content-type': type }, body });
  const get = async (path: string) => ((await (await fetch(`${mon.url}${path}`)).json()) as Json).data;

  it('accepts protobuf and JSON from OpenTelemetry serializers, and finds traces by service, duration, error', async () => {
    // biome-ignore lint/suspicious/noExplicitAny: fake SDK spans, shaped as the serializer reads them
    const pb = ProtobufTraceSerializer.serializeRequest(SPANS_A as any)!;
    const res = await post('application/x-protobuf', pb);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/x-protobuf/);
    // biome-ignore lint/suspicious/noExplicitAny: as above
    const json = JsonTraceSerializer.serializeRequest(SPANS_B as any)!;
    const res2 = await post('application/json', json);
    expect(res2.status).toBe(200);
    expect(await res2.json()).toEqual({});

    const all = await get('/api/v1/traces');
    expect(all.services).toEqual(['gateway', 'kv']);
    expect(all.traces.map((t: Json) => t.traceId)).toEqual([TRACE_B, TRACE_A]); // newest first
    const [a] = (await get('/api/v1/traces?service=kv')).traces;
    expect(a).toMatchObject({
      traceId: TRACE_A,
      rootService: 'gateway',
      rootName: 'GET /kv/:key',
      spans: 3,
      error: true,
      services: ['gateway', 'kv'],
    });
    expect(a.durationMs).toBeCloseTo(120, 6);
    expect((await get('/api/v1/traces?minDurationMs=50')).traces.map((t: Json) => t.traceId)).toEqual([
      TRACE_A,
    ]);
    expect((await get('/api/v1/traces?maxDurationMs=10')).traces.map((t: Json) => t.traceId)).toEqual([
      TRACE_B,
    ]);
    expect((await get('/api/v1/traces?error=false')).traces.map((t: Json) => t.traceId)).toEqual([TRACE_B]);

    // The waterfall: spans by start, with parents, kinds, routes and peers as sent.
    const one = await get(`/api/v1/traces/${TRACE_A}`);
    expect(one.spans.map((s: Json) => [s.service, s.name, s.kind, s.parentSpanId])).toEqual([
      ['gateway', 'GET /kv/:key', 2, null],
      ['gateway', 'GET kv', 3, 'b7ad6b7169203331'],
      ['kv', 'GET /kv/:key', 2, '00f067aa0ba902b7'],
    ]);
    expect(one.spans[0].attributes).toEqual({ 'http.route': '/kv/:key', 'http.status_code': 500 });
    expect(one.spans[1].attributes).toEqual({ 'net.peer.name': 'kv-1' });
    expect(one.spans[2]).toMatchObject({ error: true, statusMessage: 'boom', startMs: T0 + 10.5 });
    expect(one.spans[2].durationMs).toBeCloseTo(90.25, 6);
  });

  it('joins the spans common exports with --otlp from two services into one trace', async () => {
    const started: Service[] = [];
    const client = new HttpClient({ retries: 0 });
    const serve = async (name: string, id: string) => {
      const service = await createService({
        name,
        config: parseConfig(['--otlp', mon.url, '--id', id, '--log-level', 'silent']),
        handleSignals: false,
      });
      started.push(service);
      return service;
    };
    try {
      const backend = await serve('backend', 'b1');
      backend.app.get('/names/:name', async (request, reply) => {
        const { name } = request.params as { name: string };
        if (name === 'boom') return reply.code(503).send({ error: 'no' });
        return { name };
      });
      const backendUrl = await backend.listen();
      const gateway = await serve('gateway2', 'g1');
      gateway.app.get('/greet/:name', async (request) => {
        const { name } = request.params as { name: string };
        const r = await client.request(`${backendUrl}/names/${name}`, { trace: request.trace });
        return { status: r.status };
      });
      const gatewayUrl = await gateway.listen();

      const traceId = '5bf92f3577b34da6a3ce929d0e0e4736';
      const callerSpan = '1111111111111111';
      const call = (name: string, trace: string) =>
        fetch(`${gatewayUrl}/greet/${name}`, { headers: { traceparent: `00-${trace}-${callerSpan}-01` } });
      expect((await call('ada', traceId)).status).toBe(200);
      const failing = '6bf92f3577b34da6a3ce929d0e0e4736';
      expect(await (await call('boom', failing)).json()).toEqual({ status: 503 });
      // Unsampled (flags 00): propagated, not exported.
      await fetch(`${gatewayUrl}/greet/x`, {
        headers: { traceparent: `00-7bf92f3577b34da6a3ce929d0e0e4736-${callerSpan}-00` },
      });
      await Promise.all(started.map((s) => s.close())); // flushes the exporters

      const one = await pollUntil(
        async () => {
          const r = await fetch(`${mon.url}/api/v1/traces/${traceId}`);
          const body = r.ok ? ((await r.json()) as Json).data : null;
          return body && body.spans.length === 3 ? body : undefined;
        },
        { timeoutMs: 20_000, what: 'the exported trace' },
      );
      const [server, clientSpan, downstream] = one.spans;
      expect(one.spans.map((x: Json) => [x.service, x.kind])).toEqual([
        ['gateway2', 2],
        ['gateway2', 3],
        ['backend', 2],
      ]);
      // The parent chain: the caller's span -> gateway's server span -> its client span -> backend.
      expect(server.parentSpanId).toBe(callerSpan);
      expect(clientSpan.parentSpanId).toBe(server.spanId);
      expect(downstream.parentSpanId).toBe(clientSpan.spanId);
      expect(server).toMatchObject({ name: 'GET /greet/:name', error: false });
      expect(server.attributes).toMatchObject({
        'http.route': '/greet/:name',
        'http.response.status_code': 200,
        'client.address': '127.0.0.1',
      });
      const port = Number(new URL(backendUrl).port);
      expect(clientSpan.attributes).toMatchObject({
        'server.address': '127.0.0.1',
        'server.port': port,
        'url.full': `${backendUrl}/names/ada`,
        'http.response.status_code': 200,
      });
      expect(downstream.attributes).toMatchObject({ 'http.route': '/names/:name' });
      // Nested in time: the client span inside the server span, the backend inside the client.
      expect(clientSpan.startMs).toBeGreaterThanOrEqual(server.startMs);
      expect(clientSpan.endMs).toBeLessThanOrEqual(server.endMs + 0.01);
      expect(downstream.durationMs).toBeLessThanOrEqual(clientSpan.durationMs + 0.01);

      const errors = (await get('/api/v1/traces?service=backend&error=true')).traces;
      expect(errors.map((t: Json) => t.traceId)).toEqual([failing]);
      expect((await fetch(`${mon.url}/api/v1/traces/7bf92f3577b34da6a3ce929d0e0e4736`)).status).toBe(404);
    } finally {
      await Promise.all(started.map((s) => s.close()));
      await client.close();
    }
  });

  it('refuses what is not OTLP with 400 problem+json', async () => {
    for (const [type, body] of [
      ['application/x-protobuf', new Uint8Array([0x0a, 0xff, 0xff, 0xff])],
      [
        'application/json',
        JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 'xyz' }] }] }] }),
      ],
      ['text/plain', 'hello'],
    ] as const) {
      const res = await post(type, body);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(((await res.json()) as Json).code).toBe('DDIA_ERR_MONITORING_OTLP');
    }
    expect((await fetch(`${mon.url}/api/v1/traces?error=maybe`)).status).toBe(400);
    expect((await fetch(`${mon.url}/api/v1/traces/ffffffffffffffffffffffffffffffff`)).status).toBe(404);
  });

  it('reads int64 nanoseconds to the microsecond and evicts the oldest traces past the bound', () => {
    const req = (traceId: string, start: string) => ({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  traceId,
                  spanId: 'aaaaaaaaaaaaaaaa',
                  name: 'x',
                  startTimeUnixNano: start,
                  endTimeUnixNano: '1796000000123456789',
                },
              ],
            },
          ],
        },
      ],
    });
    const [s] = spansFromRequest(req(TRACE_A, '1796000000000000001'));
    // A double holds epoch ms to about 0.25 µs: sub-microsecond digits are rounded, not garbled.
    expect(Math.abs(s!.startMs - 1796000000000)).toBeLessThan(0.001);
    expect(s!.durationMs).toBeCloseTo(123.456788, 5);
    expect(s!.service).toBe('unknown_service');
    const store = new TraceStore(2);
    store.add(spansFromRequest(req('00000000000000000000000000000001', '1')));
    store.add(spansFromRequest(req('00000000000000000000000000000002', '2')));
    store.add(spansFromRequest(req('00000000000000000000000000000003', '3')));
    expect(store.size).toBe(2);
    expect(store.trace('00000000000000000000000000000001')).toBeNull();
  });
});
