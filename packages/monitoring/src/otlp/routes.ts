// OTLP/HTTP trace ingest at POST /v1/traces (OpenTelemetry's protocol, both encodings:
// application/x-protobuf and application/json) and the trace search API:
//   GET /api/v1/traces?service=&minDurationMs=&maxDurationMs=&error=true|false&limit=
//   GET /api/v1/traces/:traceId      the spans of one trace, by start (the waterfall)
// Protobuf is decoded by the OpenTelemetry JS project's own generated protobufjs code (shipped
// in @opentelemetry/otlp-transformer), then both encodings go through one normalizer
// (core/traces.ts).
import type { ServiceApp } from '@ddia/common';
import { OtlpFormatError } from '../core/errors.js';
import { spansFromRequest, type TraceFilter } from '../core/traces.js';
import type { Traces } from '../storage/trace-log.js';

interface ProtoType {
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, options: Record<string, unknown>): Record<string, unknown>;
}

// Loaded on the first protobuf export, not at startup: the generated protobufjs code is most
// of the service's start time (about 6 s of 9 s under load 28 on the shared machine).
let requestType: Promise<ProtoType> | null = null;
function exportTraceServiceRequest(): Promise<ProtoType> {
  requestType ??= import('@opentelemetry/otlp-transformer/build/src/generated/root.js').then((m) => {
    const root = m.default as unknown as {
      opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: ProtoType } } } } };
    };
    return root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
  });
  return requestType;
}

const b64ToHex = (v: unknown): unknown =>
  typeof v === 'string' ? Buffer.from(v, 'base64').toString('hex') : v;

/** Decodes a protobuf ExportTraceServiceRequest into OTLP/JSON's object shape (hex ids). */
export async function decodeTraceRequestProtobuf(bytes: Uint8Array): Promise<unknown> {
  const ExportTraceServiceRequest = await exportTraceServiceRequest();
  let message: unknown;
  try {
    message = ExportTraceServiceRequest.decode(bytes);
  } catch (err) {
    throw new OtlpFormatError(`protobuf does not decode: ${(err as Error).message}`);
  }
  const obj = ExportTraceServiceRequest.toObject(message, { longs: String, enums: Number, bytes: String });
  for (const rs of (obj.resourceSpans as Record<string, unknown>[] | undefined) ?? []) {
    for (const ss of (rs.scopeSpans as Record<string, unknown>[] | undefined) ?? []) {
      for (const s of (ss.spans as Record<string, unknown>[] | undefined) ?? []) {
        s.traceId = b64ToHex(s.traceId);
        s.spanId = b64ToHex(s.spanId);
        s.parentSpanId = b64ToHex(s.parentSpanId);
      }
    }
  }
  return obj;
}

/** `nowMs`: the node's wall clock, stamped on each export for the traces' retention. */
export function registerOtlpRoutes(app: ServiceApp, archive: Traces, nowMs: () => number): void {
  const traces = archive.store;
  app.addContentTypeParser(
    ['application/x-protobuf', 'application/protobuf'],
    { parseAs: 'buffer', bodyLimit: 16 * 1024 * 1024 },
    (_req, body, done) => done(null, body),
  );

  app.post('/v1/traces', async (request, reply) => {
    const type = String(request.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    const body =
      type === 'application/json'
        ? request.body
        : type === 'application/x-protobuf' || type === 'application/protobuf'
          ? await decodeTraceRequestProtobuf(request.body as Uint8Array)
          : null;
    if (body === null) {
      throw new OtlpFormatError(`content-type '${type}': send application/x-protobuf or application/json`);
    }
    // Answered once logged (with a data dir): an exporter that got its answer may drop its copy.
    await archive.add(spansFromRequest(body), Math.round(nowMs()));
    // ExportTraceServiceResponse with no partialSuccess: everything was accepted.
    if (type === 'application/json') return reply.type('application/json').send({});
    return reply.type('application/x-protobuf').send(Buffer.alloc(0));
  });

  app.get('/api/v1/traces', async (request) => {
    const q = request.query as Record<string, string | undefined>;
    const num = (name: string): number | undefined => {
      const v = q[name];
      if (v === undefined || v === '') return undefined;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0)
        throw new OtlpFormatError(`${name}: '${v}' is not a non-negative number`);
      return n;
    };
    if (q.error !== undefined && q.error !== 'true' && q.error !== 'false')
      throw new OtlpFormatError(`error: '${q.error}' must be true or false`);
    const filter: TraceFilter = {
      service: q.service || undefined,
      minDurationMs: num('minDurationMs'),
      maxDurationMs: num('maxDurationMs'),
      error: q.error === undefined ? undefined : q.error === 'true',
      limit: num('limit') ?? 20,
    };
    return { status: 'success', data: { services: traces.services(), traces: traces.search(filter) } };
  });

  app.get('/api/v1/traces/:traceId', async (request, reply) => {
    const { traceId } = request.params as { traceId: string };
    const spans = traces.trace(traceId);
    if (!spans) {
      return reply
        .code(404)
        .type('application/problem+json')
        .send({ type: 'about:blank', title: 'Not Found', status: 404, detail: `no trace ${traceId}` });
    }
    return { status: 'success', data: { summary: traces.summary(spans), spans } };
  });
}
