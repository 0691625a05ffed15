// Traces: spans received over OTLP (OpenTelemetry's protocol), grouped by trace and searchable
// by service, duration and error. Protobuf and JSON requests are both decoded into the same
// plain object shape first (src/otlp/decode.ts); this file turns that into span records and
// keeps the newest traces in memory, bounded.
import { OtlpFormatError } from './errors.js';

export type AttrValue = string | number | boolean | null | AttrValue[];

export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  /** OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  service: string;
  /** Start and end in ms since the epoch (fractional: OTLP carries nanoseconds). */
  startMs: number;
  endMs: number;
  durationMs: number;
  /** Status code 2 (ERROR). */
  error: boolean;
  statusMessage: string;
  attributes: Record<string, AttrValue>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const HEX_ID = /^[0-9a-f]+$/;

function anyValue(v: unknown): AttrValue {
  if (!isObj(v)) return null;
  if ('stringValue' in v) return String(v.stringValue);
  if ('boolValue' in v) return Boolean(v.boolValue);
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v && isObj(v.arrayValue)) {
    const values = v.arrayValue.values;
    return Array.isArray(values) ? values.map(anyValue) : [];
  }
  if ('kvlistValue' in v && isObj(v.kvlistValue)) return JSON.stringify(attributes(v.kvlistValue.values));
  if ('bytesValue' in v) return String(v.bytesValue);
  return null;
}

function attributes(list: unknown): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list) if (isObj(kv) && typeof kv.key === 'string') out[kv.key] = anyValue(kv.value);
  return out;
}

/** Nanoseconds since the epoch (a decimal string, as int64 travels in JSON, or a number) to ms. */
function nanosToMs(v: unknown, where: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v / 1e6;
  if (typeof v === 'string' && /^\d+$/.test(v)) {
    // 19-digit nanos overflow a double's 53 bits; split so the ms part is exact (the
    // result still rounds to ~0.25 µs at today's epoch ms).
    const ms = v.length > 6 ? Number(v.slice(0, -6)) : 0;
    const rest = Number(v.slice(-6)) / 1e6;
    return ms + rest;
  }
  throw new OtlpFormatError(`${where}: '${String(v)}' is not a time in Unix nanoseconds`);
}

function hexId(v: unknown, bytes: number, where: string, optional: boolean): string | null {
  if ((v === undefined || v === '' || v === null) && optional) return null;
  if (typeof v !== 'string' || v.length !== bytes * 2 || !HEX_ID.test(v.toLowerCase()))
    throw new OtlpFormatError(`${where}: '${String(v)}' is not a ${bytes}-byte hex id`);
  if (/^0+$/.test(v)) {
    if (optional) return null;
    throw new OtlpFormatError(`${where}: an all-zero id is invalid`);
  }
  return v.toLowerCase();
}

/**
 * Span records from an ExportTraceServiceRequest as a plain object (OTLP/JSON's shape: ids as
 * hex strings, int64 as strings or numbers, enums as numbers). Throws OtlpFormatError.
 */
export function spansFromRequest(req: unknown): SpanRecord[] {
  if (!isObj(req)) throw new OtlpFormatError('the body is not an ExportTraceServiceRequest object');
  const out: SpanRecord[] = [];
  const resourceSpans = req.resourceSpans ?? [];
  if (!Array.isArray(resourceSpans)) throw new OtlpFormatError('resourceSpans must be a list');
  resourceSpans.forEach((rs, i) => {
    if (!isObj(rs)) throw new OtlpFormatError(`resourceSpans[${i}] must be an object`);
    const resource = isObj(rs.resource) ? attributes(rs.resource.attributes) : {};
    const service =
      typeof resource['service.name'] === 'string' ? resource['service.name'] : 'unknown_service';
    const scopeSpans = rs.scopeSpans ?? [];
    if (!Array.isArray(scopeSpans))
      throw new OtlpFormatError(`resourceSpans[${i}].scopeSpans must be a list`);
    scopeSpans.forEach((ss, j) => {
      const spans = isObj(ss) ? (ss.spans ?? []) : null;
      if (!Array.isArray(spans))
        throw new OtlpFormatError(`resourceSpans[${i}].scopeSpans[${j}].spans must be a list`);
      spans.forEach((s, k) => {
        const where = `resourceSpans[${i}].scopeSpans[${j}].spans[${k}]`;
        if (!isObj(s)) throw new OtlpFormatError(`${where} must be an object`);
        const startMs = nanosToMs(s.startTimeUnixNano, `${where}.startTimeUnixNano`);
        const endMs = nanosToMs(s.endTimeUnixNano, `${where}.endTimeUnixNano`);
        if (endMs < startMs) throw new OtlpFormatError(`${where}: ends before it starts`);
        const status = isObj(s.status) ? s.status : {};
        out.push({
          traceId: hexId(s.traceId, 16, `${where}.traceId`, false)!,
          spanId: hexId(s.spanId, 8, `${where}.spanId`, false)!,
          parentSpanId: hexId(s.parentSpanId, 8, `${where}.parentSpanId`, true),
          name: typeof s.name === 'string' ? s.name : '',
          kind: Number(s.kind ?? 0) || 0,
          service,
          startMs,
          endMs,
          durationMs: endMs - startMs,
          error: Number(status.code ?? 0) === 2,
          statusMessage: typeof status.message === 'string' ? status.message : '',
          attributes: attributes(s.attributes),
        });
      });
    });
  });
  return out;
}

