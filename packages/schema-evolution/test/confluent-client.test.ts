// Conformance: the real @kafkajs/confluent-schema-registry client (3.9.0), unchanged, against
// our registry. Producers and consumers of the streaming chapter use exactly these calls.
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type Running, startRegistry } from './helpers.js';

const V1 = {
  type: 'record',
  name: 'User',
  namespace: 'lab.ch4',
  fields: [
    { name: 'userName', type: 'string' },
    { name: 'favoriteNumber', type: ['null', 'long'], default: null },
  ],
};
// Backward compatible: adds a field with a default.
const V2 = {
  ...V1,
  fields: [...V1.fields, { name: 'interests', type: { type: 'array', items: 'string' }, default: [] }],
};
// Incompatible with V2 under BACKWARD: a new required field the old data lacks.
const V3_BAD = { ...V2, fields: [...V2.fields, { name: 'email', type: 'string' }] };

describe('@kafkajs/confluent-schema-registry against our registry', () => {
  let r: Running;
  let client: SchemaRegistry;
  beforeAll(async () => {
    r = await startRegistry();
    client = new SchemaRegistry({ host: r.url }, { [SchemaType.AVRO]: {} });
  });
  afterAll(() => r.close());

  let id1 = 0;
  let id2 = 0;
  let oldMessage: Buffer;

  it('registers a schema (and sets the subject level, as the client does first time)', async () => {
    ({ id: id1 } = await client.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(V1) },
      { subject: 'users-value' },
    ));
    expect(id1).toBeGreaterThan(0);
    expect((await call(r.url, 'GET', '/config/users-value')).body).toEqual({
      compatibilityLevel: 'BACKWARD',
    });
    expect(await client.getLatestSchemaId('users-value')).toBe(id1);
  });

  it('encodes in the Confluent wire format: magic 0, 4-byte big-endian id, Avro body', async () => {
    const value = { userName: 'Martin', favoriteNumber: 1337 };
    oldMessage = await client.encode(id1, value);
    expect(oldMessage[0]).toBe(0);
    expect(oldMessage.readUInt32BE(1)).toBe(id1);
    const body = avro.Type.forSchema(V1 as avro.Schema).toBuffer(value);
    expect(oldMessage.subarray(5).equals(body)).toBe(true);
    expect(await client.decode(oldMessage)).toEqual(value);
  });

  it('registers a backward-compatible evolution', async () => {
    ({ id: id2 } = await client.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(V2) },
      { subject: 'users-value' },
    ));
    expect(id2).not.toBe(id1);
    expect(await client.getRegistryId('users-value', 2)).toBe(id2);
    expect(
      await client.getRegistryIdBySchema('users-value', {
        type: SchemaType.AVRO,
        schema: JSON.stringify(V1),
      }),
    ).toBe(id1);
  });

  it('is refused an incompatible schema', async () => {
    const attempt = client.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(V3_BAD) },
      { subject: 'users-value' },
    );
    await expect(attempt).rejects.toMatchObject({ status: 409 });
    await expect(attempt).rejects.toThrow(/incompatible/);
    expect(await client.getLatestSchemaId('users-value')).toBe(id2);
  });

  it('decodes old messages with the new reader schema (defaults fill the new field)', async () => {
    const decoded = await client.decode(oldMessage, { [SchemaType.AVRO]: { readerSchema: V2 as never } });
    expect(decoded).toEqual({ userName: 'Martin', favoriteNumber: 1337, interests: [] });
    const newMessage = await client.encode(id2, {
      userName: 'Martin',
      favoriteNumber: null,
      interests: ['daydreaming', 'hacking'],
    });
    expect(newMessage.readUInt32BE(1)).toBe(id2);
    // A fresh client (empty cache) fetches the writer's schema by id from our registry.
    const consumer = new SchemaRegistry({ host: r.url });
    expect(await consumer.decode(newMessage)).toEqual({
      userName: 'Martin',
      favoriteNumber: null,
      interests: ['daydreaming', 'hacking'],
    });
    // And an old reader (forward direction) skips the field it does not know.
    expect(await consumer.decode(newMessage, { [SchemaType.AVRO]: { readerSchema: V1 as never } })).toEqual({
      userName: 'Martin',
      favoriteNumber: null,
    });
  });

  it('resolves schema references through the client', async () => {
    const address = {
      type: 'record',
      name: 'Address',
      namespace: 'lab.ch4',
      fields: [{ name: 'city', type: 'string' }],
    };
    await client.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(address) },
      { subject: 'address-value' },
    );
    const person = {
      type: 'record',
      name: 'Person',
      namespace: 'lab.ch4',
      fields: [{ name: 'home', type: 'lab.ch4.Address' }],
    };
    const { id } = await client.register(
      {
        type: SchemaType.AVRO,
        schema: JSON.stringify(person),
        references: [{ name: 'lab.ch4.Address', subject: 'address-value', version: 1 }],
      },
      { subject: 'person-value' },
    );
    const fresh = new SchemaRegistry({ host: r.url });
    const bytes = await client.encode(id, { home: { city: 'Cambridge' } });
    expect(await fresh.decode(bytes)).toEqual({ home: { city: 'Cambridge' } });
  });
});
