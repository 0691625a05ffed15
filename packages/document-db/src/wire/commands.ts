// The database commands the official driver and mongosh send, each answered from the engine in
// MongoDB's reply shape. Errors become {ok: 0, errmsg, code, codeName}; write errors of
// insert/update/delete go in writeErrors with ok: 1, as MongoDB does.

import { BSON, ObjectId } from 'bson';
import { DocDbError, DocErrors, fail } from '../core/errors.js';
import { compileProjection } from '../core/projection.js';
import { type Doc, isDoc, numberOf } from '../core/values.js';
import {
  type DocumentDatabase,
  DocumentValidationError,
  type FindOptions,
  type FindResult,
  storedBytes,
  toWriteError,
  type WriteError,
} from '../storage/database.js';
import { explainDoc } from '../storage/explain.js';
import { type RawReply, rawFindReply } from './codec.js';
import { BATCH_BYTES_MAX, type CursorTable, FIRST_BATCH_DEFAULT } from './cursors.js';

export const MAX_WIRE_VERSION = 17; // MongoDB 6.0
export const MAX_WRITE_BATCH = 100_000;
const BSON_OBJECT_BYTES_MAX = 16 * 1024 * 1024;
const SERVER_VERSION = '6.0.0';

export interface CommandContext {
  engine: DocumentDatabase;
  cursors: CursorTable;
  connectionId: number;
  nowMs: () => number;
}

function collectionOf(command: Doc, name: string): string {
  const value = command[name];
  if (typeof value !== 'string' || value === '')
    fail(DocErrors.invalidNamespace, `collection name has invalid type ${typeof value}`);
  return value;
}

function optionalInt(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = numberOf(value);
  if (n === undefined || !Number.isInteger(n)) fail(DocErrors.typeMismatch, `${name} must be an integer`);
  return n;
}

function helloReply(context: CommandContext, legacy: boolean): Doc {
  return {
    ...(legacy ? { ismaster: true } : { isWritablePrimary: true }),
    helloOk: true,
    maxBsonObjectSize: BSON_OBJECT_BYTES_MAX,
    maxMessageSizeBytes: 48_000_000,
    maxWriteBatchSize: MAX_WRITE_BATCH,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: context.connectionId,
    minWireVersion: 0,
    maxWireVersion: MAX_WIRE_VERSION,
    readOnly: false,
    ok: 1,
  };
}

function writeErrorsField(errors: WriteError[]): Doc {
  return errors.length > 0 ? { writeErrors: errors.map((e) => ({ ...e })) } : {};
}

function findOptions(command: Doc): FindOptions {
  const options: FindOptions = {};
  if (command['filter'] !== undefined) {
    if (!isDoc(command['filter'])) fail(DocErrors.typeMismatch, "BSON field 'filter' is the wrong type");
    options.filter = command['filter'];
  }
  if (command['sort'] !== undefined) options.sort = command['sort'];
  if (command['projection'] !== undefined) options.projection = command['projection'];
  if (command['hint'] !== undefined) options.hint = command['hint'];
  const skip = optionalInt(command['skip'], 'skip');
  if (skip !== undefined) options.skip = skip;
  const limit = optionalInt(command['limit'], 'limit');
  if (limit !== undefined) options.limit = Math.abs(limit);
  return options;
}

/**
 * A find of one document by an _id that is a plain scalar (number, string, ObjectId, date), with
 * nothing that would change the answer (projection, skip, hint, min/max, returnKey, a zero batch).
 * A sort is harmless on one document but must still be checked, so it takes the general path.
 */
function isPointRead(command: Doc, options: FindOptions, batchSize: number | undefined): boolean {
  const filter = options.filter;
  if (!filter) return false;
  let keys = 0;
  for (const _ in filter) keys++;
  if (keys !== 1) return false;
  const id = filter['_id'];
  const scalar =
    (typeof id === 'number' && Number.isFinite(id)) ||
    typeof id === 'string' ||
    id instanceof ObjectId ||
    id instanceof Date;
  if (!scalar) return false;
  if (options.sort !== undefined || options.hint !== undefined || (options.skip ?? 0) !== 0) return false;
  if (
    options.projection !== undefined &&
    !(isDoc(options.projection) && Object.keys(options.projection).length === 0)
  )
    return false;
  if (batchSize === 0) return false;
  for (const option of ['min', 'max', 'returnKey', 'showRecordId', 'collation'])
    if (command[option] !== undefined) return false;
  return true;
}

