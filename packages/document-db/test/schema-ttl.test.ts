// Chapter 2's schema-on-read vs schema-on-write (a $jsonSchema validator per collection, set
// with create or collMod), and TTL indexes. Through the engine, and through the official driver.
import { MongoBulkWriteError, MongoClient, MongoServerError } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileJsonSchema } from '../src/core/json-schema.js';
import { compileFilter } from '../src/core/matcher.js';
import type { DocumentDbNode } from '../src/node.js';
import { startTestNode } from './support/node.js';
import { openDb } from './support/open.js';

const userSchema = {
  $jsonSchema: {
    bsonType: 'object',
    required: ['name', 'born'],
    properties: {
      name: { bsonType: 'string', minLength: 1, maxLength: 40 },
      born: { bsonType: 'date' },
      langs: { bsonType: 'array', items: { enum: ['en', 'fr', 'de'] }, uniqueItems: true },
      rank: { bsonType: ['int', 'long'], minimum: 0, maximum: 10, exclusiveMaximum: true },
    },
  },
};

describe('$jsonSchema', () => {
  const check = (schema: unknown, value: unknown) => compileJsonSchema(schema)(value);

  it('types: JSON type, bsonType, number as an alias', () => {
    expect(check({ type: 'object' }, { a: 1 })).toBe(true);
    expect(check({ type: 'object' }, [1])).toBe(false);
    expect(check({ bsonType: 'int' }, 3)).toBe(true);
    expect(check({ bsonType: 'int' }, 3.5)).toBe(false);
    expect(check({ bsonType: 'double' }, 3.5)).toBe(true);
    expect(check({ bsonType: 'number' }, 3.5)).toBe(true);
    expect(check({ bsonType: ['string', 'null'] }, null)).toBe(true);
    expect(check({ bsonType: 'date' }, new Date())).toBe(true);
  });

  it('keywords constrain only values of their kind (JSON Schema), required makes a field exist', () => {
    expect(check({ minimum: 5 }, 'a string')).toBe(true);
    expect(check({ minimum: 5 }, 4)).toBe(false);
    expect(check({ minimum: 5, exclusiveMinimum: true }, 5)).toBe(false);
    expect(check({ properties: { a: { bsonType: 'int' } } }, {})).toBe(true);
    expect(check({ properties: { a: { bsonType: 'int' } } }, { a: 'x' })).toBe(false);
    expect(check({ required: ['a'] }, { b: 1 })).toBe(false);
    expect(check({ maxLength: 2 }, 'ééé')).toBe(false);
    expect(check({ maxLength: 3 }, 'ééé')).toBe(true);
  });

  it('objects and arrays: additionalProperties, patternProperties, items (tuple and each), uniqueItems', () => {
    const closed = { properties: { _id: {}, a: {} }, additionalProperties: false };
    expect(check(closed, { _id: 1, a: 1 })).toBe(true);
    expect(check(closed, { _id: 1, a: 1, b: 2 })).toBe(false);
    expect(check({ patternProperties: { '^n_': { bsonType: 'int' } } }, { n_a: 1, x: 's' })).toBe(true);
    expect(check({ patternProperties: { '^n_': { bsonType: 'int' } } }, { n_a: 's' })).toBe(false);
    expect(check({ items: [{ bsonType: 'string' }], additionalItems: false }, ['a', 'b'])).toBe(false);
    expect(check({ items: { bsonType: 'int' } }, [1, 2])).toBe(true);
    expect(check({ uniqueItems: true }, [{ a: 1 }, { a: 1 }])).toBe(false);
    expect(check({ minItems: 1 }, [])).toBe(false);
  });

  it('combinators: allOf, anyOf, oneOf, not, dependencies, enum', () => {
    expect(check({ anyOf: [{ bsonType: 'int' }, { bsonType: 'string' }] }, true)).toBe(false);
    expect(check({ oneOf: [{ minimum: 0 }, { maximum: 10 }] }, 5)).toBe(false);
    expect(check({ oneOf: [{ minimum: 0 }, { maximum: 10 }] }, 50)).toBe(true);
    expect(check({ not: { bsonType: 'null' } }, null)).toBe(false);
    expect(check({ allOf: [{ minimum: 0 }, { maximum: 10 }] }, 11)).toBe(false);
    expect(check({ dependencies: { card: ['billing'] } }, { card: 1 })).toBe(false);
    expect(check({ dependencies: { card: ['billing'] } }, { card: 1, billing: 2 })).toBe(true);
    expect(check({ enum: [{ a: 1 }, 2] }, { a: 1 })).toBe(true);
  });

  it("refuses what MongoDB refuses: unknown keywords, type 'integer', $ref, bad operands", () => {
    for (const bad of [
      { bogus: 1 },
      { type: 'integer' },
      { $ref: '#/x' },
      { format: 'email' },
      { required: [] },
      { minLength: -1 },
      { bsonType: 'nope' },
      { exclusiveMinimum: true },
    ])
      expect(() => compileJsonSchema(bad), JSON.stringify(bad)).toThrow(/\$jsonSchema/);
  });

  it('works as a query operator beside other predicates', () => {
    const m = compileFilter({ $jsonSchema: { required: ['a'] }, b: 1 });
    expect(m({ a: 0, b: 1 })).toBe(true);
    expect(m({ b: 1 })).toBe(false);
  });

  it('is a top-level operator only: inside a field expression it is refused, as $comment is', () => {
    expect(() => compileFilter({ a: { $jsonSchema: { required: ['x'] } } })).toThrow(
      /unknown operator: \$jsonSchema/,
    );
    expect(() => compileFilter({ a: { $comment: 'why' } })).toThrow(/unknown operator: \$comment/);
    expect(compileFilter({ $comment: 'why', a: 1 })({ a: 1 })).toBe(true);
  });
});

