// createService: the one way every chapter's service is built. Fastify 5 with TypeBox route
// schemas, pino logs, prom-client metrics, health/readiness, OpenAPI, problem+json errors,
// body limits, W3C trace context and graceful shutdown, so that each chapter's code is only
// its routes and its domain.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { CommonErrors, DdiaError, PROBLEM_CONTENT_TYPE, type Problem } from '../core/errors.js';
import { OtlpSpanExporter, spanClockMs } from '../net/span-export.js';
import { formatTraceparent, type TraceContext, traceFromHeader } from '../net/trace.js';
import type { BaseConfig } from './config.js';
import { registerClockSkewRoutes, registerClockStamps, SkewableClock } from './wall-clock.js';

export const BODY_BYTES_DEFAULT = 1024 * 1024;
export const PARAM_BYTES_DEFAULT = 8 * 1024;
export const URL_BYTES_DEFAULT = 32 * 1024;
/** How long shutdown waits for in-flight requests before giving up. */
export const SHUTDOWN_GRACE_MS = 10_000;
const LINT_FAILING_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];
/** Routes that get no span with --otlp: scrapes, probes, docs and the trace receiver. */
const UNTRACED_ROUTES = new Set(['/metrics', '/health', '/ready', '/openapi.json', '/v1/traces']);
const REQUEST_DURATION_BUCKETS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export type ServiceApp = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface ServiceOptions {
  /** Service name: logs, metrics labels, OpenAPI title. */
  name: string;
  config: Pick<BaseConfig, 'host' | 'port' | 'logLevel' | 'id'> & Partial<BaseConfig>;
  description?: string;
  version?: string;
  bodyLimitBytes?: number;
  /**
   * Longest URL path parameter in bytes (fastify's default is 100). Key-value services whose
   * keys travel in the path raise it; the URL as a whole must also fit in `urlBytesMax`.
   */
  paramBytesMax?: number;
  /** Longest request line plus headers Node's HTTP parser accepts (Node's default is 16 KiB). */
  urlBytesMax?: number;
  /** Readiness for GET /ready: e.g. "has a leader". Liveness (/health) is always the process itself. */
  ready?: () => boolean | Promise<boolean>;
  /** Called once on shutdown after the server stopped accepting and drained: close storage here. */
  onClose?: () => Promise<void> | void;
  /** Handle SIGTERM/SIGINT by shutting down gracefully and exiting (default true). */
  handleSignals?: boolean;
  /** Answer errors with something other than problem+json (e.g. Confluent's error bodies). */
  errorFormatter?: (error: DdiaError, reply: FastifyReply) => unknown;
  /**
   * The node's wall clock (default: a new one over the system clock). With `--chaos`,
   * POST /chaos/clock-skew skews it and every answer carries its stamp (wall-clock.ts).
   */
  wallClock?: SkewableClock;
  /** Stamp every answer with the wall clock even without --chaos (monitoring nodes do). */
  stampWallClock?: boolean;
}

export interface Service {
  app: ServiceApp;
  registry: Registry;
  log: FastifyBaseLogger;
  /** The wall clock its answers are stamped with and `--chaos` skews. */
  wallClock: SkewableClock;
  /** Starts listening; resolves with the base URL, e.g. http://127.0.0.1:7001. */
  listen(): Promise<string>;
  /** The base URL once listening. */
  url(): string;
  close(): Promise<void>;
}

/** A started service as the function that started it answers it (a lab node: its service, its
 *  base URL, and close() for everything it opened); the node's own parts go beside these. */
export interface RunningService {
  service: Service;
  url: string;
  close(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    trace: TraceContext;
  }
}

