// HTTP JSON front door for curl: the same engine the wire protocol serves. Bodies and answers
// are MongoDB Extended JSON (relaxed), so {"$oid": "..."} and {"$date": "..."} round-trip.
// Errors are problem+json through common's machinery; the engine's carry MongoDB's code too.
import { CommonErrors, DdiaError, type ServiceApp } from '@ddia/common';
import { BSON, ObjectId } from 'bson';
import { Type } from 'typebox';
import { DocDbError, DocErrors } from './core/errors.js';
import type { Doc } from './core/values.js';
import { type DocumentDatabase, DocumentDatabase as Engine, type FindOptions } from './storage/database.js';
import { explainDoc } from './storage/explain.js';

/** Most documents one HTTP find returns (use skip to page; the wire protocol has cursors). */
export const HTTP_FIND_LIMIT_MAX = 10_000;
/** Insert bodies may carry a 16 MiB document and its JSON overhead (MongoDB's message limit is 48 MB). */
export const INSERT_BODY_BYTES_MAX = 48 * 1000 * 1000;

const Params = Type.Object({
  db: Type.String({ minLength: 1, maxLength: 64 }),
  coll: Type.String({ minLength: 1, maxLength: 120 }),
});
const AnyDoc = Type.Record(Type.String(), Type.Unknown());
const FindBody = Type.Object({
  filter: Type.Optional(AnyDoc),
  sort: Type.Optional(AnyDoc),
  projection: Type.Optional(AnyDoc),
  skip: Type.Optional(Type.Integer({ minimum: 0 })),
  limit: Type.Optional(Type.Integer({ minimum: 0, maximum: HTTP_FIND_LIMIT_MAX })),
  hint: Type.Optional(Type.Union([Type.String(), AnyDoc])),
});

function fromJson<T>(value: T): T {
  try {
    return BSON.EJSON.deserialize(value as Doc, { relaxed: true }) as T;
  } catch (error) {
    throw new DdiaError(CommonErrors.badRequest, `bad Extended JSON: ${(error as Error).message}`);
  }
}

function toJson(value: unknown): unknown {
  return BSON.EJSON.serialize(value as Doc, { relaxed: true });
}

/** A path's _id: an ObjectId if it looks like one, a number if it is one, else the string. */
function idCandidates(text: string): unknown[] {
  const out: unknown[] = [];
  if (/^[0-9a-f]{24}$/i.test(text)) out.push(new ObjectId(text));
  if (/^-?\d+(\.\d+)?$/.test(text)) out.push(Number(text));
  out.push(text);
  return out;
}