describe('validators on the engine (schema-on-write)', () => {
  it('strict + error refuses bad inserts and updates with code 121; off and warn accept them', async () => {
    const { db } = await openDb();
    await db.createCollection('app', 'users', { validator: userSchema });
    const good = { _id: 1, name: 'Ada', born: new Date('1815-12-10'), langs: ['en'] };
    expect((await db.insertMany('app', 'users', [good])).errors).toEqual([]);
    const refused = await db.insertMany('app', 'users', [{ _id: 2, name: 'NoBirthday' }]);
    expect(refused.errors[0]).toMatchObject({ index: 0, code: 121, errmsg: 'Document failed validation' });
    await expect(
      db.update('app', 'users', { q: { _id: 1 }, u: { $set: { rank: 10 } } }),
    ).rejects.toMatchObject({
      mongoCode: 121,
    });
    expect((await db.getById('app', 'users', 1))!['rank']).toBeUndefined();
    await expect(
      db.update('app', 'users', { q: { _id: 9 }, u: { $set: { name: 'x' } }, upsert: true }),
    ).rejects.toMatchObject({ mongoCode: 121 });

    const warnings: unknown[] = [];
    db.onValidationWarning = (_ns, id) => warnings.push(id);
    await db.modifyCollection('app', 'users', { validationAction: 'warn' });
    expect((await db.insertMany('app', 'users', [{ _id: 3 }])).errors).toEqual([]);
    expect(warnings).toEqual([3]);
    await db.modifyCollection('app', 'users', { validationAction: 'error', validationLevel: 'off' });
    expect((await db.insertMany('app', 'users', [{ _id: 4 }])).errors).toEqual([]);
  });

  it('moderate leaves old invalid documents updatable, and collMod {validator: {}} removes the validator', async () => {
    const { db } = await openDb();
    await db.insertMany('app', 'legacy', [{ _id: 1, name: 'old, no birthday' }]); // schema-on-read era
    await db.modifyCollection('app', 'legacy', { validator: userSchema, validationLevel: 'moderate' });
    await db.update('app', 'legacy', { q: { _id: 1 }, u: { $set: { note: 'still fine' } } });
    expect((await db.getById('app', 'legacy', 1))!['note']).toBe('still fine');
    await db.modifyCollection('app', 'legacy', { validationLevel: 'strict' });
    await expect(
      db.update('app', 'legacy', { q: { _id: 1 }, u: { $set: { note: 'x' } } }),
    ).rejects.toMatchObject({
      mongoCode: 121,
    });
    await db.modifyCollection('app', 'legacy', { validator: {} });
    expect(db.validationOptions(db.collection('app', 'legacy')!)).toEqual({});
    await db.update('app', 'legacy', { q: { _id: 1 }, u: { $set: { note: 'x' } } });
  });

  it('refuses a bad validator at collMod time, and the validator survives a restart', async () => {
    const { db, store, dataDir } = await openDb('lsm');
    await expect(
      db.createCollection('app', 'x', { validator: { $jsonSchema: { bogus: 1 } } }),
    ).rejects.toThrow(/unknown keyword/);
    await expect(db.createCollection('app', 'x', { validationLevel: 'sometimes' })).rejects.toThrow(
      /validationLevel/,
    );
    await db.createCollection('app', 'users', { validator: userSchema, validationAction: 'error' });
    await db.close();
    await store.close();
    const reopened = await openDb('lsm', dataDir);
    const options = reopened.db.validationOptions(reopened.db.collection('app', 'users')!);
    expect(options).toMatchObject({ validationLevel: 'strict', validationAction: 'error' });
    expect(JSON.stringify(options['validator'])).toBe(JSON.stringify(userSchema));
    expect((await reopened.db.insertMany('app', 'users', [{ _id: 1 }])).errors[0]?.code).toBe(121);
    await reopened.store.close();
  });
});

