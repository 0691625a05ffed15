// HTTP routes of the schema registry: Confluent Schema Registry's REST API, answered from the
// domain in `registry/`. This file only parses requests, calls the domain and shapes replies.
import {
  type BaseConfig,
  createService,
  type DdiaError,
  openStore,
  type Service,
  type ServiceApp,
  type ServiceOptions,
} from '@ddia/common';
import { lsmEngine } from '@ddia/lsm-engine';
import { COMPATIBILITY_LEVELS, MODES, parseCompatibilityLevel, parseMode } from './registry/compatibility.js';
import { RegistryError, RegistryErrors } from './registry/errors.js';
import { parseVersion, type RegisterRequest, SCHEMA_TYPES, SchemaRegistry } from './registry/registry.js';

/** Confluent's media type; every reply carries it. */
export const REGISTRY_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
/** Request media types Confluent accepts; all are parsed as JSON. */
export const ACCEPTED_CONTENT_TYPES = [
  'application/vnd.schemaregistry.v1+json',
  'application/vnd.schemaregistry+json',
  'application/json',
  'application/octet-stream',
] as const;
/** Largest request body: a schema with its references fits many times over. */
export const REGISTRY_BODY_BYTES_MAX = 1024 * 1024;

type Reply = Parameters<NonNullable<ServiceOptions['errorFormatter']>>[1];
type Query = Record<string, string | undefined>;
type Params = Record<string, string>;

function flag(query: Query, name: string): boolean {
  return (query[name] ?? '').toLowerCase() === 'true';
}

function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new RegistryError(RegistryErrors.unprocessable, 'The request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

function schemaId(text: string): number {
  const id = /^[0-9]{1,10}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(id) || id < 1 || id > 2 ** 31 - 1) {
    throw new RegistryError(RegistryErrors.schemaNotFound, `Schema ${text} not found`);
  }
  return id;
}

function registerRequest(body: unknown): RegisterRequest {
  const b = bodyObject(body);
  return {
    schema: b.schema,
    schemaType: b.schemaType,
    references: b.references,
    id: b.id,
    version: b.version,
  };
}

function send(reply: Reply, body: unknown): Reply {
  reply.type(REGISTRY_CONTENT_TYPE);
  return reply.send(typeof body === 'string' ? body : JSON.stringify(body));
}

/** Answers every error with Confluent's `{error_code, message}` body. */
export function confluentErrorFormatter(error: DdiaError, reply: Reply): Reply {
  const status = error.status;
  const errorCode =
    error instanceof RegistryError
      ? error.errorCode
      : status >= 500
        ? RegistryErrors.storeError.errorCode
        : status;
  const message =
    error instanceof RegistryError || status < 500 ? error.message : 'Internal error in the schema registry';
  reply.status(status).type(REGISTRY_CONTENT_TYPE);
  return reply.send(JSON.stringify({ error_code: errorCode, message }));
}

const tags = ['schema-registry'];
// OpenAPI metadata for common's /openapi.json (tags and summary are @fastify/swagger's additions).
const doc = (summary: string) => ({ schema: { tags, summary } as object });

