// The official MongoDB driver, unchanged, against our wire protocol.
import net from 'node:net';
import { MongoClient, MongoServerError, ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentDbNode } from '../src/node.js';
import { startTestNode } from './support/node.js';

interface Person {
  name: string;
  born?: Date;
  langs?: string[];
  rank?: number;
  visits?: number;
}

let node: DocumentDbNode;
let client: MongoClient;

beforeAll(async () => {
  node = await startTestNode();
  client = new MongoClient(`mongodb://127.0.0.1:${node.mongoPort}`, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
});
afterAll(async () => {
  await client?.close();
  await node?.service.close();
});

describe('the mongodb driver against document-db', () => {
  it('handshakes, pings and reads buildInfo', async () => {
    expect(await client.db('admin').command({ ping: 1 })).toMatchObject({ ok: 1 });
    expect((await client.db('admin').command({ buildInfo: 1 })).version).toBe('6.0.0');
  });

  it('CRUD: insertOne/Many, find with filter/sort/projection, updateOne/Many, replaceOne, deleteOne/Many, findOneAndUpdate', async () => {
    const people = client.db('app').collection<Person>('people');
    const one = await people.insertOne({ name: 'Ada', born: new Date('1815-12-10'), langs: ['en', 'fr'] });
    expect(one.insertedId).toBeInstanceOf(ObjectId);
    await people.insertMany([
      { name: 'Alan', born: new Date('1912-06-23'), langs: ['en'] },
      { name: 'Grace', born: new Date('1906-12-09'), langs: ['en'], rank: 3 },
    ]);
    const found = await people
      .find({ langs: 'en' }, { projection: { _id: 0, name: 1 } })
      .sort({ born: 1 })
      .toArray();
    expect(found).toEqual([{ name: 'Ada' }, { name: 'Grace' }, { name: 'Alan' }]);
    const ada = await people.findOne({ _id: one.insertedId });
    expect(ada?.born).toEqual(new Date('1815-12-10'));
    expect((await people.updateOne({ name: 'Alan' }, { $push: { langs: 'de' } })).modifiedCount).toBe(1);
    expect((await people.updateMany({}, { $inc: { visits: 1 } })).modifiedCount).toBe(3);
    expect((await people.replaceOne({ name: 'Grace' }, { name: 'Grace Hopper' })).modifiedCount).toBe(1);
    const upserted = await people.updateOne(
      { name: 'Edsger' },
      { $set: { langs: ['nl'] } },
      { upsert: true },
    );
    expect(upserted.upsertedCount).toBe(1);
    const after = await people.findOneAndUpdate(
      { name: 'Ada' },
      { $set: { rank: 1 } },
      { returnDocument: 'after' },
    );
    expect(after).toMatchObject({ name: 'Ada', rank: 1 });
    // The replacement dropped Grace's visits.
    expect(await people.countDocuments({ visits: 1 })).toBe(2);
    expect(await people.distinct('langs')).toEqual(['de', 'en', 'fr', 'nl']);
    expect((await people.deleteOne({ name: 'Edsger' })).deletedCount).toBe(1);
    expect((await people.deleteMany({ visits: 1 })).deletedCount).toBe(2);
    expect(await people.find({}, { projection: { _id: 0 } }).toArray()).toEqual([{ name: 'Grace Hopper' }]);
  });

  it('cursors span getMore batches and can be closed early', async () => {
    const numbers = client.db('app').collection<{ _id: number; n: number }>('numbers');
    await numbers.insertMany(Array.from({ length: 1050 }, (_, i) => ({ _id: i, n: i })));
    const all = await numbers.find({}, { batchSize: 100 }).sort({ n: -1 }).toArray();
    expect(all).toHaveLength(1050);
    expect(all[0]).toEqual({ _id: 1049, n: 1049 });
    const cursor = numbers.find({ n: { $gte: 10 } }, { batchSize: 10 });
    let seen = 0;
    for await (const _ of cursor) if (++seen === 25) break;
    expect(seen).toBe(25);
    expect(node.wire.cursors.size).toBe(0);
  });

  it('bulkWrite mixes inserts, updates and deletes', async () => {
    const bulk = client.db('app').collection<{ _id: number; v: number }>('bulk');
    const result = await bulk.bulkWrite([
      { insertOne: { document: { _id: 1, v: 1 } } },
      { insertOne: { document: { _id: 2, v: 2 } } },
      { updateOne: { filter: { _id: 1 }, update: { $set: { v: 10 } } } },
      { deleteOne: { filter: { _id: 2 } } },
      { updateOne: { filter: { _id: 3 }, update: { $set: { v: 3 } }, upsert: true } },
    ]);
    expect(result.insertedCount).toBe(2);
    expect(result.modifiedCount).toBe(1);
    expect(result.deletedCount).toBe(1);
    expect(result.upsertedCount).toBe(1);
    expect(await bulk.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, v: 10 },
      { _id: 3, v: 3 },
    ]);
  });

  it('indexes: create, list, unique violation as E11000, explain shows IXSCAN, drop', async () => {
    const users = client.db('app').collection('users');
    await users.insertMany(Array.from({ length: 50 }, (_, i) => ({ email: `u${i}@x`, age: i % 10 })));
    expect(await users.createIndex({ email: 1 }, { unique: true })).toBe('email_1');
    await users.createIndex({ age: 1 });
    expect((await users.listIndexes().toArray()).map((i) => i.name)).toEqual(['_id_', 'email_1', 'age_1']);
    const error = await users.insertOne({ email: 'u1@x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MongoServerError);
    expect((error as MongoServerError).code).toBe(11000);
    expect((error as MongoServerError).message).toMatch(
      /E11000 duplicate key error collection: app.users index: email_1/,
    );
    const explain = await users.find({ age: 3 }).explain('executionStats');
    expect(explain.queryPlanner.winningPlan).toMatchObject({
      stage: 'FETCH',
      inputStage: { stage: 'IXSCAN', indexName: 'age_1' },
    });
    expect(explain.executionStats).toMatchObject({
      nReturned: 5,
      totalKeysExamined: 5,
      totalDocsExamined: 5,
    });
    const scan = await users.find({ email: { $regex: '^u1' } }).explain('executionStats');
    expect(scan.queryPlanner.winningPlan.stage).toBe('COLLSCAN');
    await users.dropIndex('age_1');
    expect((await users.listIndexes().toArray()).map((i) => i.name)).toEqual(['_id_', 'email_1']);
  });

  it('listCollections, listDatabases, drop and dropDatabase', async () => {
    const db = client.db('tmpdb');
    await db.collection('a').insertOne({ x: 1 });
    await db.createCollection('b');
    expect((await db.listCollections().toArray()).map((c) => c.name)).toEqual(['a', 'b']);
    const dbs = await client.db('admin').admin().listDatabases();
    expect(dbs.databases.map((d) => d.name)).toContain('tmpdb');
    expect(await db.collection('a').drop()).toBe(true);
    await db.dropDatabase();
    expect(await db.listCollections().toArray()).toEqual([]);
  });

  it('an unknown command answers CommandNotFound (59); bad queries answer BadValue (2)', async () => {
    const unknown = await client
      .db('admin')
      .command({ frobnicate: 1 })
      .catch((e: unknown) => e);
    expect((unknown as MongoServerError).code).toBe(59);
    expect((unknown as MongoServerError).codeName).toBe('CommandNotFound');
    const bad = await client
      .db('app')
      .collection('x')
      .find({ a: { $bogus: 1 } })
      .toArray()
      .catch((e: unknown) => e);
    expect((bad as MongoServerError).code).toBe(2);
  });

  it('a malformed frame closes only that connection; the server keeps serving', async () => {
    const before = node.wire.malformed;
    const socket = net.connect(node.mongoPort, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const frame = Buffer.alloc(21);
    frame.writeInt32LE(21, 0);
    frame.writeInt32LE(2013, 12);
    frame.writeUInt32LE(0, 16);
    frame[20] = 7; // unknown section kind
    socket.write(frame);
    await closed;
    const huge = net.connect(node.mongoPort, '127.0.0.1');
    const hugeClosed = new Promise<void>((resolve) => huge.once('close', () => resolve()));
    const header = Buffer.alloc(16);
    header.writeInt32LE(2_000_000_000, 0);
    huge.write(header);
    await hugeClosed;
    expect(node.wire.malformed).toBe(before + 2);
    expect(await client.db('admin').command({ ping: 1 })).toMatchObject({ ok: 1 });
  });
});