describe('TTL indexes', () => {
  const t0 = Date.parse('2026-03-01T00:00:00Z');

  it('deletes documents whose date is expireAfterSeconds old, never those without a date; arrays expire by their earliest date', async () => {
    const { db } = await openDb();
    await db.createIndex('app', 'sessions', { key: { lastSeen: 1 }, expireAfterSeconds: 60 });
    await db.insertMany('app', 'sessions', [
      { _id: 'old', lastSeen: new Date(t0 - 120_000) },
      { _id: 'fresh', lastSeen: new Date(t0 - 10_000) },
      { _id: 'edge', lastSeen: new Date(t0 - 60_000) },
      { _id: 'not-a-date', lastSeen: 'yesterday' },
      { _id: 'missing' },
      { _id: 'array', lastSeen: [new Date(t0 + 1_000_000), new Date(t0 - 500_000)] },
    ]);
    expect(await db.expireDocuments(t0)).toBe(3);
    const left = (await db.find('app', 'sessions', {})).docs.map((d) => d['_id']).sort();
    expect(left).toEqual(['fresh', 'missing', 'not-a-date']);
    expect(await db.expireDocuments(t0)).toBe(0);
    expect(await db.expireDocuments(t0 + 51_000)).toBe(1);
    expect(await db.checkIndexes('app', 'sessions')).toEqual([{ index: 'lastSeen_1', missing: 0, extra: 0 }]);
  });

  it('listIndexes shows expireAfterSeconds; collMod changes it; compound, _id and bad values are refused', async () => {
    const { db } = await openDb();
    await db.createIndex('app', 's', { key: { at: 1 }, expireAfterSeconds: 3600 });
    expect(db.indexList(db.collection('app', 's'))[1]).toMatchObject({
      name: 'at_1',
      expireAfterSeconds: 3600,
    });
    expect(await db.modifyCollection('app', 's', { index: { name: 'at_1', expireAfterSeconds: 5 } })).toEqual(
      {
        expireAfterSeconds_old: 3600,
        expireAfterSeconds_new: 5,
      },
    );
    await expect(
      db.createIndex('app', 's', { key: { a: 1, b: 1 }, expireAfterSeconds: 5 }),
    ).rejects.toMatchObject({
      mongoCode: 67,
    });
    await expect(db.createIndex('app', 's', { key: { _id: 1 }, expireAfterSeconds: 5 })).rejects.toThrow(
      /_id/,
    );
    await expect(db.createIndex('app', 's', { key: { b: 1 }, expireAfterSeconds: -1 })).rejects.toThrow(
      /range/,
    );
    await expect(db.createIndex('app', 's', { key: { at: 1 }, expireAfterSeconds: 7 })).rejects.toMatchObject(
      {
        mongoCode: 85,
      },
    );
  });
});