export function registerDocumentRoutes(app: ServiceApp, engine: DocumentDatabase): void {
  const names = (params: { db: string; coll: string }) => {
    Engine.checkNames(params.db, params.coll);
    return params;
  };

  app.post(
    '/db/:db/:coll/insert',
    {
      bodyLimit: INSERT_BODY_BYTES_MAX,
      schema: {
        tags: ['documents'],
        summary: 'Insert documents ({documents: [...]} or {document}); ordered stops at the first error',
        params: Params,
        body: Type.Object({
          documents: Type.Optional(Type.Array(AnyDoc, { minItems: 1, maxItems: 100_000 })),
          document: Type.Optional(AnyDoc),
          ordered: Type.Optional(Type.Boolean()),
          bypassDocumentValidation: Type.Optional(Type.Boolean()),
        }),
      },
    },
    async (request, reply) => {
      const { db, coll } = names(request.params);
      const body = fromJson(request.body);
      const docs = body.documents ?? (body.document ? [body.document] : undefined);
      if (!docs) throw new DdiaError(CommonErrors.validation, 'body needs documents or document');
      const { inserted, errors } = await engine.insertMany(
        db,
        coll,
        docs,
        body.ordered ?? true,
        body.bypassDocumentValidation ?? false,
      );
      if (errors.length > 0) {
        const first = errors[0]!;
        const spec = Object.values(DocErrors).find((e) => e.mongoCode === first.code) ?? DocErrors.badValue;
        throw new DocDbError(spec, first.errmsg, {
          insertedCount: inserted.length,
          insertedIds: toJson(inserted),
          writeErrors: toJson(errors),
        });
      }
      return reply.status(201).send({ insertedCount: inserted.length, insertedIds: toJson(inserted) });
    },
  );

  app.post(
    '/db/:db/:coll/find',
    {
      schema: {
        tags: ['documents'],
        summary: 'Find documents (MongoDB filter, sort, projection, skip, limit)',
        params: Params,
        body: FindBody,
      },
    },
    async (request) => {
      const { db, coll } = names(request.params);
      const options = fromJson(request.body) as FindOptions;
      const limit = options.limit && options.limit > 0 ? options.limit : HTTP_FIND_LIMIT_MAX;
      const result = await engine.find(db, coll, { ...options, limit });
      return { documents: toJson(result.docs) };
    },
  );

  app.post(
    '/db/:db/:coll/aggregate',
    {
      schema: {
        tags: ['documents'],
        summary:
          'Run an aggregation pipeline ($match $project $addFields $set $unset $group $sort $limit $skip $unwind $lookup $count $facet $bucket)',
        params: Params,
        body: Type.Object({ pipeline: Type.Array(AnyDoc, { maxItems: 100 }) }),
      },
    },
    async (request) => {
      const { db, coll } = names(request.params);
      const docs = await engine.aggregate(db, coll, fromJson(request.body).pipeline);
      if (docs.length > HTTP_FIND_LIMIT_MAX)
        throw new DdiaError(
          CommonErrors.payloadTooLarge,
          `the pipeline returned ${docs.length} documents; add $limit (at most ${HTTP_FIND_LIMIT_MAX})`,
        );
      return { documents: toJson(docs) };
    },
  );

  app.post(
    '/db/:db/:coll/explain',
    {
      schema: {
        tags: ['documents'],
        summary: "The planner's choice and execution statistics for a find, in MongoDB's explain shape",
        params: Params,
        body: Type.Object({
          ...FindBody.properties,
          verbosity: Type.Optional(
            Type.Union([
              Type.Literal('queryPlanner'),
              Type.Literal('executionStats'),
              Type.Literal('allPlansExecution'),
            ]),
          ),
        }),
      },
    },
    async (request) => {
      const { db, coll } = names(request.params);
      const { verbosity, ...options } = fromJson(request.body);
      const result = await engine.find(db, coll, options as FindOptions);
      return toJson(
        explainDoc(`${db}.${coll}`, options as FindOptions, result, verbosity ?? 'executionStats'),
      );
    },
  );

  app.post(
    '/db/:db/:coll/update',
    {
      schema: {
        tags: ['documents'],
        summary:
          'Update (operators or a replacement) the first or every (multi) match; upsert inserts when none',
        params: Params,
        body: Type.Object({
          filter: AnyDoc,
          update: Type.Union([AnyDoc, Type.Array(AnyDoc)]),
          upsert: Type.Optional(Type.Boolean()),
          multi: Type.Optional(Type.Boolean()),
          bypassDocumentValidation: Type.Optional(Type.Boolean()),
        }),
      },
    },
    async (request) => {
      const { db, coll } = names(request.params);
      const body = fromJson(request.body);
      const outcome = await engine.update(db, coll, {
        q: body.filter,
        u: body.update as Doc,
        upsert: body.upsert ?? false,
        multi: body.multi ?? false,
        bypassValidation: body.bypassDocumentValidation ?? false,
      });
      return {
        matchedCount: outcome.matched,
        modifiedCount: outcome.modified,
        ...(outcome.upsertedId !== undefined ? { upsertedId: toJson(outcome.upsertedId) } : {}),
      };
    },
  );

  app.post(
    '/db/:db/:coll/delete',
    {
      schema: {
        tags: ['documents'],
        summary: 'Delete every match (limit 0) or the first (limit 1)',
        params: Params,
        body: Type.Object({
          filter: AnyDoc,
          limit: Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1)])),
        }),
      },
    },
    async (request) => {
      const { db, coll } = names(request.params);
      const body = fromJson(request.body);
      const { deleted } = await engine.delete(db, coll, body.filter, body.limit ?? 0);
      return { deletedCount: deleted };
    },
  );

  app.get(
    '/db/:db/:coll/docs/:id',
    {
      schema: {
        tags: ['documents'],
        summary: 'One document by _id (24 hex digits = ObjectId, digits = number, else a string)',
        params: Type.Object({ ...Params.properties, id: Type.String({ minLength: 1, maxLength: 1024 }) }),
      },
    },
    async (request) => {
      const { db, coll, id } = request.params;
      names({ db, coll });
      for (const candidate of idCandidates(id)) {
        const doc = await engine.getById(db, coll, candidate);
        if (doc) return toJson(doc);
      }
      throw new DdiaError(CommonErrors.notFound, `no document with _id ${id} in ${db}.${coll}`);
    },
  );

  app.get(
    '/db/:db/:coll/indexes',
    { schema: { tags: ['indexes'], summary: 'List indexes', params: Params } },
    async (request) => {
      const { db, coll } = names(request.params);
      return { indexes: engine.indexList(engine.collection(db, coll)) };
    },
  );

  app.post(
    '/db/:db/:coll/indexes',
    {
      schema: {
        tags: ['indexes'],
        summary: 'Create an index: {key: {field: 1|-1, ...}, name?, unique?, sparse?, expireAfterSeconds?}',
        params: Params,
        body: Type.Object({
          key: AnyDoc,
          name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
          unique: Type.Optional(Type.Boolean()),
          sparse: Type.Optional(Type.Boolean()),
          expireAfterSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_147_483_647 })),
        }),
      },
    },
    async (request, reply) => {
      const { db, coll } = names(request.params);
      const created = await engine.createIndex(db, coll, request.body);
      const indexes = engine.indexList(engine.collection(db, coll));
      return reply.status(created ? 201 : 200).send({ created, indexes });
    },
  );

  app.post(
    '/db/:db/:coll/collmod',
    {
      schema: {
        tags: ['collections'],
        summary:
          "collMod: a validator ({$jsonSchema: ...}), validationLevel off|strict|moderate, validationAction error|warn, or a TTL index's {index: {name, expireAfterSeconds}}; creates the collection when missing",
        params: Params,
        body: Type.Object({
          validator: Type.Optional(AnyDoc),
          validationLevel: Type.Optional(Type.String({ maxLength: 16 })),
          validationAction: Type.Optional(Type.String({ maxLength: 16 })),
          index: Type.Optional(AnyDoc),
        }),
      },
    },
    async (request) => {
      const { db, coll } = names(request.params);
      const body = fromJson(request.body) as Doc;
      await engine.createCollection(db, coll);
      const answer = await engine.modifyCollection(db, coll, body);
      return toJson({ ...answer, options: engine.validationOptions(engine.collection(db, coll)!) });
    },
  );

  app.delete(
    '/db/:db/:coll/indexes',
    {
      schema: {
        tags: ['indexes'],
        summary: 'Drop an index by name (?name=a_1), or every index but _id_ (?name=*)',
        params: Params,
        querystring: Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) }),
      },
    },
    async (request) => {
      const { db, coll } = names(request.params);
      return { nIndexesWas: await engine.dropIndex(db, coll, request.query.name) };
    },
  );
}