/**
 * A find's whole answer as the bytes its documents were stored as, when it fits in the first
 * batch (so no cursor stays open): `stored` from an exact index scan, or documents unchanged
 * since a scan decoded them (storedBytes); else undefined and the general path encodes objects.
 */
function storedBatch(result: FindResult, batchSize: number): Uint8Array[] | undefined {
  const count = result.stored?.length ?? result.docs.length;
  if (count > batchSize) return undefined;
  let out = result.stored;
  if (!out) {
    out = [];
    for (const doc of result.docs) {
      const stored = storedBytes(doc);
      if (!stored) return undefined;
      out.push(stored);
    }
  }
  let bytes = 0;
  for (const b of out) bytes += b.length;
  return bytes <= BATCH_BYTES_MAX ? out : undefined;
}

type Handler = (
  command: Doc,
  db: string,
  context: CommandContext,
) => Promise<Doc | RawReply> | Doc | RawReply;

const handlers: Record<string, Handler> = {
  hello: (_c, _db, context) => helloReply(context, false),
  ismaster: (_c, _db, context) => helloReply(context, true),
  ping: () => ({ ok: 1 }),
  buildinfo: () => ({
    version: SERVER_VERSION,
    gitVersion: 'ddia-lab',
    versionArray: [6, 0, 0, 0],
    bits: 64,
    maxBsonObjectSize: BSON_OBJECT_BYTES_MAX,
    storageEngines: ['ddia-lsm'],
    ok: 1,
  }),
  getparameter: () => ({ featureCompatibilityVersion: { version: '6.0' }, ok: 1 }),
  getlog: () => ({ totalLinesWritten: 0, log: [], ok: 1 }),
  hostinfo: () => ({ system: {}, os: {}, extra: {}, ok: 1 }),
  getcmdlineopts: () => ({ argv: [], parsed: {}, ok: 1 }),
  connectionstatus: () => ({ authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] }, ok: 1 }),
  endsessions: () => ({ ok: 1 }),
  killsessions: () => ({ ok: 1 }),
  find: async (command, db, context) => {
    const coll = collectionOf(command, 'find');
    const options = findOptions(command);
    const batchSize = optionalInt(command['batchSize'], 'batchSize');
    if (isPointRead(command, options, batchSize)) {
      // A point read by _id: the stored bytes go out as they are (no planner, no BSON
      // decode/encode); the answer is the one the general path gives, byte for byte.
      const bytes = await context.engine.getRawById(db, coll, options.filter!['_id']);
      return rawFindReply(`${db}.${coll}`, bytes ? [bytes] : []);
    }
    const result = await context.engine.find(db, coll, { ...options, stored: true });
    const raw = batchSize === 0 ? undefined : storedBatch(result, batchSize ?? FIRST_BATCH_DEFAULT);
    if (raw) return rawFindReply(`${db}.${coll}`, raw);
    // More than one batch: the cursor keeps documents.
    const docs = result.stored ? result.stored.map((b) => BSON.deserialize(b) as Doc) : result.docs;
    return context.cursors.open(`${db}.${coll}`, docs, batchSize, command['singleBatch'] === true);
  },
  getmore: (command, db, context) => {
    const id = numberOf(command['getMore']);
    if (id === undefined) fail(DocErrors.typeMismatch, "BSON field 'getMore' is the wrong type");
    const coll = collectionOf(command, 'collection');
    return context.cursors.getMore(id, `${db}.${coll}`, optionalInt(command['batchSize'], 'batchSize'));
  },
  killcursors: (command, _db, context) => {
    const ids = command['cursors'];
    if (!Array.isArray(ids)) fail(DocErrors.typeMismatch, "BSON field 'cursors' is the wrong type");
    return context.cursors.kill(ids.map((id) => numberOf(id) ?? 0));
  },
  insert: async (command, db, context) => {
    const coll = collectionOf(command, 'insert');
    const docs = command['documents'];
    if (!Array.isArray(docs) || docs.length === 0) fail(DocErrors.badValue, 'insert needs documents');
    if (docs.length > MAX_WRITE_BATCH)
      fail(DocErrors.invalidOptions, `Write batch sizes must be between 1 and ${MAX_WRITE_BATCH}`);
    const { inserted, errors } = await context.engine.insertMany(
      db,
      coll,
      docs,
      command['ordered'] !== false,
      command['bypassDocumentValidation'] === true,
    );
    return { n: inserted.length, ...writeErrorsField(errors), ok: 1 };
  },
  update: async (command, db, context) => {
    const coll = collectionOf(command, 'update');
    const updates = command['updates'];
    if (!Array.isArray(updates)) fail(DocErrors.badValue, 'update needs updates');
    const ordered = command['ordered'] !== false;
    let n = 0;
    let nModified = 0;
    const upserted: Doc[] = [];
    const errors: WriteError[] = [];
    for (let i = 0; i < updates.length; i++) {
      const spec = updates[i] as Doc;
      try {
        if (!isDoc(spec) || !isDoc(spec['q'])) fail(DocErrors.failedToParse, 'each update needs q and u');
        const outcome = await context.engine.update(db, coll, {
          q: spec['q'],
          u: spec['u'] as Doc,
          upsert: spec['upsert'] === true,
          multi: spec['multi'] === true,
          bypassValidation: command['bypassDocumentValidation'] === true,
        });
        n += outcome.matched;
        nModified += outcome.modified;
        if (outcome.upsertedId !== undefined) {
          n += 1;
          upserted.push({ index: i, _id: outcome.upsertedId });
        }
      } catch (error) {
        errors.push(toWriteError(error, i));
        if (ordered) break;
      }
    }
    return { n, nModified, ...(upserted.length ? { upserted } : {}), ...writeErrorsField(errors), ok: 1 };
  },
  delete: async (command, db, context) => {
    const coll = collectionOf(command, 'delete');
    const deletes = command['deletes'];
    if (!Array.isArray(deletes)) fail(DocErrors.badValue, 'delete needs deletes');
    let n = 0;
    const errors: WriteError[] = [];
    for (let i = 0; i < deletes.length; i++) {
      const spec = deletes[i] as Doc;
      try {
        if (!isDoc(spec) || !isDoc(spec['q'])) fail(DocErrors.failedToParse, 'each delete needs q and limit');
        n += (await context.engine.delete(db, coll, spec['q'], numberOf(spec['limit']) ?? 0)).deleted;
      } catch (error) {
        errors.push(toWriteError(error, i));
        if (command['ordered'] !== false) break;
      }
    }
    return { n, ...writeErrorsField(errors), ok: 1 };
  },
  findandmodify: async (command, db, context) => {
    const coll = collectionOf(command, 'findAndModify');
    const query = (command['query'] ?? {}) as Doc;
    const fields = command['fields'];
    const project = async (doc: Doc | undefined) => {
      if (!doc || !fields || !isDoc(fields) || Object.keys(fields).length === 0) return doc ?? null;
      return compileProjection(fields)!(doc);
    };
    if (command['remove'] === true) {
      const target = (await context.engine.find(db, coll, { filter: query, sort: command['sort'], limit: 1 }))
        .docs[0];
      if (!target) return { lastErrorObject: { n: 0 }, value: null, ok: 1 };
      await context.engine.delete(db, coll, { _id: target['_id'] }, 1);
      return { lastErrorObject: { n: 1 }, value: await project(target), ok: 1 };
    }
    const update = command['update'];
    if (!isDoc(update)) fail(DocErrors.failedToParse, 'findAndModify needs update or remove');
    const target = (await context.engine.find(db, coll, { filter: query, sort: command['sort'], limit: 1 }))
      .docs[0];
    const outcome = await context.engine.update(db, coll, {
      q: target ? { _id: target['_id'] } : query,
      u: update,
      upsert: command['upsert'] === true,
      multi: false,
      bypassValidation: command['bypassDocumentValidation'] === true,
    });
    const value =
      command['new'] === true ? outcome.after : outcome.upsertedId !== undefined ? undefined : outcome.before;
    return {
      lastErrorObject: {
        n: outcome.matched + (outcome.upsertedId !== undefined ? 1 : 0),
        updatedExisting: outcome.matched > 0,
        ...(outcome.upsertedId !== undefined ? { upserted: outcome.upsertedId } : {}),
      },
      value: await project(value),
      ok: 1,
    };
  },
  count: async (command, db, context) => {
    const coll = collectionOf(command, 'count');
    const query = command['query'] ?? {};
    if (!isDoc(query)) fail(DocErrors.typeMismatch, "BSON field 'query' is the wrong type");
    const n = await context.engine.count(
      db,
      coll,
      query,
      optionalInt(command['skip'], 'skip') ?? 0,
      Math.abs(optionalInt(command['limit'], 'limit') ?? 0),
    );
    return { n, ok: 1 };
  },
  distinct: async (command, db, context) => {
    const coll = collectionOf(command, 'distinct');
    const key = command['key'];
    if (typeof key !== 'string') fail(DocErrors.typeMismatch, "BSON field 'key' is the wrong type");
    const query = command['query'] ?? {};
    if (!isDoc(query)) fail(DocErrors.typeMismatch, "BSON field 'query' is the wrong type");
    return { values: await context.engine.distinct(db, coll, key, query), ok: 1 };
  },
  createindexes: async (command, db, context) => {
    const coll = collectionOf(command, 'createIndexes');
    const indexes = command['indexes'];
    if (!Array.isArray(indexes) || indexes.length === 0)
      fail(DocErrors.badValue, 'createIndexes needs indexes');
    const existed = context.engine.collection(db, coll) !== undefined;
    const before = context.engine.indexList(context.engine.collection(db, coll)).length;
    for (const spec of indexes) {
      if (!isDoc(spec)) fail(DocErrors.badValue, 'each index spec must be a document');
      await context.engine.createIndex(db, coll, { ...spec, key: spec['key'] });
    }
    const after = context.engine.indexList(context.engine.collection(db, coll)).length;
    return {
      numIndexesBefore: before,
      numIndexesAfter: after,
      createdCollectionAutomatically: !existed,
      ok: 1,
    };
  },
  listindexes: (command, db, context) => {
    const coll = collectionOf(command, 'listIndexes');
    const meta = context.engine.collection(db, coll);
    if (!meta) fail(DocErrors.namespaceNotFound, `ns does not exist: ${db}.${coll}`);
    return context.cursors.open(`${db}.${coll}`, context.engine.indexList(meta), undefined, false);
  },
  dropindexes: async (command, db, context) => {
    const coll = collectionOf(command, 'dropIndexes');
    return { nIndexesWas: await context.engine.dropIndex(db, coll, command['index']), ok: 1 };
  },
  listcollections: (command, db, context) => {
    const filter = isDoc(command['filter']) ? command['filter'] : {};
    const docs = context.engine
      .collections(db)
      .filter((m) => typeof filter['name'] !== 'string' || filter['name'] === m.name)
      .map((m) => ({
        name: m.name,
        type: 'collection',
        options: context.engine.validationOptions(m),
        info: { readOnly: false },
        idIndex: { v: 2, key: { _id: 1 }, name: '_id_' },
      }));
    return context.cursors.open(`${db}.$cmd.listCollections`, docs, undefined, false);
  },
  listdatabases: (command, _db, context) => {
    const databases = context.engine.databases().map((d) => ({ name: d.name, sizeOnDisk: 0, empty: false }));
    if (command['nameOnly'] === true) return { databases: databases.map((d) => ({ name: d.name })), ok: 1 };
    return { databases, totalSize: 0, totalSizeMb: 0, ok: 1 };
  },
  create: async (command, db, context) => {
    const coll = collectionOf(command, 'create');
    const options = {
      validator: command['validator'],
      validationLevel: command['validationLevel'],
      validationAction: command['validationAction'],
    };
    if (!(await context.engine.createCollection(db, coll, options)))
      throw new DocDbError(
        { ...DocErrors.badValue, mongoCode: 48, codeName: 'NamespaceExists' },
        `Collection ${db}.${coll} already exists.`,
      );
    return { ok: 1 };
  },
  collmod: async (command, db, context) => {
    const coll = collectionOf(command, 'collMod');
    const known = new Set(['collMod', 'validator', 'validationLevel', 'validationAction', 'index']);
    for (const field of Object.keys(command))
      if (!known.has(field) && !field.startsWith('$') && field !== 'lsid')
        fail(DocErrors.invalidOptions, `unknown collMod option: ${field}`);
    const answer = await context.engine.modifyCollection(db, coll, {
      validator: command['validator'],
      validationLevel: command['validationLevel'],
      validationAction: command['validationAction'],
      index: command['index'],
    });
    return { ...answer, ok: 1 };
  },
  drop: async (command, db, context) => {
    const coll = collectionOf(command, 'drop');
    const meta = context.engine.collection(db, coll);
    if (!meta) fail(DocErrors.namespaceNotFound, 'ns not found');
    const nIndexesWas = context.engine.indexList(meta).length;
    await context.engine.dropCollection(db, coll);
    return { ns: `${db}.${coll}`, nIndexesWas, ok: 1 };
  },
  dropdatabase: async (_command, db, context) => {
    await context.engine.dropDatabase(db);
    return { dropped: db, ok: 1 };
  },
  aggregate: async (command, db, context) => {
    const target = command['aggregate'];
    if (target === 1) fail(DocErrors.badValue, 'database-level aggregation is not supported');
    const coll = collectionOf(command, 'aggregate');
    if (!isDoc(command['cursor'])) fail(DocErrors.failedToParse, "The 'cursor' option is required");
    const docs = await context.engine.aggregate(db, coll, command['pipeline']);
    const batchSize = optionalInt(command['cursor']['batchSize'], 'batchSize');
    return context.cursors.open(`${db}.${coll}`, docs, batchSize, false);
  },
  explain: async (command, db, context) => {
    const inner = command['explain'];
    if (!isDoc(inner)) fail(DocErrors.badValue, 'explain needs a command document');
    const verbosity = typeof command['verbosity'] === 'string' ? command['verbosity'] : 'allPlansExecution';
    const name = Object.keys(inner)[0]?.toLowerCase();
    let options: FindOptions;
    let coll: string;
    if (name === 'find') {
      coll = collectionOf(inner, Object.keys(inner)[0]!);
      options = findOptions(inner);
    } else if (name === 'count') {
      coll = collectionOf(inner, Object.keys(inner)[0]!);
      options = { filter: (inner['query'] ?? {}) as Doc };
    } else return fail(DocErrors.badValue, `explain of ${name} is not supported (find and count are)`);
    const result = await context.engine.find(db, coll, options);
    return { ...explainDoc(`${db}.${coll}`, options, result, verbosity), ok: 1 };
  },
};

/** Runs one command document; never throws (errors become MongoDB error replies). */
export async function runCommand(command: Doc, context: CommandContext): Promise<Doc | RawReply> {
  const name = Object.keys(command)[0];
  const db = typeof command['$db'] === 'string' ? command['$db'] : 'admin';
  const handler = name === undefined ? undefined : handlers[name.toLowerCase()];
  if (!handler) {
    return { ok: 0, errmsg: `no such command: '${name ?? ''}'`, code: 59, codeName: 'CommandNotFound' };
  }
  try {
    return await handler(command, db, context);
  } catch (error) {
    if (error instanceof DocDbError) {
      return {
        ok: 0,
        errmsg: error.message,
        code: error.mongoCode,
        codeName: error.codeName,
        ...(error instanceof DocumentValidationError ? { errInfo: error.errInfo } : {}),
        ...(error.mongoCode === 11000
          ? {
              keyPattern: (error as { keyPattern?: Doc }).keyPattern,
              keyValue: (error as { keyValue?: Doc }).keyValue,
            }
          : {}),
      };
    }
    throw error;
  }
}