describe('the driver: createCollection with a validator, collMod, TTL monitor', () => {
  let node: DocumentDbNode;
  let client: MongoClient;
  beforeAll(async () => {
    node = await startTestNode(['--ttl-monitor-ms', '50']);
    client = await new MongoClient(`mongodb://127.0.0.1:${node.mongoPort}`, {
      serverSelectionTimeoutMS: 5000,
    }).connect();
  });
  afterAll(async () => {
    await client?.close();
    await node?.service.close();
  });

  it('a DocumentValidationFailure is a MongoServerError with code 121; listCollections shows the options', async () => {
    const db = client.db('school');
    const users = await db.createCollection('users', { validator: userSchema });
    await users.insertOne({ name: 'Ada', born: new Date('1815-12-10') });
    const error = await users.insertOne({ name: 'Nobody' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MongoServerError);
    expect((error as MongoServerError).code).toBe(121);
    const [info] = await db.listCollections({ name: 'users' }).toArray();
    expect(info).toMatchObject({ options: { validationLevel: 'strict', validationAction: 'error' } });
    await db.command({ collMod: 'users', validationLevel: 'off' });
    await users.insertOne({ name: 'Nobody' });
    await expect(db.command({ collMod: 'users', capped: true })).rejects.toMatchObject({ code: 72 });
  });

  it("a refused write's errInfo.details says which rules failed, as MongoDB 5+ does (insert, insertMany, update)", async () => {
    const db = client.db('school');
    const people = await db.createCollection('details', {
      validator: {
        $jsonSchema: {
          bsonType: 'object',
          title: 'people',
          required: ['name', 'born'],
          additionalProperties: false,
          properties: {
            _id: {},
            name: { bsonType: 'string', description: 'a name', maxLength: 5 },
            born: { bsonType: 'date' },
            rank: { bsonType: 'int', minimum: 0 },
            langs: { bsonType: 'array', items: { enum: ['en', 'fr'] } },
            tags: { anyOf: [{ bsonType: 'string' }, { bsonType: 'array', maxItems: 1 }] },
          },
        },
      },
    });
    const error = (await people
      .insertOne({
        _id: 7 as never,
        name: 'Adalovelace',
        rank: -1,
        langs: ['en', 'xx'],
        tags: [1, 2],
        shoe: 42,
      })
      .catch((e: unknown) => e)) as MongoServerError;
    expect(error).toBeInstanceOf(MongoServerError);
    expect(error.code).toBe(121);
    expect(error.errInfo).toEqual({
      failingDocumentId: 7,
      details: {
        operatorName: '$jsonSchema',
        title: 'people',
        schemaRulesNotSatisfied: [
          {
            operatorName: 'required',
            specifiedAs: { required: ['name', 'born'] },
            missingProperties: ['born'],
          },
          {
            operatorName: 'additionalProperties',
            specifiedAs: { additionalProperties: false },
            additionalProperties: ['shoe'],
          },
          {
            operatorName: 'properties',
            propertiesNotSatisfied: [
              {
                propertyName: 'name',
                description: 'a name',
                details: [
                  {
                    operatorName: 'maxLength',
                    specifiedAs: { maxLength: 5 },
                    reason: 'specified string length was not satisfied',
                    consideredValue: 'Adalovelace',
                  },
                ],
              },
              {
                propertyName: 'rank',
                details: [
                  {
                    operatorName: 'minimum',
                    specifiedAs: { minimum: 0 },
                    reason: 'comparison failed',
                    consideredValue: -1,
                  },
                ],
              },
              {
                propertyName: 'langs',
                details: [
                  {
                    operatorName: 'items',
                    reason: 'At least one item did not match the sub-schema',
                    itemIndex: 1,
                    details: [
                      {
                        operatorName: 'enum',
                        specifiedAs: { enum: ['en', 'fr'] },
                        reason: 'value was not found in enum',
                        consideredValue: 'xx',
                      },
                    ],
                  },
                ],
              },
              {
                propertyName: 'tags',
                details: [
                  {
                    operatorName: 'anyOf',
                    schemasNotSatisfied: [
                      {
                        index: 0,
                        details: [
                          {
                            operatorName: 'bsonType',
                            specifiedAs: { bsonType: 'string' },
                            reason: 'type did not match',
                            consideredValue: [1, 2],
                            consideredType: 'array',
                          },
                        ],
                      },
                      {
                        index: 1,
                        details: [
                          {
                            operatorName: 'maxItems',
                            specifiedAs: { maxItems: 1 },
                            reason: 'array did not match specified length',
                            consideredValue: [1, 2],
                          },
                        ],
                      },
                    ],
                  },
                ],
              },
            ],
          },
        ],
      },
    });
    // insertMany, unordered: each refused document has its own errInfo in writeErrors.
    const bulk = (await people
      .insertMany(
        [
          { _id: 1 as never, name: 'Ada', born: new Date(0) },
          { _id: 2 as never, name: 'Bob', born: 'yesterday' },
        ],
        { ordered: false },
      )
      .catch((e: unknown) => e)) as MongoBulkWriteError;
    expect(bulk).toBeInstanceOf(MongoBulkWriteError);
    const [writeError] = bulk.writeErrors as unknown as { index: number; errInfo: unknown }[];
    expect(writeError!.index).toBe(1);
    expect(writeError!.errInfo).toMatchObject({
      failingDocumentId: 2,
      details: {
        schemaRulesNotSatisfied: [
          {
            operatorName: 'properties',
            propertiesNotSatisfied: [
              {
                propertyName: 'born',
                details: [
                  { operatorName: 'bsonType', consideredValue: 'yesterday', consideredType: 'string' },
                ],
              },
            ],
          },
        ],
      },
    });
    // An update that breaks the rule: the same shape, for the document as it would become.
    const update = (await people
      .updateOne({ _id: 1 as never }, { $set: { rank: 2.5 } })
      .catch((e: unknown) => e)) as MongoServerError;
    expect(update.errInfo).toMatchObject({
      failingDocumentId: 1,
      details: {
        schemaRulesNotSatisfied: [
          {
            propertiesNotSatisfied: [
              {
                propertyName: 'rank',
                details: [
                  {
                    operatorName: 'bsonType',
                    specifiedAs: { bsonType: 'int' },
                    reason: 'type did not match',
                    consideredValue: 2.5,
                    consideredType: 'double',
                  },
                ],
              },
            ],
          },
        ],
      },
    });
  });

  it('a query-operator validator names the clauses not satisfied', async () => {
    const db = client.db('school');
    const orders = await db.createCollection('orders', {
      validator: {
        qty: { $gt: 0 },
        status: { $in: ['new', 'paid'] },
        $or: [{ paid: true }, { note: { $exists: true } }],
      },
    });
    const error = (await orders
      .insertOne({ _id: 1 as never, qty: 0, status: 'new' })
      .catch((e: unknown) => e)) as MongoServerError;
    expect(error.code).toBe(121);
    expect(error.errInfo).toEqual({
      failingDocumentId: 1,
      details: {
        operatorName: '$and',
        clausesNotSatisfied: [
          {
            index: 0,
            details: {
              operatorName: '$gt',
              specifiedAs: { qty: { $gt: 0 } },
              reason: 'comparison failed',
              consideredValue: 0,
            },
          },
          {
            index: 2,
            details: {
              operatorName: '$or',
              clausesNotSatisfied: [
                {
                  index: 0,
                  details: { operatorName: '$eq', specifiedAs: { paid: true }, reason: 'field was missing' },
                },
                {
                  index: 1,
                  details: {
                    operatorName: '$exists',
                    specifiedAs: { note: { $exists: true } },
                    reason: 'path does not exist',
                  },
                },
              ],
            },
          },
        ],
      },
    });
  });

  it('bypassDocumentValidation lets one write through the validator; the next write is checked again', async () => {
    const db = client.db('school');
    const pupils = await db.createCollection('pupils', { validator: userSchema });
    await expect(pupils.insertOne({ name: 'Nobody' })).rejects.toMatchObject({ code: 121 });
    await pupils.insertOne({ _id: 'legacy' as never, name: 'Nobody' }, { bypassDocumentValidation: true });
    await pupils.insertMany([{ name: 'A' }, { name: 'B' }], { bypassDocumentValidation: true });
    expect(await pupils.countDocuments()).toBe(3);
    // An update that keeps the document invalid: refused, unless it bypasses too.
    await expect(pupils.updateOne({ _id: 'legacy' as never }, { $set: { nick: 'n' } })).rejects.toMatchObject(
      {
        code: 121,
      },
    );
    await pupils.updateOne(
      { _id: 'legacy' as never },
      { $set: { nick: 'n' } },
      { bypassDocumentValidation: true },
    );
    const found = await pupils.findOneAndUpdate(
      { _id: 'legacy' as never },
      { $set: { nick: 'm' } },
      { bypassDocumentValidation: true, returnDocument: 'after' },
    );
    expect(found).toMatchObject({ nick: 'm' });
    await expect(
      pupils.findOneAndUpdate({ _id: 'legacy' as never }, { $set: { nick: 'x' } }),
    ).rejects.toMatchObject({ code: 121 });
  });

  it('the TTL monitor deletes expired documents by itself', async () => {
    const sessions = client.db('app').collection('sessions');
    await sessions.createIndex({ lastSeen: 1 }, { expireAfterSeconds: 1 });
    await sessions.insertMany([
      { lastSeen: new Date(Date.now() - 10_000) },
      { lastSeen: new Date(Date.now() + 3_600_000) },
    ]);
    const deadline = Date.now() + 10_000;
    while ((await sessions.countDocuments()) > 1 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(await sessions.countDocuments()).toBe(1);
    expect((await sessions.indexes()).find((i) => i.name === 'lastSeen_1')).toMatchObject({
      expireAfterSeconds: 1,
    });
  });
});
