// HTTP routes: the coordinator's (jobs, workers, SQL) and the worker's (the shuffle).
import { CommonErrors, DdiaError, type ServiceApp } from '@ddia/common';
import { Gauge, type Registry } from 'prom-client';
import { Type } from 'typebox';
import { type Coordinator, REDUCES_MAX } from './coordinator.js';
import { INPUT_FORMATS } from './core/splits.js';
import { renderJobPage } from './job-page.js';
import type { SqlEngine } from './sql.js';
import type { BatchWorker } from './worker.js';

const JobId = Type.Object({ id: Type.String({ pattern: '^job-[0-9]{6}$' }) });
const WorkerId = Type.String({ pattern: '^w[0-9a-z]+-[0-9]+$' });
const AttemptId = Type.String({ pattern: '^a[0-9]+$' });
const Path = Type.String({ minLength: 1, maxLength: 4096 });

const Submission = Type.Object(
  {
    job: Type.String({
      minLength: 1,
      maxLength: 4096,
      description: 'a shipped job (wordcount, ...) or a module path',
    }),
    inputs: Type.Array(
      Type.Object({
        path: Path,
        format: Type.Optional(Type.Union(INPUT_FORMATS.map((f) => Type.Literal(f)))),
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
      }),
      { minItems: 1, maxItems: 64 },
    ),
    output: Path,
    reduces: Type.Optional(Type.Integer({ minimum: 1, maximum: REDUCES_MAX })),
    params: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 4096 }))),
    splitBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 1024 ** 3 })),
    spillBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 1024 ** 3 })),
    speculative: Type.Optional(Type.Boolean()),
    taskTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 24 * 3600_000 })),
    onMalformed: Type.Optional(Type.Union([Type.Literal('fail'), Type.Literal('pass')])),
    outputFormat: Type.Optional(Type.Union([Type.Literal('text'), Type.Literal('parquet')])),
  },
  { additionalProperties: false },
);

const Counters = Type.Record(Type.String(), Type.Number());
const Report = Type.Object({
  status: Type.Union([Type.Literal('completed'), Type.Literal('failed')]),
  counters: Type.Optional(Counters),
  message: Type.Optional(Type.String({ maxLength: 64 * 1024 })),
  fatal: Type.Optional(Type.Boolean()),
  lostMaps: Type.Optional(
    Type.Array(Type.Object({ index: Type.Integer({ minimum: 0 }), attemptId: AttemptId }), {
      maxItems: 1_000_000,
    }),
  ),
});

/** OpenAPI summary and tags for a route without a body or parameters. */
function describe(summary: string, tag: string): object {
  return { summary, tags: [tag] };
}