/** Mounts the Confluent-compatible API on `app`, backed by `registry`. */
export async function registerRoutes(app: ServiceApp, registry: SchemaRegistry): Promise<void> {
  await app.register(async (scope) => {
    const plain = scope as unknown as {
      removeAllContentTypeParsers(): void;
      addContentTypeParser(
        type: string,
        opts: { parseAs: 'string' },
        parser: (req: unknown, body: string, done: (err: Error | null, value?: unknown) => void) => void,
      ): void;
    };
    plain.removeAllContentTypeParsers();
    for (const type of ACCEPTED_CONTENT_TYPES) {
      plain.addContentTypeParser(type, { parseAs: 'string' }, (_req, body, done) => {
        if (body.trim() === '') return done(null, undefined);
        try {
          done(null, JSON.parse(body));
        } catch (err) {
          done(
            new RegistryError(RegistryErrors.badRequest, `Body is not valid JSON: ${(err as Error).message}`),
          );
        }
      });
    }

    scope.get('/', doc('Root: an empty object, as Confluent answers'), async (_q, reply) => send(reply, {}));

    scope.get('/schemas/types', doc('Schema formats this registry accepts'), async (_q, r) =>
      send(r, [...SCHEMA_TYPES]),
    );

    // ---- subjects ----
    scope.get('/subjects', doc('List subjects (?deleted=true adds soft-deleted)'), async (q, r) => {
      const query = q.query as Query;
      const prefix = query.subjectPrefix ?? '';
      return send(
        r,
        registry.listSubjects(flag(query, 'deleted')).filter((s) => s.startsWith(prefix)),
      );
    });

    scope.get('/subjects/:subject/versions', doc('Versions of a subject'), async (q, r) => {
      const { subject } = q.params as Params;
      return send(r, registry.listVersions(subject, flag(q.query as Query, 'deleted')));
    });

    scope.post(
      '/subjects/:subject/versions',
      doc('Register a schema under a subject; returns its global id'),
      async (q, r) => {
        const { subject } = q.params as Params;
        const { id } = await registry.register(subject, registerRequest(q.body));
        return send(r, { id });
      },
    );

    scope.get(
      '/subjects/:subject/versions/:version',
      doc('One version of a subject (or latest)'),
      async (q, r) => {
        const { subject, version } = q.params as Params;
        const v = registry.getVersion(subject, parseVersion(version), flag(q.query as Query, 'deleted'));
        return send(r, {
          subject: v.subject,
          version: v.version,
          id: v.id,
          ...(v.schemaType === 'AVRO' ? {} : { schemaType: v.schemaType }),
          ...(v.references.length > 0 ? { references: v.references } : {}),
          schema: v.schema,
        });
      },
    );

    scope.get(
      '/subjects/:subject/versions/:version/schema',
      doc('Only the schema text of a version'),
      async (q, r) => {
        const { subject, version } = q.params as Params;
        return send(
          r,
          registry.getVersion(subject, parseVersion(version), flag(q.query as Query, 'deleted')).schema,
        );
      },
    );

    scope.get(
      '/subjects/:subject/versions/:version/referencedby',
      doc('Ids of schemas that reference this version'),
      async (q, r) => {
        const { subject, version } = q.params as Params;
        return send(r, registry.referencedBy(subject, parseVersion(version)));
      },
    );

    scope.post('/subjects/:subject', doc('Look up a schema under a subject'), async (q, r) => {
      const { subject } = q.params as Params;
      const v = registry.lookup(subject, registerRequest(q.body), flag(q.query as Query, 'deleted'));
      return send(r, {
        subject: v.subject,
        id: v.id,
        version: v.version,
        ...(v.references.length > 0 ? { references: v.references } : {}),
        schema: v.schema,
      });
    });

    scope.delete(
      '/subjects/:subject',
      doc('Soft-delete a subject (?permanent=true after a soft delete)'),
      async (q, r) => {
        const { subject } = q.params as Params;
        return send(r, await registry.deleteSubject(subject, flag(q.query as Query, 'permanent')));
      },
    );

    scope.delete(
      '/subjects/:subject/versions/:version',
      doc('Soft-delete a version (?permanent=true after a soft delete)'),
      async (q, r) => {
        const { subject, version } = q.params as Params;
        return send(
          r,
          await registry.deleteVersion(subject, parseVersion(version), flag(q.query as Query, 'permanent')),
        );
      },
    );

    // ---- schemas by id ----
    scope.get('/schemas/ids/:id', doc('A schema by its global id'), async (q, r) => {
      const schema = registry.getSchemaById(schemaId((q.params as Params).id));
      return send(r, {
        ...(schema.schemaType === 'AVRO' ? {} : { schemaType: schema.schemaType }),
        ...(schema.references.length > 0 ? { references: schema.references } : {}),
        schema: schema.schema,
      });
    });

    scope.get('/schemas/ids/:id/schema', doc('Only the schema text'), async (q, r) =>
      send(r, registry.getSchemaById(schemaId((q.params as Params).id)).schema),
    );

    scope.get('/schemas/ids/:id/versions', doc('Subject versions that use this id'), async (q, r) =>
      send(r, registry.versionsOfId(schemaId((q.params as Params).id), flag(q.query as Query, 'deleted'))),
    );

    scope.get('/schemas/ids/:id/subjects', doc('Subjects that use this id'), async (q, r) => {
      const versions = registry.versionsOfId(
        schemaId((q.params as Params).id),
        flag(q.query as Query, 'deleted'),
      );
      return send(r, [...new Set(versions.map((v) => v.subject))]);
    });

    // ---- compatibility ----
    const compatibility = async (
      subject: string,
      version: string | undefined,
      q: { query: unknown; body: unknown },
    ) => {
      const messages = registry.testCompatibility(
        subject,
        version === undefined ? undefined : parseVersion(version),
        registerRequest(q.body),
      );
      const verbose = flag(q.query as Query, 'verbose');
      return { is_compatible: messages.length === 0, ...(verbose ? { messages } : {}) };
    };
    scope.post(
      '/compatibility/subjects/:subject/versions/:version',
      doc('Test a schema against one version (?verbose=true for reasons)'),
      async (q, r) => {
        const { subject, version } = q.params as Params;
        return send(r, await compatibility(subject, version, q));
      },
    );
    scope.post(
      '/compatibility/subjects/:subject/versions',
      doc('Test a schema against the versions its level names'),
      async (q, r) => send(r, await compatibility((q.params as Params).subject, undefined, q)),
    );

    // ---- config ----
    const level = (body: unknown) => {
      const raw = bodyObject(body).compatibility ?? bodyObject(body).compatibilityLevel;
      const parsed = parseCompatibilityLevel(raw);
      if (!parsed) {
        throw new RegistryError(
          RegistryErrors.invalidCompatibilityLevel,
          `Invalid compatibility level ${JSON.stringify(raw ?? null)}. Valid values are ${COMPATIBILITY_LEVELS.join(', ')}`,
        );
      }
      return parsed;
    };
    scope.get('/config', doc('Global compatibility level'), async (_q, r) =>
      send(r, { compatibilityLevel: registry.getConfig(null) }),
    );
    scope.put('/config', doc('Set the global compatibility level'), async (q, r) =>
      send(r, { compatibility: await registry.setConfig(null, level(q.body)) }),
    );
    scope.delete('/config', doc('Reset the global level to BACKWARD'), async (_q, r) =>
      send(r, { compatibilityLevel: await registry.deleteConfig(null) }),
    );
    scope.get(
      '/config/:subject',
      doc("A subject's own level (404 if none; ?defaultToGlobal=true)"),
      async (q, r) =>
        send(r, {
          compatibilityLevel: registry.getConfig(
            (q.params as Params).subject,
            flag(q.query as Query, 'defaultToGlobal'),
          ),
        }),
    );
    scope.put('/config/:subject', doc("Set a subject's level"), async (q, r) =>
      send(r, { compatibility: await registry.setConfig((q.params as Params).subject, level(q.body)) }),
    );
    scope.delete('/config/:subject', doc("Remove a subject's own level"), async (q, r) =>
      send(r, { compatibilityLevel: await registry.deleteConfig((q.params as Params).subject) }),
    );

    // ---- mode ----
    const mode = (body: unknown) => {
      const raw = bodyObject(body).mode;
      const parsed = parseMode(raw);
      if (!parsed) {
        throw new RegistryError(
          RegistryErrors.invalidMode,
          `Invalid mode ${JSON.stringify(raw ?? null)}. Valid values are ${MODES.join(', ')}`,
        );
      }
      return parsed;
    };
    scope.get('/mode', doc('Global mode'), async (_q, r) => send(r, { mode: registry.getMode(null) }));
    scope.put('/mode', doc('Set the global mode (?force=true for IMPORT)'), async (q, r) =>
      send(r, { mode: await registry.setMode(null, mode(q.body), flag(q.query as Query, 'force')) }),
    );
    scope.get('/mode/:subject', doc("A subject's own mode"), async (q, r) =>
      send(r, {
        mode: registry.getMode((q.params as Params).subject, flag(q.query as Query, 'defaultToGlobal')),
      }),
    );
    scope.put('/mode/:subject', doc("Set a subject's mode"), async (q, r) =>
      send(r, {
        mode: await registry.setMode(
          (q.params as Params).subject,
          mode(q.body),
          flag(q.query as Query, 'force'),
        ),
      }),
    );
    scope.delete('/mode/:subject', doc("Remove a subject's own mode"), async (q, r) =>
      send(r, { mode: await registry.deleteMode((q.params as Params).subject) }),
    );
  });
}

export interface RegistryServiceOptions {
  config: BaseConfig;
  /** Set false in tests that start several services in one process. */
  handleSignals?: boolean;
}

/** Opens the store, loads the registry and builds the HTTP service (not yet listening). */
export async function createRegistryService(options: RegistryServiceOptions): Promise<Service> {
  const { config } = options;
  const store = await openStore({
    engine: config.engine,
    dataDir: config.dataDir,
    name: 'schema-registry',
    lsm: lsmEngine,
    valueEncoding: 'json',
  });
  const registry = await SchemaRegistry.open(store);
  const service = await createService({
    name: 'schema-registry',
    description: 'Chapter 4: a Confluent-compatible Avro schema registry',
    config,
    bodyLimitBytes: REGISTRY_BODY_BYTES_MAX,
    handleSignals: options.handleSignals,
    errorFormatter: confluentErrorFormatter,
    onClose: async () => {
      await registry.close();
      await store.close();
    },
  });
  await registerRoutes(service.app, registry);
  return service;
}
