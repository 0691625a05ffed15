// The storage engine of the document database: collections and their indexes as key ranges of
// one ordered key-value store (common's openStore; the chapter-3 LSM engine by default).
// A document and all its index entries are written in one atomic batch, synced before the write
// is acknowledged (group commit: see exclusive), so an index
// never disagrees with its collection, even after kill -9. Writes are serialized by one lock
// (uniqueness checks read, then write); reads run concurrently.
import type { Store } from '@ddia/common';
import { BSON, ObjectId } from 'bson';
import { type CountGroup, countGroupOf, GROUPS_MAX, runPipeline } from '../core/aggregate.js';
import { DocDbError, DocErrors, fail } from '../core/errors.js';
import { evaluate } from '../core/expression.js';
import { type IndexSpec, indexKeys, type KeyPattern } from '../core/index-keys.js';
import { compareBytes, concatBytes, encodeValue, HIGH, toHex } from '../core/key-encoding.js';
import { compileFilter, type MatchDetails } from '../core/matcher.js';
import { lookupLeaves } from '../core/path.js';
import {
  boundsAreExact,
  candidatePlans,
  hintedPlan,
  type IndexInfo,
  type KeyRange,
  type Plan,
} from '../core/planner.js';
import { compileProjection } from '../core/projection.js';
import { parseSort, sortDocs } from '../core/sort.js';
import { applyUpdate, upsertSeed, validateUpdate } from '../core/update.js';
import { validationDetails } from '../core/validation-details.js';
import { type Doc, isDoc, isRegExp, nestingDepth, numberOf, valuesEqual } from '../core/values.js';
import {
  CATALOG_RANGE,
  COUNTER_KEY,
  catalogKey,
  docKey,
  docRange,
  indexEntryKey,
  indexPrefix,
  prefixRange,
  SYNC_KEY,
} from './keys.js';

/** MongoDB's document size limit (BSONObjMaxUserSize). */
export const DOCUMENT_BYTES_MAX = 16 * 1024 * 1024;
/** MongoDB's nesting limit for stored documents. */
export const NESTING_DEPTH_MAX = 100;
const ID_INDEX = '_id_';
/** Documents of one insert sharing a synced batch, at most. */
export const INSERT_BATCH_DOCS_MAX = 1_000;
const NAME_MAX_CHARS = 120;
/** Index entries (and their documents) read per storage call by a scan, at most. */
const SCAN_CHUNK_MAX = 256;

/** Local values one $lookup resolves with a single $in query through an index, at most. */
const LOOKUP_IN_MAX = 1_000;

function hasArray(value: unknown): boolean {
  if (Array.isArray(value)) return true;
  return isDoc(value) && Object.values(value).some(hasArray);
}

/** A key range holding one key only: [k, k + HIGH), as the planner makes for an equality. */
function isPointRange(range: KeyRange): boolean {
  const { lo, hi } = range;
  if (hi.length !== lo.length + 1 || hi[lo.length] !== HIGH) return false;
  for (let i = 0; i < lo.length; i++) if (lo[i] !== hi[i]) return false;
  return true;
}

export interface IndexMeta extends IndexInfo {
  id: number;
  /** A TTL index: documents whose indexed date is this many seconds old are deleted. */
  expireAfterSeconds?: number;
}

export const VALIDATION_LEVELS = ['off', 'strict', 'moderate'] as const;
export const VALIDATION_ACTIONS = ['error', 'warn'] as const;
export type ValidationLevel = (typeof VALIDATION_LEVELS)[number];
export type ValidationAction = (typeof VALIDATION_ACTIONS)[number];

export interface CollectionMeta {
  id: number;
  db: string;
  name: string;
  indexes: IndexMeta[];
  /** The validator (a query filter, often {$jsonSchema: ...}) as canonical Extended JSON. */
  validator?: string;
  validationLevel?: ValidationLevel;
  validationAction?: ValidationAction;
}

/** The options of `create` and `collMod` that change how writes are validated. */
export interface ValidationOptions {
  validator?: unknown;
  validationLevel?: unknown;
  validationAction?: unknown;
}

/** MongoDB's largest expireAfterSeconds (a 32-bit signed int). */
const EXPIRE_AFTER_SECONDS_MAX = 2_147_483_647;

export interface FindOptions {
  filter?: Doc;
  sort?: unknown;
  projection?: unknown;
  skip?: number;
  limit?: number;
  hint?: unknown;
  /**
   * The caller takes documents as their stored BSON: when every document the plan reads is
   * known to match (boundsAreExact) and nothing reshapes or reorders them, the result holds
   * `stored` (bytes, never decoded) instead of `docs`.
   */
  stored?: boolean;
}

export interface ExecStats {
  nReturned: number;
  keysExamined: number;
  docsExamined: number;
  executionTimeMillis: number;
}

export interface FindResult {
  docs: Doc[];
  /** The answer as stored BSON, when FindOptions.stored was asked for and could be given. */
  stored?: Uint8Array[];
  plan: Plan;
  rejected: Plan[];
  stats: ExecStats;
}

export interface WriteError {
  index: number;
  code: number;
  errmsg: string;
  keyPattern?: Doc;
  keyValue?: Doc;
  /** A DocumentValidationFailure's failingDocumentId and details. */
  errInfo?: Doc;
}

export interface UpdateSpec {
  q: Doc;
  u: Doc;
  upsert?: boolean;
  multi?: boolean;
  /** MongoDB's bypassDocumentValidation: skip the collection's validator for this write. */
  bypassValidation?: boolean;
}

export interface UpdateOutcome {
  matched: number;
  modified: number;
  upsertedId?: unknown;
}

type Op = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

/** A clock for executionTimeMillis, injected so tests can pin it. */
export type MonotonicMs = () => number;

