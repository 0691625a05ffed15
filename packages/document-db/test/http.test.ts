// The HTTP front door: Extended JSON in and out, problem+json for bad input, limits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentDbNode } from '../src/node.js';
import { startTestNode } from './support/node.js';

let node: DocumentDbNode;
beforeAll(async () => {
  node = await startTestNode();
});
afterAll(() => node?.service.close());

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(node.httpUrl + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as any };
}

describe('document-db over HTTP', () => {
  it('the Figure 2-1 résumé as one document: insert, find by a nested field, fetch by _id', async () => {
    const resume = {
      _id: { $oid: '5f1d7a3e9b1e8a3c4d5e6f70' },
      user_id: 251,
      first_name: 'Bill',
      last_name: 'Gates',
      summary: 'Co-chair of the Bill & Melinda Gates... Active blogger.',
      region_id: 'us:91',
      industry_id: 131,
      photo_url: '/p/7/000/253/05b/308dd6e.jpg',
      positions: [
        { job_title: 'Co-chair', organization: 'Bill & Melinda Gates Foundation' },
        { job_title: 'Co-founder, Chairman', organization: 'Microsoft' },
      ],
      education: [
        { school_name: 'Harvard University', start: 1973, end: 1975 },
        { school_name: 'Lakeside School, Seattle', start: null, end: null },
      ],
      contact_info: { blog: 'http://thegatesnotes.com', twitter: 'http://twitter.com/BillGates' },
      updated: { $date: '2024-01-02T03:04:05Z' },
    };
    const inserted = await call('POST', '/db/linkedin/users/insert', { document: resume });
    expect(inserted.status).toBe(201);
    expect(inserted.body.insertedIds).toEqual([{ $oid: '5f1d7a3e9b1e8a3c4d5e6f70' }]);
    const found = await call('POST', '/db/linkedin/users/find', {
      filter: { 'positions.organization': 'Microsoft', 'education.start': { $lt: 1980 } },
      projection: { first_name: 1, 'positions.job_title': 1, updated: 1 },
    });
    expect(found.body.documents).toEqual([
      {
        _id: { $oid: '5f1d7a3e9b1e8a3c4d5e6f70' },
        first_name: 'Bill',
        positions: [{ job_title: 'Co-chair' }, { job_title: 'Co-founder, Chairman' }],
        updated: { $date: '2024-01-02T03:04:05Z' },
      },
    ]);
    const byId = await call('GET', '/db/linkedin/users/docs/5f1d7a3e9b1e8a3c4d5e6f70');
    expect(byId.body.last_name).toBe('Gates');
    expect((await call('GET', '/db/linkedin/users/docs/nope')).status).toBe(404);
  });

  it('update, upsert, delete, indexes and explain', async () => {
    await call('POST', '/db/shop/items/insert', {
      documents: [
        { _id: 1, qty: 5 },
        { _id: 2, qty: 9 },
      ],
    });
    expect(
      (await call('POST', '/db/shop/items/update', { filter: { _id: 1 }, update: { $inc: { qty: 1 } } }))
        .body,
    ).toEqual({ matchedCount: 1, modifiedCount: 1 });
    expect(
      (
        await call('POST', '/db/shop/items/update', {
          filter: { _id: 3 },
          update: { $set: { qty: 1 } },
          upsert: true,
        })
      ).body,
    ).toEqual({ matchedCount: 0, modifiedCount: 0, upsertedId: 3 });
    expect((await call('POST', '/db/shop/items/indexes', { key: { qty: 1 } })).status).toBe(201);
    expect(
      (await call('GET', '/db/shop/items/indexes')).body.indexes.map((i: { name: string }) => i.name),
    ).toEqual(['_id_', 'qty_1']);
    const explain = await call('POST', '/db/shop/items/explain', { filter: { qty: { $gt: 5 } } });
    expect(explain.body.queryPlanner.winningPlan.inputStage).toMatchObject({
      stage: 'IXSCAN',
      indexBounds: { qty: ['(5, inf]'] },
    });
    expect(explain.body.executionStats).toMatchObject({
      nReturned: 2,
      totalKeysExamined: 2,
      totalDocsExamined: 2,
    });
    expect((await call('POST', '/db/shop/items/delete', { filter: { qty: { $lt: 7 } } })).body).toEqual({
      deletedCount: 2,
    });
    expect((await call('DELETE', '/db/shop/items/indexes?name=qty_1')).body).toEqual({ nIndexesWas: 2 });
    expect((await call('DELETE', '/db/shop/items/indexes?name=qty_1')).status).toBe(404);
  });

  it('bad input is problem+json with a DDIA code and MongoDB code, never a 500', async () => {
    const cases: [string, string, unknown, number, string][] = [
      ['POST', '/db/t/c/find', { filter: { a: { $bogus: 1 } } }, 400, 'DDIA_ERR_DOCDB_BAD_VALUE'],
      ['POST', '/db/t/c/find', '{"filter":', 400, 'DDIA_ERR_BAD_JSON'],
      ['POST', '/db/t/c/find', { filter: 'x' }, 400, 'DDIA_ERR_VALIDATION'],
      [
        'POST',
        '/db/t/c/update',
        { filter: {}, update: { $set: { _id: 2 } } },
        400,
        'DDIA_ERR_DOCDB_IMMUTABLE_FIELD',
      ],
      [
        'POST',
        '/db/t/c/update',
        { filter: {}, update: { $nope: { a: 1 } } },
        400,
        'DDIA_ERR_DOCDB_FAILED_TO_PARSE',
      ],
      ['POST', '/db/bad.name/c/find', {}, 400, 'DDIA_ERR_DOCDB_INVALID_NAMESPACE'],
      ['POST', '/db/t/c/indexes', { key: { a: 2 } }, 400, 'DDIA_ERR_DOCDB_BAD_VALUE'],
      ['POST', '/db/t/c/find', { filter: { _id: { $oid: 'zz' } } }, 400, 'DDIA_ERR_BAD_REQUEST'],
    ];
    await call('POST', '/db/t/c/insert', { document: { _id: 1 } });
    for (const [method, path, body, status, code] of cases) {
      const res = await call(method, path, body);
      expect({ path, body, status: res.status, code: res.body.code }).toEqual({ path, body, status, code });
      expect(res.type).toContain('application/problem+json');
    }
    const dup = await call('POST', '/db/t/c/insert', { document: { _id: 1 } });
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({
      code: 'DDIA_ERR_DOCDB_DUPLICATE_KEY',
      mongoCode: 11000,
      insertedCount: 0,
    });
  });

  it("a document over 16 MiB gets MongoDB's BSONObjectTooLarge; nesting past 100 is refused", async () => {
    const big = await call('POST', '/db/t/big/insert', {
      document: { s: 'x'.repeat(16 * 1024 * 1024 + 10) },
    });
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ mongoCode: 10334, codeName: 'BSONObjectTooLarge' });
    let deep: Record<string, unknown> = { v: 1 };
    for (let i = 0; i < 120; i++) deep = { d: deep };
    const nested = await call('POST', '/db/t/big/insert', { document: deep });
    expect(nested.status).toBe(400);
    expect(nested.body.code).toBe('DDIA_ERR_DOCDB_TOO_DEEP');
  });

  it('exposes health, metrics and openapi', async () => {
    expect((await fetch(`${node.httpUrl}/health`)).status).toBe(200);
    const openapi = await call('GET', '/openapi.json');
    expect(Object.keys(openapi.body.paths)).toContain('/db/{db}/{coll}/find');
  });
});