export function registerCoordinatorRoutes(
  app: ServiceApp,
  coordinator: Coordinator,
  registry: Registry,
  sql: SqlEngine,
): void {
  new Gauge({
    name: 'batch_workers_live',
    help: 'Workers holding a lease',
    registers: [registry],
    collect() {
      this.set(coordinator.scheduler.liveWorkers().length);
    },
  });
  new Gauge({
    name: 'batch_jobs',
    help: 'Jobs by status',
    labelNames: ['status'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const job of coordinator.jobs()) this.inc({ status: job.status });
    },
  });

  app.post(
    '/jobs',
    { schema: { summary: 'Submit a job', tags: ['jobs'], body: Submission } },
    async (request, reply) => {
      const record = await coordinator.submit(request.body);
      return reply.status(201).send(summary(record));
    },
  );
  app.get('/jobs', { schema: describe('Every job, oldest first', 'jobs') }, async () => ({
    jobs: coordinator.jobs().map(summary),
  }));
  app.get(
    '/jobs/:id',
    { schema: { summary: 'A job: status, counters, per-task timings', tags: ['jobs'], params: JobId } },
    async (request) => {
      const { splits: _splits, ...rest } = coordinator.job(request.params.id);
      return rest;
    },
  );
  app.get(
    '/jobs/:id/page',
    { schema: { summary: 'A job as an HTML page', tags: ['jobs'], params: JobId } },
    async (request, reply) =>
      reply.type('text/html; charset=utf-8').send(renderJobPage(coordinator.job(request.params.id))),
  );

  app.post(
    '/workers',
    {
      schema: {
        summary: 'Register a worker',
        tags: ['workers'],
        body: Type.Object({
          url: Type.String({ pattern: '^https?://', maxLength: 512 }),
          slots: Type.Integer({ minimum: 1, maximum: 64 }),
        }),
      },
    },
    async (request, reply) =>
      reply.status(201).send(coordinator.register(request.body.url, request.body.slots)),
  );
  app.get('/workers', { schema: describe('Live workers', 'workers') }, async () => ({
    workers: coordinator.scheduler
      .liveWorkers()
      .map((w) => ({ id: w.id, url: w.url, slots: w.slots, running: w.running.size })),
  }));
  app.post(
    '/workers/:worker/heartbeat',
    {
      schema: {
        summary: 'Renew a worker lease',
        tags: ['workers'],
        params: Type.Object({ worker: WorkerId }),
      },
    },
    async (request) => {
      coordinator.heartbeat(request.params.worker);
      return { ok: true };
    },
  );
  app.post(
    '/workers/:worker/tasks',
    {
      schema: {
        summary: 'Ask for a task (204: none now)',
        tags: ['workers'],
        params: Type.Object({ worker: WorkerId }),
      },
    },
    async (request, reply) => {
      const order = coordinator.nextTask(request.params.worker);
      if (!order) return reply.status(204).send();
      return order;
    },
  );
  app.post(
    '/workers/:worker/attempts/:attempt',
    {
      schema: {
        summary: 'Report an attempt as completed or failed',
        tags: ['workers'],
        params: Type.Object({ worker: WorkerId, attempt: AttemptId }),
        body: Report,
      },
    },
    async (request) => {
      coordinator.report(request.params.worker, request.params.attempt, request.body);
      return { ok: true };
    },
  );

  app.post(
    '/sql',
    {
      schema: {
        summary: 'Run SQL in DuckDB (e.g. over the ETL Parquet tree)',
        tags: ['sql'],
        body: Type.Object({ sql: Type.String({ minLength: 1, maxLength: 64 * 1024 }) }),
      },
    },
    async (request) => sql.query(request.body.sql),
  );
}

function summary(record: ReturnType<Coordinator['job']>) {
  return {
    id: record.id,
    job: record.job,
    status: record.status,
    error: record.error,
    output: record.output,
    maps: record.splits.length,
    reduces: record.reduces,
    submittedAt: record.submittedAt,
    finishedAt: record.finishedAt,
    durationMs: record.durationMs,
  };
}

export function registerWorkerRoutes(app: ServiceApp, worker: BatchWorker): void {
  app.get(
    '/shuffle/:job/:map/:attempt/:partition',
    {
      schema: {
        summary: "One reduce partition of one map task's output (a sorted run, FORMAT.md)",
        tags: ['shuffle'],
        params: Type.Object({
          job: Type.String({ pattern: '^job-[0-9]{6}$' }),
          map: Type.Integer({ minimum: 0 }),
          attempt: AttemptId,
          partition: Type.Integer({ minimum: 0 }),
        }),
      },
    },
    async (request, reply) => {
      const { job, map, attempt, partition } = request.params;
      const bytes = await worker.mapOutput(job, map, attempt, partition);
      if (!bytes)
        throw new DdiaError(CommonErrors.notFound, `no output of ${job} map ${map} attempt ${attempt} here`);
      return reply.type('application/octet-stream').send(bytes);
    },
  );
  app.get('/status', { schema: describe('This worker', 'workers') }, async () => ({
    worker: worker.id,
    busySlots: worker.busySlots,
    completed: worker.completed.length,
  }));
}