export interface TraceSummary {
  traceId: string;
  rootService: string;
  rootName: string;
  startMs: number;
  durationMs: number;
  spans: number;
  services: string[];
  error: boolean;
}

export interface TraceFilter {
  service?: string;
  minDurationMs?: number;
  maxDurationMs?: number;
  error?: boolean;
  limit?: number;
}

/** The newest `maxTraces` traces in memory; the oldest-started is evicted first. */
export class TraceStore {
  private readonly traces = new Map<string, SpanRecord[]>();
  spansReceived = 0;

  constructor(private readonly maxTraces = 10_000) {}

  add(spans: readonly SpanRecord[]): void {
    for (const s of spans) {
      let t = this.traces.get(s.traceId);
      if (!t) {
        t = [];
        this.traces.set(s.traceId, t);
      }
      if (!t.some((x) => x.spanId === s.spanId)) t.push(s);
      this.spansReceived++;
    }
    // Map iteration is insertion order: the first keys are the oldest traces.
    while (this.traces.size > this.maxTraces) this.traces.delete(this.traces.keys().next().value!);
  }

  get size(): number {
    return this.traces.size;
  }

  /** Forgets the traces whose every span ended before `cutoffMs` (retention). */
  dropEndedBefore(cutoffMs: number): void {
    for (const [id, spans] of this.traces) {
      if (spans.every((s) => s.endMs < cutoffMs)) this.traces.delete(id);
    }
  }

  /** A trace's spans, by start time (the waterfall's order); null when unknown. */
  trace(traceId: string): SpanRecord[] | null {
    const t = this.traces.get(traceId.toLowerCase());
    return t ? [...t].sort((a, b) => a.startMs - b.startMs) : null;
  }

  summary(spans: readonly SpanRecord[]): TraceSummary {
    const ids = new Set(spans.map((s) => s.spanId));
    // The root: no parent, or a parent we never received; the earliest such span.
    const roots = spans.filter((s) => s.parentSpanId === null || !ids.has(s.parentSpanId));
    const root = [...(roots.length > 0 ? roots : spans)].sort((a, b) => a.startMs - b.startMs)[0]!;
    const start = Math.min(...spans.map((s) => s.startMs));
    const end = Math.max(...spans.map((s) => s.endMs));
    return {
      traceId: root.traceId,
      rootService: root.service,
      rootName: root.name,
      startMs: start,
      durationMs: end - start,
      spans: spans.length,
      services: [...new Set(spans.map((s) => s.service))].sort(),
      error: spans.some((s) => s.error),
    };
  }

  /** Traces matching every given condition, newest first. */
  search(f: TraceFilter): TraceSummary[] {
    const out: TraceSummary[] = [];
    for (const spans of this.traces.values()) {
      const sum = this.summary(spans);
      if (f.service !== undefined && !sum.services.includes(f.service)) continue;
      if (f.minDurationMs !== undefined && sum.durationMs < f.minDurationMs) continue;
      if (f.maxDurationMs !== undefined && sum.durationMs > f.maxDurationMs) continue;
      if (f.error !== undefined && sum.error !== f.error) continue;
      out.push(sum);
    }
    out.sort((a, b) => b.startMs - a.startMs);
    return out.slice(0, f.limit ?? 20);
  }

  services(): string[] {
    const s = new Set<string>();
    for (const spans of this.traces.values()) for (const x of spans) s.add(x.service);
    return [...s].sort();
  }
}