/** Maps anything thrown while serving to a DdiaError: ours pass through, fastify's are translated. */
export function toDdiaError(error: unknown): DdiaError {
  if (error instanceof DdiaError) return error;
  const err = error as FastifyError & { validation?: unknown; validationContext?: string };
  if (err?.validation) {
    return new DdiaError(
      CommonErrors.validation,
      `${err.validationContext ?? 'request'} ${err.message}`.trim(),
    );
  }
  switch (err?.code) {
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new DdiaError(CommonErrors.uriTooLong, 'a path parameter is longer than this service accepts');
    case 'FST_ERR_BAD_URL':
      return new DdiaError(CommonErrors.badRequest, 'the URL is malformed');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new DdiaError(CommonErrors.payloadTooLarge, err.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new DdiaError(CommonErrors.unsupportedMediaType, err.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new DdiaError(CommonErrors.badJson, err.message);
    default:
      break;
  }
  if (err instanceof SyntaxError || err?.name === 'SyntaxError')
    return new DdiaError(CommonErrors.badJson, err.message);
  const status = typeof err?.statusCode === 'number' ? err.statusCode : 500;
  if (status === 413) return new DdiaError(CommonErrors.payloadTooLarge, err.message);
  if (status === 415) return new DdiaError(CommonErrors.unsupportedMediaType, err.message);
  if (status >= 400 && status < 500)
    return new DdiaError({ ...CommonErrors.badRequest, status }, err.message);
  return new DdiaError(CommonErrors.internal, 'internal error');
}

export function sendProblem(reply: FastifyReply, error: DdiaError): FastifyReply {
  const problem: Problem = error.toProblem(reply.request.url);
  return reply.status(error.status).type(PROBLEM_CONTENT_TYPE).send(problem);
}

/**
 * Makes a plugin scope receive every content type as a raw Buffer (key-value values,
 * binary protocols). Call it first thing inside `app.register(async (scope) => ...)`.
 */
export function withRawBodies(scope: FastifyInstance | ServiceApp): void {
  const plain = scope as FastifyInstance;
  plain.removeAllContentTypeParsers();
  plain.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
}

export async function createService(options: ServiceOptions): Promise<Service> {
  const { config } = options;
  // Errors the router raises before any route runs go through the same formatter (bound below).
  let formatFrameworkError: (error: DdiaError, reply: FastifyReply) => unknown = (error, reply) =>
    sendProblem(reply, error);
  const pretty = process.stdout.isTTY && process.env.NODE_ENV !== 'test';
  const app = Fastify({
    logger: {
      level: config.logLevel,
      base: { service: options.name, node: config.id },
      ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
    },
    bodyLimit: options.bodyLimitBytes ?? BODY_BYTES_DEFAULT,
    routerOptions: { maxParamLength: options.paramBytesMax ?? PARAM_BYTES_DEFAULT },
    http: { maxHeaderSize: options.urlBytesMax ?? URL_BYTES_DEFAULT },
    frameworkErrors: (error, _request, reply) =>
      formatFrameworkError(toDdiaError(error), reply as FastifyReply),
    // Per-request info lines would dominate the logs and the benchmarks; failures are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as ServiceApp;

  const registry = new Registry();
  registry.setDefaultLabels({ service: options.name, node: config.id });
  collectDefaultMetrics({ register: registry });
  // prom-client's default gauges named *_total break Prometheus naming rules (promtool rejects
  // them); the same figures are exported per type without the suffix, so drop these three.
  for (const name of LINT_FAILING_DEFAULT_METRICS) registry.removeSingleMetric(name);
  const requestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route, method and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: REQUEST_DURATION_BUCKETS_S,
    registers: [registry],
  });

  const spans = config.otlp
    ? new OtlpSpanExporter({ url: config.otlp, service: options.name, node: config.id })
    : null;

  app.decorateRequest('trace', null as unknown as TraceContext);
  app.addHook('onRequest', (request, reply, done) => {
    const header = request.headers.traceparent;
    const trace = traceFromHeader(Array.isArray(header) ? header[0] : header);
    if (spans) trace.spans = spans;
    request.trace = trace;
    reply.header('traceparent', formatTraceparent(trace.traceId, trace.spanId, trace.sampled));
    // Outbound calls made while serving pass `request.trace` to the client (net/trace.ts).
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requestDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    // With --otlp, each request is a server span (net/span-export.ts); scrapes, probes and
    // the trace receiver itself are left out.
    if (spans && request.trace?.sampled && !UNTRACED_ROUTES.has(route)) {
      const endMs = spanClockMs();
      spans.record({
        traceId: request.trace.traceId,
        spanId: request.trace.spanId,
        ...(request.trace.parentSpanId ? { parentSpanId: request.trace.parentSpanId } : {}),
        name: `${request.method} ${route}`,
        kind: 'server',
        startMs: endMs - reply.elapsedTime,
        endMs,
        attributes: {
          'http.request.method': request.method,
          'http.route': route,
          'http.response.status_code': reply.statusCode,
          'client.address': request.ip,
          ...(request.socket?.remotePort ? { 'client.port': request.socket.remotePort } : {}),
        },
        error: reply.statusCode >= 500,
      });
    }
    if (reply.statusCode >= 500) request.log.warn({ route, status: reply.statusCode }, 'request failed');
    done();
  });

  const formatError =
    options.errorFormatter ?? ((error: DdiaError, reply: FastifyReply) => sendProblem(reply, error));
  formatFrameworkError = formatError;
  app.setErrorHandler((error, request, reply) => {
    const mapped = toDdiaError(error);
    if (mapped.status >= 500 && !(error instanceof DdiaError)) {
      request.log.error({ err: error }, 'unhandled error');
    }
    return formatError(mapped, reply);
  });
  app.setNotFoundHandler((request, reply) =>
    formatError(
      new DdiaError(CommonErrors.routeNotFound, `no route for ${request.method} ${request.url}`),
      reply,
    ),
  );

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: `@ddia/${options.name}`,
        description: options.description ?? '',
        version: options.version ?? '0.1.0',
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const ops = { schema: { hide: true } };
  app.get(
    '/health',
    { schema: { tags: ['ops'], summary: 'Liveness: 200 while the process can serve' } },
    async () => ({
      status: 'ok',
      service: options.name,
      node: config.id,
    }),
  );
  app.get(
    '/ready',
    { schema: { tags: ['ops'], summary: 'Readiness: 200 once it can take traffic' } },
    async (_r, reply) => {
      // A readiness check that throws means "not ready", not a server error.
      const ready = options.ready ? await (async () => options.ready?.())().catch(() => false) : true;
      if (!ready) {
        return sendProblem(
          reply,
          new DdiaError(CommonErrors.unavailable, `${options.name} ${config.id} is not ready`),
        );
      }
      return { status: 'ready', service: options.name, node: config.id };
    },
  );
  app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics' } }, async (_r, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
  app.get('/openapi.json', ops, async () => app.swagger());
  const wallClock = options.wallClock ?? new SkewableClock();
  if (config.chaos || options.stampWallClock) registerClockStamps(app, wallClock);
  if (config.chaos) registerClockSkewRoutes(app, wallClock);

  let baseUrl = '';
  let closing: Promise<void> | null = null;
  // While draining, answers carry `Connection: close`, so that keep-alive connections of
  // in-flight requests end with their response instead of holding shutdown open.
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // A closed service no longer owns the process's signals: a process that starts and closes
      // many services (tests, the lab) would otherwise pile up listeners for dead ones.
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      // Storage is closed even when the server did not stop cleanly.
      try {
        await app.close();
      } finally {
        await spans?.flush();
        await options.onClose?.();
      }
    })();
    return closing;
  };

  const onSignal = (signal: NodeJS.Signals) => {
    app.log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      app.log.error('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    timer.unref();
    close().then(
      () => process.exit(0),
      (err) => {
        app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };

  return {
    app,
    registry,
    log: app.log,
    wallClock,
    async listen() {
      const address = await app.listen({ host: config.host, port: config.port });
      const port = (app.server.address() as { port: number }).port;
      const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
      baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      if (options.handleSignals !== false) {
        process.once('SIGTERM', onSignal);
        process.once('SIGINT', onSignal);
      }
      app.log.info({ address, url: baseUrl }, `${options.name} listening`);
      return baseUrl;
    },
    url() {
      return baseUrl;
    },
    close,
  };
}