export class DocumentDatabase {
  private readonly catalog = new Map<string, CollectionMeta>();
  /** Compiled validators by their Extended JSON text. */
  private readonly validators = new Map<string, (doc: Doc) => boolean>();
  /** Told about a document accepted despite its validator (validationAction 'warn'). */
  onValidationWarning: (ns: string, id: unknown) => void = () => {};
  private nextId = 1;
  /** What $graphLookup's frontier queries read, summed (tests check that an index was used). */
  readonly graphLookupReads = { queries: 0, indexed: 0, keysExamined: 0, docsExamined: 0 };
  /** $group stages answered from an index's keys alone (tests check the covered path ran). */
  readonly coveredGroups = { runs: 0, keysExamined: 0, docsExamined: 0 };
  private writing: Promise<unknown> = Promise.resolve();
  /** Batches committed so far (a write that committed any must sync before it answers). */
  private commits = 0;
  /** The latest durability marker in flight (close waits for it). */
  private lastSync: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly store: Store,
    private readonly nowMs: MonotonicMs,
  ) {}

  static async open(store: Store, nowMs: MonotonicMs): Promise<DocumentDatabase> {
    const db = new DocumentDatabase(store, nowMs);
    const counter = await store.get(COUNTER_KEY);
    if (counter) db.nextId = Number(new TextDecoder().decode(counter));
    for await (const [, value] of store.iterator(CATALOG_RANGE)) {
      const meta = JSON.parse(new TextDecoder().decode(value as Uint8Array)) as CollectionMeta;
      db.catalog.set(`${meta.db}.${meta.name}`, meta);
    }
    return db;
  }

  async close(): Promise<void> {
    await this.writing.catch(() => undefined);
    await this.lastSync;
  }

  /**
   * Runs write work one at a time (a uniqueness check and its write must not interleave), then,
   * outside the lock, makes what it committed durable before answering. The batches go to the
   * WAL and the memtable unsynced (the next writer reads them at once); one synced marker write
   * per write follows, and markers queued together share one fdatasync in the LSM engine's
   * write loop: group commit, as PostgreSQL's WAL flush does with synchronous_commit = on. A
   * write is acknowledged (or its error reported) only after that fsync.
   */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    let committed = false;
    const tracked = async () => {
      const before = this.commits;
      try {
        return await work();
      } finally {
        committed = this.commits !== before;
      }
    };
    const run = this.writing.then(tracked, tracked);
    this.writing = run.catch(() => undefined);
    const durable = async () => {
      if (!committed) return;
      const sync = this.store.batch(
        [{ type: 'put', key: SYNC_KEY, value: new Uint8Array(0) }] as never,
        { sync: true } as never,
      );
      this.lastSync = sync.catch(() => undefined);
      await sync;
    };
    return run.then(
      async (result) => {
        await durable();
        return result;
      },
      async (error) => {
        await durable();
        throw error;
      },
    );
  }

  /** An atomic batch, in the WAL and visible once this resolves; durable at the next sync (exclusive). */
  private async commit(ops: Op[]): Promise<void> {
    if (ops.length === 0) return;
    await this.store.batch(ops as never, { sync: false } as never);
    this.commits++;
  }

  // ---- catalog -------------------------------------------------------------------------

  static checkNames(db: string, name?: string): void {
    if (!/^[^/\\. "$*<>:|?\0]{1,64}$/.test(db))
      fail(DocErrors.invalidNamespace, `Invalid database name: '${db}'`);
    if (name === undefined) return;
    if (
      name.length === 0 ||
      name.length > NAME_MAX_CHARS ||
      name.includes('$') ||
      name.includes('\0') ||
      name.startsWith('system.')
    )
      fail(DocErrors.invalidNamespace, `Invalid collection name: '${name}'`);
  }

  collection(db: string, name: string): CollectionMeta | undefined {
    return this.catalog.get(`${db}.${name}`);
  }

  databases(): { name: string; collections: number }[] {
    const counts = new Map<string, number>();
    for (const meta of this.catalog.values()) counts.set(meta.db, (counts.get(meta.db) ?? 0) + 1);
    return [...counts]
      .map(([name, collections]) => ({ name, collections }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  collections(db: string): CollectionMeta[] {
    return [...this.catalog.values()].filter((m) => m.db === db).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  private allocateId(ops: Op[]): number {
    const id = this.nextId++;
    ops.push({ type: 'put', key: COUNTER_KEY, value: new TextEncoder().encode(String(this.nextId)) });
    return id;
  }

  private catalogOp(meta: CollectionMeta): Op {
    return {
      type: 'put',
      key: catalogKey(`${meta.db}.${meta.name}`),
      value: new TextEncoder().encode(JSON.stringify(meta)),
    };
  }

  /** The collection, created (with its catalog entry in `ops`) when missing. */
  private ensureCollection(db: string, name: string, ops: Op[]): CollectionMeta {
    DocumentDatabase.checkNames(db, name);
    const existing = this.collection(db, name);
    if (existing) return existing;
    const meta: CollectionMeta = { id: this.allocateId(ops), db, name, indexes: [] };
    ops.push(this.catalogOp(meta));
    return meta;
  }

  async createCollection(db: string, name: string, options: ValidationOptions = {}): Promise<boolean> {
    const validation = this.parseValidation(options);
    return this.exclusive(async () => {
      if (this.collection(db, name)) return false;
      const ops: Op[] = [];
      const meta = { ...this.ensureCollection(db, name, ops), ...validation };
      ops.push(this.catalogOp(meta));
      await this.commit(ops);
      this.catalog.set(`${db}.${name}`, meta);
      return true;
    });
  }

  async dropCollection(db: string, name: string): Promise<boolean> {
    return this.exclusive(async () => {
      const meta = this.collection(db, name);
      if (!meta) return false;
      // The catalog entry goes first (atomic); the key ranges after it are unreachable garbage
      // if a crash interrupts their removal, since ids are never reused.
      await this.commit([{ type: 'del', key: catalogKey(`${db}.${name}`) }]);
      this.catalog.delete(`${db}.${name}`);
      await this.store.clear(docRange(meta.id));
      for (const index of meta.indexes) await this.store.clear(prefixRange(indexPrefix(meta.id, index.id)));
      return true;
    });
  }

  async dropDatabase(db: string): Promise<void> {
    for (const meta of this.collections(db)) await this.dropCollection(db, meta.name);
  }

  // ---- schema-on-write: validators ---------------------------------------------------------

  /** Checks `create`/`collMod` validation options; the fields to store in the catalog. */
  private parseValidation(options: ValidationOptions): Partial<CollectionMeta> {
    const out: Partial<CollectionMeta> = {};
    if (options.validator !== undefined) {
      if (!isDoc(options.validator)) fail(DocErrors.typeMismatch, "'validator' must be a document");
      compileFilter(options.validator); // refuses a bad validator now, not at the first insert
      out.validator =
        Object.keys(options.validator).length === 0
          ? undefined
          : BSON.EJSON.stringify(options.validator, { relaxed: false });
    }
    if (options.validationLevel !== undefined) {
      if (!(VALIDATION_LEVELS as readonly unknown[]).includes(options.validationLevel))
        fail(DocErrors.badValue, `validationLevel must be one of ${VALIDATION_LEVELS.join(', ')}`);
      out.validationLevel = options.validationLevel as ValidationLevel;
    }
    if (options.validationAction !== undefined) {
      if (!(VALIDATION_ACTIONS as readonly unknown[]).includes(options.validationAction))
        fail(DocErrors.badValue, `validationAction must be one of ${VALIDATION_ACTIONS.join(', ')}`);
      out.validationAction = options.validationAction as ValidationAction;
    }
    return out;
  }

  /** The collection's validation options as `listCollections` shows them. */
  validationOptions(meta: CollectionMeta): Doc {
    if (meta.validator === undefined) return {};
    return {
      validator: BSON.EJSON.parse(meta.validator, { relaxed: false }) as Doc,
      validationLevel: meta.validationLevel ?? 'strict',
      validationAction: meta.validationAction ?? 'error',
    };
  }

  /**
   * Schema-on-write: a document going from `before` (undefined for an insert) to `after` must
   * satisfy the collection's validator. Level 'moderate' leaves alone updates of documents that
   * did not satisfy it already (data from before the validator); action 'warn' accepts and reports.
   */
  private validate(meta: CollectionMeta, before: Doc | undefined, after: Doc): void {
    if (meta.validator === undefined || meta.validationLevel === 'off') return;
    let check = this.validators.get(meta.validator);
    if (!check) {
      check = compileFilter(BSON.EJSON.parse(meta.validator, { relaxed: false }));
      this.validators.set(meta.validator, check);
    }
    if (check(after)) return;
    if (meta.validationLevel === 'moderate' && before !== undefined && !check(before)) return;
    if (meta.validationAction === 'warn') {
      this.onValidationWarning(`${meta.db}.${meta.name}`, after['_id']);
      return;
    }
    throw new DocumentValidationError({
      failingDocumentId: after['_id'],
      details: validationDetails(BSON.EJSON.parse(meta.validator, { relaxed: false }) as Doc, after),
    });
  }

  /**
   * `collMod`: changes a collection's validation options, or a TTL index's expireAfterSeconds.
   * Returns what MongoDB's collMod answers besides ok.
   */
  async modifyCollection(
    db: string,
    coll: string,
    options: ValidationOptions & { index?: unknown },
  ): Promise<Doc> {
    const validation = this.parseValidation(options);
    return this.exclusive(async () => {
      const existing = this.collection(db, coll);
      if (!existing) fail(DocErrors.namespaceNotFound, `ns does not exist: ${db}.${coll}`);
      const meta: CollectionMeta = { ...structuredClone(existing), ...validation };
      if ('validator' in validation && validation.validator === undefined) delete meta.validator;
      const answer: Doc = {};
      if (options.index !== undefined) {
        const spec = options.index;
        if (!isDoc(spec)) fail(DocErrors.typeMismatch, "'index' must be a document");
        const index = meta.indexes.find((i) =>
          typeof spec['name'] === 'string'
            ? i.name === spec['name']
            : JSON.stringify(Object.fromEntries(i.key)) === JSON.stringify(spec['keyPattern']),
        );
        if (!index) fail(DocErrors.noSuchIndex, 'cannot find index for collMod');
        if (spec['expireAfterSeconds'] !== undefined) {
          if (index.expireAfterSeconds === undefined)
            fail(DocErrors.invalidOptions, 'no expireAfterSeconds field to update');
          answer['expireAfterSeconds_old'] = index.expireAfterSeconds;
          index.expireAfterSeconds = checkExpireAfterSeconds(spec['expireAfterSeconds']);
          answer['expireAfterSeconds_new'] = index.expireAfterSeconds;
        }
      }
      await this.commit([this.catalogOp(meta)]);
      this.catalog.set(`${db}.${coll}`, meta);
      return answer;
    });
  }

  // ---- TTL ------------------------------------------------------------------------------------

  /**
   * The TTL monitor's pass: in every collection with a TTL index, deletes the documents whose
   * indexed field holds a date (or an array holding one) at least expireAfterSeconds before
   * `nowMs` (wall-clock milliseconds). Documents without a date there never expire. The delete
   * goes through the planner, so it walks the TTL index from the oldest date. Returns how many
   * documents went.
   */
  async expireDocuments(nowMs: number): Promise<number> {
    let deleted = 0;
    for (const meta of [...this.catalog.values()]) {
      for (const index of meta.indexes) {
        if (index.expireAfterSeconds === undefined) continue;
        const cutoff = new Date(nowMs - index.expireAfterSeconds * 1000);
        const filter = { [index.key[0]![0]]: { $lte: cutoff } };
        deleted += (await this.delete(meta.db, meta.name, filter, 0)).deleted;
      }
    }
    return deleted;
  }

  indexList(meta: CollectionMeta | undefined): Doc[] {
    const out: Doc[] = [{ v: 2, key: { _id: 1 }, name: ID_INDEX }];
    for (const index of meta?.indexes ?? []) {
      out.push({
        v: 2,
        key: Object.fromEntries(index.key),
        name: index.name,
        ...(index.unique ? { unique: true } : {}),
        ...(index.sparse ? { sparse: true } : {}),
        ...(index.expireAfterSeconds !== undefined ? { expireAfterSeconds: index.expireAfterSeconds } : {}),
      });
    }
    return out;
  }

  /** Creates an index (building it from the documents present); false if it already existed. */
  async createIndex(
    db: string,
    coll: string,
    spec: { key: unknown; name?: unknown; unique?: unknown; sparse?: unknown; expireAfterSeconds?: unknown },
  ): Promise<boolean> {
    const key = parseKeyPattern(spec.key);
    const expireAfterSeconds =
      spec.expireAfterSeconds === undefined ? undefined : checkExpireAfterSeconds(spec.expireAfterSeconds);
    if (expireAfterSeconds !== undefined && key.length !== 1)
      fail(
        DocErrors.cannotCreateIndex,
        'TTL indexes are single-field indexes, compound indexes do not support TTL',
      );
    if (expireAfterSeconds !== undefined && key[0]![0] === '_id')
      fail(DocErrors.invalidOptions, "The field 'expireAfterSeconds' is not valid for an _id index");
    const name = spec.name === undefined ? key.map(([p, d]) => `${p}_${d}`).join('_') : spec.name;
    if (typeof name !== 'string' || name === '')
      fail(DocErrors.badValue, 'index name must be a non-empty string');
    const unique = spec.unique === true;
    const sparse = spec.sparse === true;
    if (key.length === 1 && key[0]![0] === '_id') return false;
    return this.exclusive(async () => {
      const ops: Op[] = [];
      const meta = structuredClone(this.ensureCollection(db, coll, ops));
      const sameKey = meta.indexes.find((i) => JSON.stringify(i.key) === JSON.stringify(key));
      const sameName = meta.indexes.find((i) => i.name === name);
      if (
        sameKey &&
        sameKey.name === name &&
        sameKey.unique === unique &&
        sameKey.sparse === sparse &&
        sameKey.expireAfterSeconds === expireAfterSeconds
      )
        return false;
      if (sameKey || sameName)
        fail(
          DocErrors.indexOptionsConflict,
          `An index with the ${sameName ? `name ${name}` : 'same key pattern'} already exists with different options`,
        );
      const index: IndexMeta = {
        id: this.allocateId(ops),
        name,
        key,
        unique,
        sparse,
        multikey: false,
        ...(expireAfterSeconds !== undefined ? { expireAfterSeconds } : {}),
      };
      // Build: one entry per key of every document, checking uniqueness in memory.
      const prefix = indexPrefix(meta.id, index.id);
      const seen = new Map<string, unknown>();
      for await (const [, value] of this.store.iterator(docRange(meta.id))) {
        const doc = BSON.deserialize(value as Uint8Array) as Doc;
        const { keys, multikey } = indexKeys(doc, index);
        if (multikey) index.multikey = true;
        for (const fieldKey of keys) {
          if (unique) {
            const hex = toHex(fieldKey);
            if (seen.has(hex) && !valuesEqual(seen.get(hex), doc['_id']))
              throw duplicateError(meta, index, doc, 0);
            seen.set(hex, doc['_id']);
          }
          ops.push({
            type: 'put',
            key: indexEntryKey(prefix, fieldKey, doc['_id']),
            value: encodeValue(doc['_id']),
          });
        }
      }
      meta.indexes.push(index);
      ops.push(this.catalogOp(meta));
      await this.commit(ops);
      this.catalog.set(`${db}.${coll}`, meta);
      return true;
    });
  }

  async dropIndex(db: string, coll: string, which: unknown): Promise<number> {
    return this.exclusive(async () => {
      const meta = this.collection(db, coll);
      if (!meta) fail(DocErrors.namespaceNotFound, `ns not found ${db}.${coll}`);
      let dropping: IndexMeta[];
      if (which === '*') dropping = meta.indexes;
      else {
        const found = meta.indexes.find((i) =>
          typeof which === 'string'
            ? i.name === which
            : JSON.stringify(Object.fromEntries(i.key)) === JSON.stringify(which),
        );
        if (!found) {
          if (which === ID_INDEX) fail(DocErrors.invalidOptions, 'cannot drop _id index');
          fail(
            DocErrors.noSuchIndex,
            `index not found with name [${typeof which === 'string' ? which : JSON.stringify(which)}]`,
          );
        }
        dropping = [found];
      }
      const next = { ...meta, indexes: meta.indexes.filter((i) => !dropping.includes(i)) };
      await this.commit([this.catalogOp(next)]);
      this.catalog.set(`${db}.${coll}`, next);
      for (const index of dropping) await this.store.clear(prefixRange(indexPrefix(meta.id, index.id)));
      return meta.indexes.length + 1;
    });
  }

  // ---- writes ---------------------------------------------------------------------------

  /**
   * One document's stored BSON by _id, not decoded (the wire protocol sends it as it is);
   * undefined when absent.
   */
  async getRawById(db: string, coll: string, id: unknown): Promise<Uint8Array | undefined> {
    const meta = this.collection(db, coll);
    if (!meta) return undefined;
    return ((await this.store.get(docKey(meta.id, id))) as Uint8Array | undefined) ?? undefined;
  }

  /** One document by _id, straight from its key. */
  async getById(db: string, coll: string, id: unknown): Promise<Doc | undefined> {
    const meta = this.collection(db, coll);
    if (!meta) return undefined;
    const bytes = await this.store.get(docKey(meta.id, id));
    return bytes ? (BSON.deserialize(bytes as Uint8Array) as Doc) : undefined;
  }

  /** Index entries to remove and add, uniqueness checked, for a document going from `before` to `after`. */
  private async indexOps(
    meta: CollectionMeta,
    before: Doc | undefined,
    after: Doc | undefined,
    ops: Op[],
    at: number,
    /** Unique keys added earlier in the same batch, not yet in the store. */
    pending?: Map<string, unknown>,
  ): Promise<boolean> {
    // Recorded as pending only once every check of this document passed.
    const added: string[] = [];
    let catalogChanged = false;
    /** The new version's encoded _id: the tail of each entry's key and its value (encoded once). */
    let afterId: Uint8Array | undefined;
    for (const index of meta.indexes) {
      const prefix = indexPrefix(meta.id, index.id);
      const old = before ? indexKeys(before, index).keys : [];
      const fresh = after ? indexKeys(after, index) : { keys: [], multikey: false };
      if (fresh.multikey && !index.multikey) {
        index.multikey = true;
        catalogChanged = true;
      }
      // Keys both versions have stay; an insert (no before) has none to compare.
      const oldHex = old.length === 0 ? undefined : new Set(old.map(toHex));
      const newHex = old.length === 0 ? undefined : new Set(fresh.keys.map(toHex));
      for (const k of old)
        if (!newHex!.has(toHex(k))) ops.push({ type: 'del', key: indexEntryKey(prefix, k, before!['_id']) });
      for (const k of fresh.keys) {
        if (oldHex?.has(toHex(k))) continue;
        if (index.unique) {
          // Any entry under the same key with another _id is a duplicate, in the store or in this batch.
          const pendingKey = `${index.id}:${toHex(k)}`;
          const earlier = pending?.get(pendingKey);
          if (earlier !== undefined && !valuesEqual(earlier, after!['_id']))
            throw duplicateError(meta, index, after!, at);
          added.push(pendingKey);
          afterId ??= encodeValue(after!['_id']);
          const mine = afterId;
          for await (const [, idBytes] of this.store.iterator({
            ...prefixRange(concatBytes(prefix, k)),
            limit: 2,
          })) {
            if (compareBytes(idBytes as Uint8Array, mine) !== 0)
              throw duplicateError(meta, index, after!, at);
          }
        }
        afterId ??= encodeValue(after!['_id']);
        ops.push({ type: 'put', key: concatBytes(prefix, k, afterId), value: afterId });
      }
    }
    for (const key of added) pending?.set(key, after!['_id']);
    return catalogChanged;
  }

  /**
   * Inserts documents in order; stops at the first error when `ordered` (MongoDB's default).
   * Up to INSERT_BATCH_DOCS_MAX documents share one synced batch (one fsync for them all);
   * each document's ops join the batch only once its checks passed, so a refused document
   * leaves nothing behind, and the answer is sent after the batch is durable.
   */
  async insertMany(
    db: string,
    coll: string,
    docs: unknown[],
    ordered = true,
    /** MongoDB's bypassDocumentValidation: skip the collection's validator for these documents. */
    bypassValidation = false,
  ): Promise<{ inserted: unknown[]; errors: WriteError[] }> {
    return this.exclusive(async () => {
      const inserted: unknown[] = [];
      const errors: WriteError[] = [];
      const catalogOps: Op[] = [];
      const meta = structuredClone(this.ensureCollection(db, coll, catalogOps));
      let catalogDirty = catalogOps.length > 0;
      // One synced batch per chunk of documents. Each document is encoded once (the same bytes
      // are size-checked and stored), and the chunk's _ids are looked up with one getMany.
      for (let start = 0; start < docs.length; start += INSERT_BATCH_DOCS_MAX) {
        const chunk = docs.slice(start, start + INSERT_BATCH_DOCS_MAX);
        const ready = chunk.map((input) => {
          try {
            return prepareEncoded(input);
          } catch (error) {
            return error as Error;
          }
        });
        const keys = ready.map((r) => (r instanceof Error ? undefined : docKey(meta.id, r.doc['_id'])));
        const stored = (await this.store.getMany(keys.filter((k) => k !== undefined))) as (
          | Uint8Array
          | undefined
        )[];
        const batch: Op[] = [];
        const batchIds: unknown[] = [];
        const pendingIds = new Set<string>();
        const pendingUnique = new Map<string, unknown>();
        let found = 0;
        let stop = false;
        for (let j = 0; j < chunk.length; j++) {
          const i = start + j;
          const r = ready[j]!;
          const exists = r instanceof Error ? undefined : stored[found++];
          const ops: Op[] = [];
          try {
            if (r instanceof Error) throw r;
            const { doc, bytes } = r;
            if (!bypassValidation) this.validate(meta, undefined, doc);
            const idHex = toHex(keys[j]!);
            if (pendingIds.has(idHex) || exists) throw duplicateIdError(meta, doc, i);
            if (await this.indexOps(meta, undefined, doc, ops, i, pendingUnique)) catalogDirty = true;
            ops.push({ type: 'put', key: keys[j]!, value: bytes });
            for (const op of ops) batch.push(op);
            batchIds.push(doc['_id']);
            pendingIds.add(idHex);
          } catch (error) {
            errors.push(toWriteError(error, i));
            if (ordered) {
              stop = true;
              break;
            }
          }
        }
        if (batch.length > 0 || catalogDirty) {
          if (catalogDirty) batch.push(...catalogOps.splice(0), this.catalogOp(meta));
          await this.commit(batch);
          if (catalogDirty) this.catalog.set(`${db}.${coll}`, structuredClone(meta));
          catalogDirty = false;
          for (const id of batchIds) inserted.push(id);
        }
        if (stop) break;
      }
      if (catalogDirty) {
        await this.commit([...catalogOps.splice(0), this.catalogOp(meta)]);
        this.catalog.set(`${db}.${coll}`, structuredClone(meta));
      }
      return { inserted, errors };
    });
  }

  /** Replaces a document's stored form and index entries in one batch. */
  private async writeDoc(meta: CollectionMeta, before: Doc | undefined, after: Doc): Promise<void> {
    const ops: Op[] = [];
    const dirty = await this.indexOps(meta, before, after, ops, 0);
    ops.push({ type: 'put', key: docKey(meta.id, after['_id']), value: serialize(after) });
    if (dirty) ops.push(this.catalogOp(meta));
    await this.commit(ops);
    if (dirty) this.catalog.set(`${meta.db}.${meta.name}`, structuredClone(meta));
  }

  async update(
    db: string,
    coll: string,
    spec: UpdateSpec,
    newId: () => unknown = () => new ObjectId(),
  ): Promise<UpdateOutcome & { before?: Doc; after?: Doc }> {
    validateUpdate(spec.u);
    const matcher = compileFilter(spec.q ?? {});
    return this.exclusive(async () => {
      const catalogOps: Op[] = [];
      const existing = this.collection(db, coll);
      let matched = 0;
      let modified = 0;
      let before: Doc | undefined;
      let after: Doc | undefined;
      if (existing) {
        const meta = structuredClone(existing);
        const found = await this.execute(meta, { filter: spec.q ?? {} }, spec.multi ? undefined : 1);
        for (const doc of found.docs) {
          const details: MatchDetails = {};
          matcher(doc, details);
          const result = applyUpdate(doc, spec.u, { position: details.position });
          matched++;
          before ??= doc;
          after ??= result.doc;
          if (!result.modified) continue;
          checkStorable(result.doc);
          if (!spec.bypassValidation) this.validate(meta, doc, result.doc);
          await this.writeDoc(meta, doc, result.doc);
          modified++;
        }
      }
      if (matched > 0 || !spec.upsert) return { matched, modified, ...(before ? { before, after } : {}) };
      const meta = structuredClone(this.ensureCollection(db, coll, catalogOps));
      if (catalogOps.length > 0) {
        await this.commit(catalogOps);
        this.catalog.set(`${db}.${coll}`, meta);
      }
      const seed = upsertSeed(spec.q ?? {});
      const isReplacement = !Object.keys(spec.u)[0]?.startsWith('$');
      let doc = isReplacement
        ? applyUpdate({}, spec.u).doc
        : applyUpdate(seed, spec.u, { inserting: true }).doc;
      if (doc['_id'] === undefined) doc = { _id: seed['_id'] ?? spec.u['_id'] ?? newId(), ...doc };
      doc = prepareForInsert(doc);
      if (!spec.bypassValidation) this.validate(meta, undefined, doc);
      if (await this.store.get(docKey(meta.id, doc['_id']))) throw duplicateIdError(meta, doc, 0);
      await this.writeDoc(meta, undefined, doc);
      return { matched: 0, modified: 0, upsertedId: doc['_id'], after: doc };
    });
  }

  async delete(
    db: string,
    coll: string,
    filter: Doc,
    limit: number,
  ): Promise<{ deleted: number; docs: Doc[] }> {
    return this.exclusive(async () => {
      const existing = this.collection(db, coll);
      if (!existing) return { deleted: 0, docs: [] };
      const meta = structuredClone(existing);
      const found = await this.execute(meta, { filter }, limit > 0 ? limit : undefined);
      for (const doc of found.docs) {
        const ops: Op[] = [];
        await this.indexOps(meta, doc, undefined, ops, 0);
        ops.push({ type: 'del', key: docKey(meta.id, doc['_id']) });
        await this.commit(ops);
      }
      return { deleted: found.docs.length, docs: found.docs };
    });
  }

  // ---- reads ----------------------------------------------------------------------------

  async find(db: string, coll: string, options: FindOptions): Promise<FindResult> {
    const meta = this.collection(db, coll);
    if (!meta) {
      compileFilter(options.filter ?? {});
      parseSort(options.sort);
      compileProjection(options.projection);
      const plan: Plan = { kind: 'COLLSCAN', providesSort: false, score: 0 };
      return {
        docs: [],
        plan,
        rejected: [],
        stats: { nReturned: 0, keysExamined: 0, docsExamined: 0, executionTimeMillis: 0 },
      };
    }
    return this.execute(meta, options, undefined);
  }

  private async execute(
    meta: CollectionMeta,
    options: FindOptions,
    limitOverride: number | undefined,
  ): Promise<FindResult> {
    const started = this.nowMs();
    const filter = options.filter ?? {};
    if (!isDoc(filter)) fail(DocErrors.badValue, 'filter must be a document');
    const matcher = compileFilter(filter);
    const sort = parseSort(options.sort);
    const projector = compileProjection(options.projection);
    const skip = options.skip ?? 0;
    const limit = limitOverride ?? options.limit ?? 0;
    if (!Number.isInteger(skip) || skip < 0) fail(DocErrors.badValue, 'skip must be a non-negative integer');
    if (!Number.isInteger(limit) || limit < 0)
      fail(DocErrors.badValue, 'limit must be a non-negative integer');
    const indexes = this.indexInfos(meta);
    const plans = candidatePlans(filter, sort, indexes);
    const hinted = hintedPlan(plans, indexes, options.hint, sort);
    if (options.hint !== undefined && !hinted)
      fail(DocErrors.badValue, 'hint provided does not correspond to an existing index');
    const plan = hinted ?? plans[0]!;
    const rejected = plans.filter((p) => p !== plan);
    const stats: ExecStats = { nReturned: 0, keysExamined: 0, docsExamined: 0, executionTimeMillis: 0 };
    // With the order already right (no sort, or the index provides it), stop at skip + limit.
    const stopAfter =
      limit > 0 && (sort.length === 0 || plan.providesSort) ? skip + limit : Number.POSITIVE_INFINITY;
    if (
      options.stored === true &&
      projector === undefined &&
      (sort.length === 0 || plan.providesSort) &&
      boundsAreExact(filter, plan)
    ) {
      // Every document read matches: no decode, no matcher; the bytes go out as stored.
      const stored: Uint8Array[] = [];
      for await (const bytes of this.scan(meta, plan, stats, () => stopAfter - stored.length)) {
        stored.push(bytes);
        if (stored.length >= stopAfter) break;
      }
      const answer = stored.slice(skip, limit > 0 ? skip + limit : undefined);
      stats.nReturned = answer.length;
      stats.executionTimeMillis = Math.round(this.nowMs() - started);
      return { docs: [], stored: answer, plan, rejected, stats };
    }
    let matched: Doc[] = [];
    const want = () => stopAfter - matched.length;
    for await (const bytes of this.scan(meta, plan, stats, want)) {
      const doc = decodeKeepingBytes(bytes);
      if (!matcher(doc)) continue;
      matched.push(doc);
      if (matched.length >= stopAfter) break;
    }
    if (sort.length > 0 && !plan.providesSort) matched = sortDocs(matched, sort);
    matched = matched.slice(skip, limit > 0 ? skip + limit : undefined);
    const docs = projector ? matched.map(projector) : matched;
    stats.nReturned = docs.length;
    stats.executionTimeMillis = Math.round(this.nowMs() - started);
    return { docs, plan, rejected, stats };
  }

  private indexInfos(meta: CollectionMeta): IndexInfo[] {
    return [
      { name: ID_INDEX, key: [['_id', 1]], unique: true, sparse: false, multikey: false },
      ...meta.indexes,
    ];
  }

  /**
   * The documents a plan reads, in its order, as stored BSON. Storage is read in chunks, not a round trip per
   * entry: index entries with iterator.nextv, their documents with one getMany per chunk, and a
   * point on the _id index (equality, $in) as plain gets, no iterator. `want` says how many more
   * documents the caller needs (a limit), so a chunk never reads much past it.
   */
  private async *scan(
    meta: CollectionMeta,
    plan: Plan,
    stats: ExecStats,
    want: () => number,
  ): AsyncGenerator<Uint8Array> {
    const chunk = () => Math.max(1, Math.min(SCAN_CHUNK_MAX, want()));
    const docPrefix = docRange(meta.id).gte;
    if (plan.kind === 'COLLSCAN') {
      const values = this.store.values(docRange(meta.id));
      try {
        for (;;) {
          const batch = (await values.nextv(chunk())) as Uint8Array[];
          if (batch.length === 0) return;
          for (const value of batch) {
            stats.docsExamined++;
            yield value;
          }
        }
      } finally {
        await values.close();
      }
    }
    if (plan.kind !== 'IXSCAN') return;
    const isId = plan.index.name === ID_INDEX;
    const prefix = isId ? docPrefix : indexPrefix(meta.id, (plan.index as IndexMeta).id);
    const ranges = plan.direction === 1 ? plan.ranges : [...plan.ranges].reverse();
    if (isId && ranges.every(isPointRange)) {
      // _id values have one encoding each (equal values encode equally), so a point is one key.
      for (let i = 0; i < ranges.length; i += SCAN_CHUNK_MAX) {
        const keys = ranges.slice(i, i + SCAN_CHUNK_MAX).map((r) => concatBytes(prefix, r.lo));
        const found = (await this.store.getMany(keys)) as (Uint8Array | undefined)[];
        for (const bytes of found) {
          if (!bytes) continue;
          stats.keysExamined++;
          stats.docsExamined++;
          yield bytes;
        }
      }
      return;
    }
    const seen = new Set<string>();
    for (const range of ranges) {
      const values = this.store.values({
        gte: concatBytes(prefix, range.lo),
        lt: concatBytes(prefix, range.hi),
        reverse: plan.direction === -1,
      });
      try {
        for (;;) {
          const batch = (await values.nextv(chunk())) as Uint8Array[];
          if (batch.length === 0) break;
          stats.keysExamined += batch.length;
          if (isId) {
            for (const value of batch) {
              stats.docsExamined++;
              yield value;
            }
            continue;
          }
          const keys: Uint8Array[] = [];
          for (const id of batch) {
            if (plan.index.multikey) {
              const idHex = toHex(id);
              if (seen.has(idHex)) continue;
              seen.add(idHex);
            }
            keys.push(concatBytes(docPrefix, id));
          }
          const found = (await this.store.getMany(keys)) as (Uint8Array | undefined)[];
          for (const bytes of found) {
            if (!bytes) continue;
            stats.docsExamined++;
            yield bytes;
          }
        }
      } finally {
        await values.close();
      }
    }
  }

  /**
   * Runs an aggregation pipeline. Its leading $match, $sort, $skip and $limit (in that order,
   * each optional) go through the planner as one find, as MongoDB's pipeline optimizer pushes
   * them down: an index may answer the filter and the order, and a limit stops the scan early
   * instead of sorting every match in memory. The rest runs over the found documents.
   */
  async aggregate(db: string, coll: string, pipeline: unknown): Promise<Doc[]> {
    if (!Array.isArray(pipeline))
      fail(DocErrors.typeMismatch, "'pipeline' option must be specified as an array");
    const query: FindOptions = { filter: {} };
    let pushed = 0;
    const stage = (name: string): unknown => {
      const s = pipeline[pushed];
      return isDoc(s) && Object.keys(s).length === 1 && name in s ? s[name] : undefined;
    };
    if (isDoc(stage('$match'))) {
      query.filter = stage('$match') as Doc;
      pushed++;
    }
    if (isDoc(stage('$sort'))) {
      query.sort = stage('$sort');
      pushed++;
    }
    const skip = numberOf(stage('$skip'));
    if (skip !== undefined && Number.isInteger(skip) && skip >= 0) {
      query.skip = skip;
      pushed++;
    }
    const limit = numberOf(stage('$limit'));
    if (limit !== undefined && Number.isInteger(limit) && limit > 0) {
      query.limit = limit;
      pushed++;
    }
    const onlyGroup = pushed === 0 || (pushed === 1 && Object.keys(query.filter ?? {}).length === 0);
    const counted = onlyGroup ? await this.countGroup(db, coll, stage('$group')) : undefined;
    if (counted) pushed++;
    const docs = counted ?? (await this.find(db, coll, query)).docs;
    return runPipeline(docs, pipeline.slice(pushed), {
      collection: async (name) => (await this.find(db, name, {})).docs,
      lookup: (name, field, values) => this.lookupCandidates(db, name, field, values),
      graphLookup: (name, field, values, restrict) => this.graphCandidates(db, name, field, values, restrict),
    });
  }

  /**
   * A counting $group (countGroupOf) over a whole collection, answered from a single-field index
   * on the group field without reading every document (MongoDB's COUNT_SCAN): entries come in key
   * order, so a group is a run of entries with the same encoded value, and equal values encode
   * equally (the grouping $group does in memory, by encoded value). One document per group is
   * read for the group's _id, so the value keeps its stored type. Undefined when no such index
   * exists (a sparse index lacks documents without the field; a multikey one holds an array's
   * elements, not the array $group groups by) or a group's first document went missing meanwhile.
   */
  private async countGroup(db: string, coll: string, spec: unknown): Promise<Doc[] | undefined> {
    const shape: CountGroup | undefined = countGroupOf(spec);
    const meta = this.collection(db, coll);
    if (!shape || !meta) return undefined;
    const index = meta.indexes.find(
      (i) => i.key.length === 1 && i.key[0]![0] === shape.path && !i.sparse && !i.multikey,
    );
    if (!index) return undefined;
    const prefix = indexPrefix(meta.id, index.id);
    const groups: { key: Uint8Array; firstId: Uint8Array; count: number }[] = [];
    const entries = this.store.iterator(prefixRange(prefix));
    let keysExamined = 0;
    try {
      for (;;) {
        const batch = (await entries.nextv(SCAN_CHUNK_MAX)) as [Uint8Array, Uint8Array][];
        if (batch.length === 0) break;
        keysExamined += batch.length;
        for (const [key, id] of batch) {
          // An entry is prefix + encoded value + encoded _id, and its value is that encoded _id.
          const valueEnd = key.length - id.length;
          const last = groups[groups.length - 1];
          if (last && sameBytes(last.key, key, prefix.length, valueEnd)) {
            last.count++;
            continue;
          }
          if (groups.length >= GROUPS_MAX)
            fail(DocErrors.badValue, `$group would hold more than ${GROUPS_MAX} groups`);
          groups.push({ key: key.subarray(prefix.length, valueEnd), firstId: id, count: 1 });
        }
      }
    } finally {
      await entries.close();
    }
    const docPrefix = docRange(meta.id).gte;
    const firsts = (await this.store.getMany(groups.map((g) => concatBytes(docPrefix, g.firstId)))) as (
      | Uint8Array
      | undefined
    )[];
    const idExpr = (spec as Doc)['_id'];
    const direction = index.key[0]![1];
    const out: Doc[] = [];
    for (let i = 0; i < groups.length; i++) {
      const bytes = firsts[i];
      const value =
        bytes === undefined ? undefined : (evaluate(idExpr, BSON.deserialize(bytes) as Doc) ?? null);
      // A write between the index scan and this read (reads take no snapshot) moved or removed
      // the document: answer from the documents instead.
      if (value === undefined || compareBytes(encodeValue(value, direction), groups[i]!.key) !== 0)
        return undefined;
      const row: Doc = { _id: value };
      for (const [name, perDocument] of shape.fields) row[name] = groups[i]!.count * perDocument;
      out.push(row);
    }
    this.coveredGroups.runs++;
    this.coveredGroups.keysExamined += keysExamined;
    this.coveredGroups.docsExamined += groups.length;
    return out;
  }

  /**
   * $lookup's foreign side: the documents of `coll` that may hold one of `values` at `field`,
   * in collection order. With the _id index or an index leading with `field`, one $in query
   * through the planner (point reads, not the whole collection); otherwise, or for values an
   * index bound cannot express (regexes, arrays) or too many of them, the whole collection.
   */
  private async lookupCandidates(db: string, coll: string, field: string, values: unknown[]): Promise<Doc[]> {
    const meta = this.collection(db, coll);
    if (!meta) return [];
    const indexed = field === '_id' || meta.indexes.some((i) => i.key[0]![0] === field && !i.sparse);
    const plain = values.every((v) => !Array.isArray(v) && !isRegExp(v) && !(isDoc(v) && hasArray(v)));
    if (!indexed || !plain || values.length > LOOKUP_IN_MAX) return (await this.find(db, coll, {})).docs;
    const { docs } = await this.find(db, coll, { filter: { [field]: { $in: values } } });
    // Collection order is _id order (the documents' keys): sort by the same encoding.
    const keyed = docs.map((d) => ({ d, k: encodeValue(d['_id']) }));
    keyed.sort((a, b) => compareBytes(a.k, b.k));
    return keyed.map((x) => x.d);
  }

  /**
   * $graphLookup's step: the documents of `coll` matching `restrict` that may hold one of
   * `values` (a frontier) at `field`. With the _id index or a non-sparse index leading with
   * `field`, a $in query through it (hinted, so a restrict on another indexed field does not
   * divert it); otherwise the planner's choice, a collection scan at worst, which streams the
   * collection and keeps only the matches. Either way memory holds matches, not the collection.
   * Large frontiers go LOOKUP_IN_MAX values a query.
   */
  private async graphCandidates(
    db: string,
    coll: string,
    field: string,
    values: unknown[],
    restrict: Doc | undefined,
  ): Promise<Doc[]> {
    const meta = this.collection(db, coll);
    if (!meta || values.length === 0) return [];
    const index =
      field === '_id' ? ID_INDEX : meta.indexes.find((i) => i.key[0]![0] === field && !i.sparse)?.name;
    const plain = values.every((v) => !Array.isArray(v) && !isRegExp(v) && !(isDoc(v) && hasArray(v)));
    const out: Doc[] = [];
    for (let i = 0; i < values.length; i += LOOKUP_IN_MAX) {
      const match = { [field]: { $in: values.slice(i, i + LOOKUP_IN_MAX) } };
      const filter = restrict === undefined ? match : { $and: [match, restrict] };
      const hinted = index !== undefined && plain;
      const { docs, plan, stats } = await this.find(db, coll, { filter, ...(hinted ? { hint: index } : {}) });
      const counters = this.graphLookupReads;
      counters.queries++;
      if (plan.kind === 'IXSCAN' && plan.index.name === index) counters.indexed++;
      counters.keysExamined += stats.keysExamined;
      counters.docsExamined += stats.docsExamined;
      out.push(...docs);
    }
    return out;
  }

  /** Every index's entries against a rebuild from the documents: the consistency checker. */
  async checkIndexes(db: string, coll: string): Promise<{ index: string; missing: number; extra: number }[]> {
    const meta = this.collection(db, coll);
    if (!meta) return [];
    const report: { index: string; missing: number; extra: number }[] = [];
    for (const index of meta.indexes) {
      const prefix = indexPrefix(meta.id, index.id);
      const expected = new Set<string>();
      for await (const [, value] of this.store.iterator(docRange(meta.id))) {
        const doc = BSON.deserialize(value as Uint8Array) as Doc;
        for (const k of indexKeys(doc, index).keys) expected.add(toHex(indexEntryKey(prefix, k, doc['_id'])));
      }
      let extra = 0;
      const actual = new Set<string>();
      for await (const [key] of this.store.iterator(prefixRange(prefix))) {
        const hex = toHex(key as Uint8Array);
        actual.add(hex);
        if (!expected.has(hex)) extra++;
      }
      let missing = 0;
      for (const hex of expected) if (!actual.has(hex)) missing++;
      report.push({ index: index.name, missing, extra });
    }
    return report;
  }

  async count(db: string, coll: string, filter: Doc, skip = 0, limit = 0): Promise<number> {
    return (await this.find(db, coll, { filter, skip, limit })).docs.length;
  }

  async distinct(db: string, coll: string, key: string, filter: Doc): Promise<unknown[]> {
    if (typeof key !== 'string' || key === '') fail(DocErrors.badValue, 'distinct needs a key');
    const { docs } = await this.find(db, coll, { filter });
    const values: unknown[] = [];
    const parts = key.split('.');
    for (const doc of docs) {
      for (const leaf of lookupLeaves(doc, parts)) {
        const items = Array.isArray(leaf.value) ? leaf.value : [leaf.value];
        for (const v of items) if (v !== undefined && !values.some((x) => valuesEqual(x, v))) values.push(v);
      }
    }
    return sortDocs(
      values.map((v) => ({ v })),
      [['v', 1]],
    ).map((d) => d['v']);
  }
}

/** The stored BSON of documents a scan decoded (until they are garbage). */
const storedBytesOf = new WeakMap<Doc, Uint8Array>();

function decodeKeepingBytes(bytes: Uint8Array): Doc {
  const doc = BSON.deserialize(bytes) as Doc;
  storedBytesOf.set(doc, bytes);
  return doc;
}

/**
 * The bytes a document was decoded from by a scan, so the wire protocol can send them
 * instead of encoding the object again; undefined for documents made or changed since (a
 * projection, a pipeline stage, an update all make new objects).
 */
export function storedBytes(doc: Doc): Uint8Array | undefined {
  return storedBytesOf.get(doc);
}

export function parseKeyPattern(key: unknown): KeyPattern {
  if (!isDoc(key) || Object.keys(key).length === 0)
    fail(DocErrors.badValue, 'index key pattern must be a non-empty document');
  return Object.entries(key).map(([path, direction]) => {
    if (direction !== 1 && direction !== -1)
      fail(DocErrors.badValue, `unsupported index type for field ${path}: only 1 and -1 are supported`);
    if (path === '' || path.startsWith('$')) fail(DocErrors.badValue, `bad index key field: '${path}'`);
    return [path, direction];
  });
}

function checkStorable(doc: Doc): Uint8Array {
  if (nestingDepth(doc, NESTING_DEPTH_MAX + 1) > NESTING_DEPTH_MAX)
    fail(DocErrors.tooDeep, `document nests deeper than ${NESTING_DEPTH_MAX} levels`);
  const bytes = BSON.serialize(doc);
  if (bytes.length > DOCUMENT_BYTES_MAX)
    fail(
      DocErrors.documentTooLarge,
      `BSONObj size: ${bytes.length} (0x${bytes.length.toString(16).toUpperCase()}) is invalid. Size must be between 0 and 16793600(16MB)`,
    );
  return bytes;
}

function serialize(doc: Doc): Uint8Array {
  return checkStorable(doc);
}

/** Validates a document for insertion and gives it an _id (first field) when it has none. */
export function prepareForInsert(input: unknown): Doc {
  return prepareEncoded(input).doc;
}

/**
 * prepareForInsert with the document's BSON, encoded once for the size check and the store.
 * The input is not copied: nothing keeps or changes it after its bytes are made.
 */
function prepareEncoded(input: unknown): { doc: Doc; bytes: Uint8Array } {
  if (!isDoc(input)) fail(DocErrors.badValue, 'a document to insert must be an object');
  for (const key in input) {
    if (key.startsWith('$')) fail(DocErrors.badValue, `Document can't have $ prefixed field names: ${key}`);
  }
  const id = input['_id'];
  if (Array.isArray(id) || isRegExp(id))
    fail(DocErrors.badValue, `can't use an ${Array.isArray(id) ? 'array' : 'regex'} for _id`);
  let doc: Doc;
  if (id === undefined) {
    // A generated _id goes first, as MongoDB's drivers put it.
    const { _id: _, ...rest } = input;
    doc = { _id: new ObjectId(), ...rest };
  } else doc = input;
  return { doc, bytes: checkStorable(doc) };
}

function keyValueOf(index: IndexSpec, doc: Doc): Doc {
  const out: Doc = {};
  for (const [path] of index.key) {
    let value: unknown = doc;
    for (const part of path.split('.')) value = isDoc(value) ? value[part] : undefined;
    out[path] = value ?? null;
  }
  return out;
}

function duplicateError(meta: CollectionMeta, index: IndexSpec, doc: Doc, at: number): Error {
  const keyValue = keyValueOf(index, doc);
  const err = new DuplicateKeyError(
    `E11000 duplicate key error collection: ${meta.db}.${meta.name} index: ${index.name} dup key: ${BSON.EJSON.stringify(keyValue, { relaxed: true })}`,
    Object.fromEntries(index.key),
    keyValue,
  );
  err.at = at;
  return err;
}

function duplicateIdError(meta: CollectionMeta, doc: Doc, at: number): Error {
  return duplicateError(meta, { name: ID_INDEX, key: [['_id', 1]], unique: true, sparse: false }, doc, at);
}

function checkExpireAfterSeconds(value: unknown): number {
  const n = numberOf(value);
  if (n === undefined) fail(DocErrors.typeMismatch, 'TTL index expireAfterSeconds must be a number');
  if (!Number.isInteger(n) || n < 0 || n > EXPIRE_AFTER_SECONDS_MAX)
    fail(
      DocErrors.invalidOptions,
      `TTL index 'expireAfterSeconds' option must be within an acceptable range [0, ${EXPIRE_AFTER_SECONDS_MAX}]; found ${String(value)}`,
    );
  return n;
}

/** E11000: MongoDB's message, code 11000, keyPattern and keyValue, as drivers expect them. */
export class DuplicateKeyError extends DocDbError {
  override name = 'DuplicateKeyError';
  at = 0;
  constructor(
    message: string,
    readonly keyPattern: Doc,
    readonly keyValue: Doc,
  ) {
    super(DocErrors.duplicateKey, message, {
      keyPattern: BSON.EJSON.serialize(keyPattern),
      keyValue: BSON.EJSON.serialize(keyValue),
    });
  }
}

/**
 * Code 121 with MongoDB's errInfo: the failing document's _id and why it failed
 * (validation-details.ts). `errInfo` keeps BSON values for the wire; the problem document
 * for HTTP carries it as canonical Extended JSON.
 */
export class DocumentValidationError extends DocDbError {
  override name = 'DocumentValidationError';
  constructor(readonly errInfo: Doc) {
    super(DocErrors.documentValidationFailure, 'Document failed validation', {
      errInfo: BSON.EJSON.serialize(errInfo),
    });
  }
}

export function toWriteError(error: unknown, index: number): WriteError {
  if (error instanceof DocumentValidationError)
    return { index, code: error.mongoCode, errmsg: error.message, errInfo: error.errInfo };
  if (error instanceof DuplicateKeyError)
    return {
      index,
      code: 11000,
      errmsg: error.message,
      keyPattern: error.keyPattern,
      keyValue: error.keyValue,
    };
  const e = error as { mongoCode?: number; message: string };
  if (e.mongoCode === undefined) throw error;
  return { index, code: e.mongoCode, errmsg: e.message };
}

/** Whether `run` equals `bytes[from..to)`, without copying. */
function sameBytes(run: Uint8Array, bytes: Uint8Array, from: number, to: number): boolean {
  if (run.length !== to - from) return false;
  for (let i = 0; i < run.length; i++) if (run[i] !== bytes[from + i]) return false;
  return true;
}
