// Spans from the traceparent propagation (net/trace.ts), exported over OTLP/HTTP JSON when a
// service runs with `--otlp URL` (e.g. the lab's monitoring node, which takes /v1/traces).
// createService records a server span per request (route, status, the client's address) and
// hangs its exporter on `request.trace`, so HttpClient records a client span per call made with
// `trace: request.trace` (method, URL, the peer's address) to the same service's exporter (several
// services in one process stay apart); each client span's id is the parent id the called service sees, so the spans of
// all services join into one trace. Spans are batched (every second or 256 spans), the queue
// is bounded (spans beyond it are dropped and counted), and an export that fails is dropped:
// tracing must never slow or break the service it watches.

export type SpanKind = 'server' | 'client';

export interface FinishedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: SpanKind;
  /** Wall-clock ms since the epoch, fractional. */
  startMs: number;
  endMs: number;
  attributes: Record<string, string | number | boolean>;
  error: boolean;
}

export interface SpanExporterOptions {
  /** Base URL of an OTLP/HTTP receiver; `/v1/traces` is appended unless present. */
  url: string;
  service: string;
  node?: string;
  flushMs?: number;
  batchSpans?: number;
  queueSpansMax?: number;
  timeoutMs?: number;
}

const KIND_CODE: Record<SpanKind, number> = { server: 2, client: 3 };

/** Wall-clock ms with sub-millisecond precision (Date.now() is whole ms). */
export function spanClockMs(): number {
  return performance.timeOrigin + performance.now();
}

const nanos = (ms: number): string => (BigInt(Math.round(ms * 1000)) * 1000n).toString();

function attribute(key: string, value: string | number | boolean) {
  if (typeof value === 'boolean') return { key, value: { boolValue: value } };
  if (typeof value === 'number')
    return Number.isInteger(value)
      ? { key, value: { intValue: String(value) } }
      : { key, value: { doubleValue: value } };
  return { key, value: { stringValue: value } };
}

/** The OTLP/JSON ExportTraceServiceRequest for one service's spans (hex ids, as OTLP/JSON has them). */
export function otlpJsonRequest(service: string, node: string | undefined, spans: readonly FinishedSpan[]) {
  const resource = [attribute('service.name', service)];
  if (node) resource.push(attribute('service.instance.id', node));
  return {
    resourceSpans: [
      {
        resource: { attributes: resource },
        scopeSpans: [
          {
            scope: { name: '@ddia/common' },
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
              name: s.name,
              kind: KIND_CODE[s.kind],
              startTimeUnixNano: nanos(s.startMs),
              endTimeUnixNano: nanos(Math.max(s.startMs, s.endMs)),
              attributes: Object.entries(s.attributes).map(([k, v]) => attribute(k, v)),
              status: s.error ? { code: 2 } : { code: 0 },
            })),
          },
        ],
      },
    ],
  };
}

export class OtlpSpanExporter {
  readonly endpoint: string;
  exported = 0;
  dropped = 0;
  private queue: FinishedSpan[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private sending: Promise<void> = Promise.resolve();
  private readonly flushMs: number;
  private readonly batchSpans: number;
  private readonly queueSpansMax: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: SpanExporterOptions) {
    const base = options.url.replace(/\/+$/, '');
    this.endpoint = base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
    this.flushMs = options.flushMs ?? 1000;
    this.batchSpans = options.batchSpans ?? 256;
    this.queueSpansMax = options.queueSpansMax ?? 4096;
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  record(span: FinishedSpan): void {
    if (this.queue.length >= this.queueSpansMax) {
      this.dropped++;
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.batchSpans) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref?.();
    }
  }

  /** Sends what is queued; resolves once every batch so far was sent or dropped. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.queue;
    this.queue = [];
    if (batch.length > 0) {
      this.sending = this.sending.then(() => this.send(batch));
    }
    return this.sending;
  }

  private async send(batch: FinishedSpan[]): Promise<void> {
    try {
      const response = await fetch(this.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(otlpJsonRequest(this.options.service, this.options.node, batch)),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await response.arrayBuffer();
      if (response.ok) this.exported += batch.length;
      else this.dropped += batch.length;
    } catch {
      this.dropped += batch.length;
    }
  }
}
