// Every route of the Confluent-compatible API and every error code it answers, over real HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, CT, call, type Running, record, startRegistry } from './helpers.js';

const V1 = record('User', [['name', 'string']]);
const V2 = record('User', [
  ['name', 'string'],
  ['age', 'int', 0],
]);
const NEEDS_AGE = record('User', [
  ['name', 'string'],
  ['age', 'int'],
]);

function expectError(answer: Answer, status: number, errorCode: number) {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.contentType).toContain(CT);
  expect(answer.body.error_code).toBe(errorCode);
  expect(typeof answer.body.message).toBe('string');
}

describe('schema registry over HTTP', () => {
  let r: Running;
  let url: string;
  beforeAll(async () => {
    r = await startRegistry();
    url = r.url;
  });
  afterAll(() => r.close());

  it('GET / and GET /schemas/types', async () => {
    expect((await call(url, 'GET', '/')).body).toEqual({});
    expect((await call(url, 'GET', '/schemas/types')).body).toEqual(['AVRO']);
  });

  it('registers, lists and fetches versions', async () => {
    const first = await call(url, 'POST', '/subjects/users-value/versions', { schema: V1 });
    expect(first.status).toBe(200);
    expect(first.contentType).toContain(CT);
    expect(first.body).toEqual({ id: expect.any(Number) });
    const second = await call(url, 'POST', '/subjects/users-value/versions', { schema: V2 });
    expect(second.body.id).toBeGreaterThan(first.body.id);
    expect((await call(url, 'GET', '/subjects')).body).toContain('users-value');
    expect((await call(url, 'GET', '/subjects/users-value/versions')).body).toEqual([1, 2]);
    const latest = await call(url, 'GET', '/subjects/users-value/versions/latest');
    expect(latest.body).toMatchObject({ subject: 'users-value', version: 2, id: second.body.id });
    expect(JSON.parse(latest.body.schema)).toEqual(JSON.parse(V2));
    expect((await call(url, 'GET', '/subjects/users-value/versions/-1')).body.version).toBe(2);
    expect((await call(url, 'GET', '/subjects/users-value/versions/1')).body.id).toBe(first.body.id);
    const raw = await call(url, 'GET', '/subjects/users-value/versions/1/schema');
    expect(raw.body).toEqual(JSON.parse(V1));
    expect((await call(url, 'GET', `/schemas/ids/${first.body.id}`)).body).toEqual({ schema: raw.text });
    expect((await call(url, 'GET', `/schemas/ids/${first.body.id}/schema`)).body).toEqual(JSON.parse(V1));
    expect((await call(url, 'GET', `/schemas/ids/${second.body.id}/versions`)).body).toEqual([
      { subject: 'users-value', version: 2 },
    ]);
    expect((await call(url, 'GET', `/schemas/ids/${second.body.id}/subjects`)).body).toEqual(['users-value']);
  });

  it('gives the same schema one id: re-registering, other spellings, other subjects', async () => {
    const a = await call(url, 'POST', '/subjects/canon/versions', { schema: V1 });
    const spaced = JSON.stringify(JSON.parse(V1), null, 2);
    const reordered = JSON.stringify({
      fields: [{ type: { type: 'string' }, name: 'name' }],
      name: 'User',
      type: 'record',
    });
    expect((await call(url, 'POST', '/subjects/canon/versions', { schema: spaced })).body.id).toBe(a.body.id);
    expect((await call(url, 'POST', '/subjects/canon/versions', { schema: reordered })).body.id).toBe(
      a.body.id,
    );
    expect((await call(url, 'GET', '/subjects/canon/versions')).body).toEqual([1]);
    const ids = await call(url, 'GET', `/schemas/ids/${a.body.id}/versions`);
    expect(ids.body).toEqual(
      expect.arrayContaining([
        { subject: 'canon', version: 1 },
        { subject: 'users-value', version: 1 },
      ]),
    );
  });

  it('accepts application/json and application/octet-stream, refuses text/plain with 415', async () => {
    expect(
      (await call(url, 'POST', '/subjects/ct/versions', { schema: V1 }, 'application/json')).status,
    ).toBe(200);
    expect(
      (await call(url, 'POST', '/subjects/ct/versions', { schema: V1 }, 'application/octet-stream')).status,
    ).toBe(200);
    expectError(await call(url, 'POST', '/subjects/ct/versions', { schema: V1 }, 'text/plain'), 415, 415);
  });

  it('looks up a schema under a subject (POST /subjects/:subject)', async () => {
    const found = await call(url, 'POST', '/subjects/users-value', { schema: V2 });
    expect(found.body).toMatchObject({ subject: 'users-value', version: 2 });
    expectError(await call(url, 'POST', '/subjects/users-value', { schema: NEEDS_AGE }), 404, 40403);
    expectError(await call(url, 'POST', '/subjects/nobody', { schema: V1 }), 404, 40401);
    expectError(await call(url, 'POST', '/subjects/users-value', { schema: '{"type":"nope"}' }), 422, 42201);
  });

  it('refuses an incompatible schema with 409 and names the reason', async () => {
    const refused = await call(url, 'POST', '/subjects/users-value/versions', {
      schema: record('User', [['name', 'int']]),
    });
    expectError(refused, 409, 409);
    expect(refused.body.message).toContain('TYPE_MISMATCH');
    expect((await call(url, 'GET', '/subjects/users-value/versions')).body).toEqual([1, 2]);
  });

  it('tests compatibility with and without verbose, against one version or all', async () => {
    const ok = await call(url, 'POST', '/compatibility/subjects/users-value/versions/latest', { schema: V2 });
    expect(ok.body).toEqual({ is_compatible: true });
    const bad = await call(url, 'POST', '/compatibility/subjects/users-value/versions/1?verbose=true', {
      schema: NEEDS_AGE,
    });
    expect(bad.body.is_compatible).toBe(false);
    expect(bad.body.messages.join(' ')).toContain("location:'/fields/1'");
    const all = await call(url, 'POST', '/compatibility/subjects/users-value/versions', { schema: V2 });
    expect(all.body).toEqual({ is_compatible: true });
    const fresh = await call(url, 'POST', '/compatibility/subjects/fresh/versions', { schema: V2 });
    expect(fresh.body).toEqual({ is_compatible: true });
    expectError(
      await call(url, 'POST', '/compatibility/subjects/fresh/versions/latest', { schema: V2 }),
      404,
      40401,
    );
    expectError(
      await call(url, 'POST', '/compatibility/subjects/users-value/versions/9', { schema: V2 }),
      404,
      40402,
    );
  });

  it('answers 40401, 40402, 40403 and 42202 for missing things and bad versions', async () => {
    expectError(await call(url, 'GET', '/subjects/nobody/versions'), 404, 40401);
    expectError(await call(url, 'GET', '/subjects/nobody/versions/1'), 404, 40401);
    expectError(await call(url, 'GET', '/subjects/users-value/versions/99'), 404, 40402);
    expectError(await call(url, 'GET', '/schemas/ids/999999'), 404, 40403);
    expectError(await call(url, 'GET', '/schemas/ids/abc'), 404, 40403);
    expectError(await call(url, 'GET', '/schemas/ids/999999/versions'), 404, 40403);
    for (const bad of ['0', 'abc', '2147483648', '-2', '1.5']) {
      expectError(await call(url, 'GET', `/subjects/users-value/versions/${bad}`), 422, 42202);
    }
  });

  it('answers 42201 for invalid schemas and unsupported types, 400 for bad JSON, 422 for bad bodies', async () => {
    for (const schema of ['{"type":"record","name":"X"}', '{not json', '{"type":"strin"}', '', 42]) {
      expectError(await call(url, 'POST', '/subjects/bad/versions', { schema }), 422, 42201);
    }
    expectError(await call(url, 'POST', '/subjects/bad/versions', {}), 422, 42201);
    expectError(
      await call(url, 'POST', '/subjects/bad/versions', { schema: V1, schemaType: 'PROTOBUF' }),
      422,
      42201,
    );
    expectError(
      await call(url, 'POST', '/subjects/bad/versions', { schema: record('B', [['f', 'int', 'text']]) }),
      422,
      42201,
    );
    expectError(await call(url, 'POST', '/subjects/bad/versions', '{"schema": '), 400, 400);
    expectError(await call(url, 'POST', '/subjects/bad/versions', [1, 2]), 422, 422);
    const deep = '['.repeat(200) + '"int"' + ']'.repeat(200);
    expectError(await call(url, 'POST', '/subjects/bad/versions', { schema: deep }), 422, 42201);
    expect((await call(url, 'GET', '/subjects?deleted=true')).body).not.toContain('bad');
  });

  it('answers 413 for a body over the limit and 404 for unknown routes', async () => {
    const huge = {
      schema: JSON.stringify({ type: 'enum', name: 'E', symbols: [], doc: 'x'.repeat(2 * 1024 * 1024) }),
    };
    expectError(await call(url, 'POST', '/subjects/huge/versions', huge), 413, 413);
    expectError(await call(url, 'GET', '/no/such/route'), 404, 404);
  });

  it('soft-deletes, then permanently deletes, a version (40406, 40407)', async () => {
    await call(url, 'POST', '/subjects/del-v/versions', { schema: V1 });
    await call(url, 'POST', '/subjects/del-v/versions', { schema: V2 });
    expectError(await call(url, 'DELETE', '/subjects/del-v/versions/1?permanent=true'), 404, 40407);
    expect((await call(url, 'DELETE', '/subjects/del-v/versions/1')).body).toBe(1);
    expectError(await call(url, 'DELETE', '/subjects/del-v/versions/1'), 404, 40406);
    expect((await call(url, 'GET', '/subjects/del-v/versions')).body).toEqual([2]);
    expect((await call(url, 'GET', '/subjects/del-v/versions?deleted=true')).body).toEqual([1, 2]);
    expectError(await call(url, 'GET', '/subjects/del-v/versions/1'), 404, 40402);
    expect((await call(url, 'GET', '/subjects/del-v/versions/1?deleted=true')).body.version).toBe(1);
    expect((await call(url, 'DELETE', '/subjects/del-v/versions/1?permanent=true')).body).toBe(1);
    expectError(await call(url, 'GET', '/subjects/del-v/versions/1?deleted=true'), 404, 40402);
    expectError(await call(url, 'DELETE', '/subjects/del-v/versions/7'), 404, 40402);
    expectError(await call(url, 'DELETE', '/subjects/nobody/versions/1'), 404, 40401);
  });

  it('soft-deletes, then permanently deletes, a subject (40404, 40405)', async () => {
    const { body } = await call(url, 'POST', '/subjects/del-s/versions', {
      schema: record('Only', [['x', 'long']]),
    });
    await call(url, 'PUT', '/config/del-s', { compatibility: 'NONE' });
    expectError(await call(url, 'DELETE', '/subjects/del-s?permanent=true'), 404, 40405);
    expect((await call(url, 'DELETE', '/subjects/del-s')).body).toEqual([1]);
    expectError(await call(url, 'DELETE', '/subjects/del-s'), 404, 40404);
    expect((await call(url, 'GET', '/subjects')).body).not.toContain('del-s');
    expect((await call(url, 'GET', '/subjects?deleted=true')).body).toContain('del-s');
    expectError(await call(url, 'GET', '/subjects/del-s/versions'), 404, 40401);
    // The schema keeps its id while a soft-deleted version still points at it.
    expect((await call(url, 'GET', `/schemas/ids/${body.id}`)).status).toBe(200);
    expect((await call(url, 'DELETE', '/subjects/del-s?permanent=true')).body).toEqual([1]);
    expectError(await call(url, 'GET', `/schemas/ids/${body.id}`), 404, 40403);
    expectError(await call(url, 'GET', '/config/del-s'), 404, 40408);
    expectError(await call(url, 'DELETE', '/subjects/del-s'), 404, 40401);
  });

  it('keeps global and per-subject compatibility config (40408, 42203)', async () => {
    expect((await call(url, 'GET', '/config')).body).toEqual({ compatibilityLevel: 'BACKWARD' });
    expectError(await call(url, 'GET', '/config/users-value'), 404, 40408);
    expect((await call(url, 'GET', '/config/users-value?defaultToGlobal=true')).body).toEqual({
      compatibilityLevel: 'BACKWARD',
    });
    expect((await call(url, 'PUT', '/config/users-value', { compatibility: 'full' })).body).toEqual({
      compatibility: 'FULL',
    });
    expect((await call(url, 'GET', '/config/users-value')).body).toEqual({ compatibilityLevel: 'FULL' });
    expectError(await call(url, 'PUT', '/config/users-value', { compatibility: 'SIDEWAYS' }), 422, 42203);
    expectError(await call(url, 'PUT', '/config', {}), 422, 42203);
    expect((await call(url, 'DELETE', '/config/users-value')).body).toEqual({ compatibilityLevel: 'FULL' });
    expectError(await call(url, 'DELETE', '/config/users-value'), 404, 40408);
    expect((await call(url, 'PUT', '/config', { compatibility: 'NONE' })).body).toEqual({
      compatibility: 'NONE',
    });
    expect((await call(url, 'DELETE', '/config')).body).toEqual({ compatibilityLevel: 'NONE' });
    expect((await call(url, 'GET', '/config')).body).toEqual({ compatibilityLevel: 'BACKWARD' });
  });

  it('keeps global and per-subject mode; READONLY refuses writes (40409, 42204, 42205)', async () => {
    expect((await call(url, 'GET', '/mode')).body).toEqual({ mode: 'READWRITE' });
    expectError(await call(url, 'GET', '/mode/users-value'), 404, 40409);
    expectError(await call(url, 'PUT', '/mode', { mode: 'WRITEONLY' }), 422, 42204);
    expect((await call(url, 'PUT', '/mode/users-value', { mode: 'READONLY' })).body).toEqual({
      mode: 'READONLY',
    });
    expectError(
      await call(url, 'POST', '/subjects/users-value/versions', {
        schema: record('User', [['z', 'int', 1]]),
      }),
      422,
      42205,
    );
    expectError(await call(url, 'DELETE', '/subjects/users-value/versions/1'), 422, 42205);
    expect((await call(url, 'GET', '/subjects/users-value/versions/latest')).status).toBe(200);
    expect((await call(url, 'DELETE', '/mode/users-value')).body).toEqual({ mode: 'READONLY' });
    expectError(await call(url, 'PUT', '/mode', { mode: 'IMPORT' }), 422, 42205);
    expect((await call(url, 'GET', '/mode/users-value?defaultToGlobal=true')).body).toEqual({
      mode: 'READWRITE',
    });
  });

  it('imports with explicit ids only in IMPORT mode (42205, 42207)', async () => {
    const schema = record('Imported', [['k', 'string']]);
    expectError(
      await call(url, 'POST', '/subjects/imp/versions', { schema, id: 5000, version: 3 }),
      422,
      42205,
    );
    expect((await call(url, 'PUT', '/mode/imp', { mode: 'IMPORT' })).body).toEqual({ mode: 'IMPORT' });
    expect(
      (await call(url, 'POST', '/subjects/imp/versions', { schema, id: 5000, version: 3 })).body,
    ).toEqual({
      id: 5000,
    });
    const other = record('Imported', [['k', 'long']]);
    expectError(
      await call(url, 'POST', '/subjects/imp/versions', { schema: other, id: 5000, version: 4 }),
      422,
      42207,
    );
    expect((await call(url, 'GET', '/subjects/imp/versions/3')).body.id).toBe(5000);
    await call(url, 'DELETE', '/mode/imp');
    // Ids allocated later never collide with imported ones.
    const next = await call(url, 'POST', '/subjects/after-import/versions', {
      schema: record('After', [['a', 'int']]),
    });
    expect(next.body.id).toBeGreaterThan(5000);
  });

  it('resolves schema references and protects referenced versions (42206)', async () => {
    const address = JSON.stringify({
      type: 'record',
      name: 'Address',
      namespace: 'lab',
      fields: [{ name: 'city', type: 'string' }],
    });
    await call(url, 'POST', '/subjects/address/versions', { schema: address });
    const person = JSON.stringify({
      type: 'record',
      name: 'Person',
      namespace: 'lab',
      fields: [{ name: 'home', type: 'lab.Address' }],
    });
    expectError(await call(url, 'POST', '/subjects/person/versions', { schema: person }), 422, 42201);
    const references = [{ name: 'lab.Address', subject: 'address', version: 1 }];
    const registered = await call(url, 'POST', '/subjects/person/versions', { schema: person, references });
    expect(registered.status, registered.text).toBe(200);
    const v = await call(url, 'GET', '/subjects/person/versions/1');
    expect(v.body.references).toEqual(references);
    expect((await call(url, 'GET', `/schemas/ids/${registered.body.id}`)).body.references).toEqual(
      references,
    );
    expect((await call(url, 'GET', '/subjects/address/versions/1/referencedby')).body).toEqual([
      registered.body.id,
    ]);
    expectError(await call(url, 'DELETE', '/subjects/address/versions/1'), 422, 42206);
    expectError(await call(url, 'DELETE', '/subjects/address'), 422, 42206);
    expect((await call(url, 'POST', '/subjects/person', { schema: person, references })).body.version).toBe(
      1,
    );
    const missing = [{ name: 'lab.Address', subject: 'address', version: 9 }];
    expectError(
      await call(url, 'POST', '/subjects/p2/versions', { schema: person, references: missing }),
      422,
      42201,
    );
  });

  it('refuses bad subject names with 42208', async () => {
    expectError(await call(url, 'POST', '/subjects/a%01b/versions', { schema: V1 }), 422, 42208);
  });

  it('serves subjects whose names need URL encoding', async () => {
    const subject = 'orders/v1 value';
    const path = `/subjects/${encodeURIComponent(subject)}/versions`;
    expect((await call(url, 'POST', path, { schema: V1 })).status).toBe(200);
    expect((await call(url, 'GET', '/subjects')).body).toContain(subject);
    expect((await call(url, 'GET', `${path}/1`)).body.subject).toBe(subject);
  });

  it('still serves the common endpoints', async () => {
    expect((await call(url, 'GET', '/health')).status).toBe(200);
    expect(
      (await call(url, 'GET', '/openapi.json')).body.paths['/subjects/{subject}/versions'],
    ).toBeDefined();
    expect((await call(url, 'GET', '/metrics')).text).toContain('http_request_duration_seconds');
  });
});
