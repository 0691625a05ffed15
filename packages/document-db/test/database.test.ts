import { BSON, Int32, Long, ObjectId } from 'bson';
import fc from 'fast-check';
import { find as mingoFind } from 'mingo';
import { describe, expect, it } from 'vitest';
import { compareValues } from '../src/core/values.js';
import { explainDoc } from '../src/storage/explain.js';
import { docKey } from '../src/storage/keys.js';
import { docs, filter, sortSpec } from './support/arbitraries.js';
import { mingoDiverges, sortComparable } from './support/mingo-divergence.js';
import { openDb } from './support/open.js';

type Doc = Record<string, unknown>;
const ids = (rows: Doc[]) => rows.map((d) => d['_id']);

describe('collections and indexes on the LSM engine', () => {
  it('inserts, finds, updates and deletes; reopens with the catalog and indexes intact', async () => {
    const { db, store, dataDir } = await openDb('lsm');
    await db.createIndex('shop', 'items', { key: { sku: 1 }, unique: true });
    const { inserted, errors } = await db.insertMany('shop', 'items', [
      { _id: 1, sku: 'a', qty: 5, tags: ['x', 'y'] },
      { _id: 2, sku: 'b', qty: 1 },
    ]);
    expect(errors).toEqual([]);
    expect(inserted).toEqual([1, 2]);
    expect(ids((await db.find('shop', 'items', { filter: { tags: 'y' } })).docs)).toEqual([1]);
    const up = await db.update('shop', 'items', { q: { sku: 'b' }, u: { $inc: { qty: 2 } } });
    expect(up).toMatchObject({ matched: 1, modified: 1 });
    expect((await db.find('shop', 'items', { filter: { _id: 2 } })).docs[0]).toEqual({
      _id: 2,
      sku: 'b',
      qty: 3,
    });
    expect((await db.delete('shop', 'items', { qty: { $gt: 4 } }, 0)).deleted).toBe(1);
    await store.close();
    const again = await openDb('lsm', dataDir);
    expect(again.db.indexList(again.db.collection('shop', 'items')).map((i) => i['name'])).toEqual([
      '_id_',
      'sku_1',
    ]);
    const found = await again.db.find('shop', 'items', { filter: { sku: 'b' } });
    expect(found.plan.kind).toBe('IXSCAN');
    expect(ids(found.docs)).toEqual([2]);
    expect(await again.db.checkIndexes('shop', 'items')).toEqual([{ index: 'sku_1', missing: 0, extra: 0 }]);
    await again.store.close();
  });

  it('a unique index refuses a duplicate with E11000 (code 11000) and writes nothing', async () => {
    const { db, store } = await openDb();
    await db.createIndex('t', 'u', { key: { email: 1 }, unique: true });
    await db.insertMany('t', 'u', [{ _id: 1, email: 'a@x' }]);
    const { inserted, errors } = await db.insertMany('t', 'u', [
      { _id: 2, email: 'a@x' },
      { _id: 3, email: 'c@x' },
    ]);
    expect(inserted).toEqual([]);
    expect(errors[0]).toMatchObject({ index: 0, code: 11000, keyValue: { email: 'a@x' } });
    expect(errors[0]!.errmsg).toMatch(/^E11000 duplicate key error collection: t.u index: email_1 dup key/);
    expect(ids((await db.find('t', 'u', {})).docs)).toEqual([1]);
    const unordered = await db.insertMany('t', 'u', [{ _id: 1 }, { _id: 4, email: 'd@x' }], false);
    expect(unordered.inserted).toEqual([4]);
    expect(unordered.errors[0]).toMatchObject({ index: 0, code: 11000 });
    await expect(db.update('t', 'u', { q: { _id: 4 }, u: { $set: { email: 'a@x' } } })).rejects.toThrow(
      /E11000/,
    );
    await expect(db.createIndex('t', 'u', { key: { dup: 1 }, unique: true })).rejects.toThrow(/E11000/);
    expect(await db.checkIndexes('t', 'u')).toEqual([{ index: 'email_1', missing: 0, extra: 0 }]);
    // Duplicates inside one batch: the second of each pair is refused, the rest written.
    const batch = await db.insertMany(
      't',
      'u',
      [
        { _id: 10, email: 'x@x' },
        { _id: 11, email: 'x@x' },
        { _id: 10, email: 'y@x' },
        { _id: 12, email: 'z@x' },
      ],
      false,
    );
    expect(batch.inserted).toEqual([10, 12]);
    expect(batch.errors.map((e) => [e.index, e.code])).toEqual([
      [1, 11000],
      [2, 11000],
    ]);
    expect(await db.checkIndexes('t', 'u')).toEqual([{ index: 'email_1', missing: 0, extra: 0 }]);
    await store.close();
  });

  it('the planner picks IXSCAN with bounds for indexed predicates and COLLSCAN otherwise; explain has MongoDB shape', async () => {
    const { db, store } = await openDb();
    const rows = Array.from({ length: 200 }, (_, i) => ({ _id: i, n: i % 50, s: `k${i % 7}` }));
    await db.insertMany('t', 'c', rows);
    await db.createIndex('t', 'c', { key: { n: 1, s: -1 } });
    const options = { filter: { n: 7 } };
    const eq = await db.find('t', 'c', options);
    expect(eq.plan.kind).toBe('IXSCAN');
    expect(eq.stats).toMatchObject({ nReturned: 4, keysExamined: 4, docsExamined: 4 });
    const ex = explainDoc('t.c', options, eq, 'executionStats') as Doc & {
      queryPlanner: { winningPlan: Doc & { inputStage: Doc } };
      executionStats: Doc;
    };
    expect(ex.queryPlanner.winningPlan.stage).toBe('FETCH');
    expect(ex.queryPlanner.winningPlan.inputStage).toMatchObject({
      stage: 'IXSCAN',
      indexName: 'n_1_s_-1',
      indexBounds: { n: ['[7, 7]'], s: ['[MinKey, MaxKey]'] },
    });
    expect(ex.executionStats).toMatchObject({ nReturned: 4, totalKeysExamined: 4, totalDocsExamined: 4 });
    const range = await db.find('t', 'c', { filter: { n: { $gte: 10, $lt: 12 } } });
    expect(range.stats).toMatchObject({ nReturned: 8, keysExamined: 8 });
    const scan = await db.find('t', 'c', { filter: { s: 'k1' } });
    expect(scan.plan.kind).toBe('COLLSCAN');
    expect(scan.stats.docsExamined).toBe(200);
    // The index gives the order: no SORT stage, and the limit stops the scan early.
    const sorted = await db.find('t', 'c', { filter: {}, sort: { n: -1, s: 1 }, limit: 3 });
    expect(sorted.plan).toMatchObject({ kind: 'IXSCAN', providesSort: true, direction: -1 });
    expect(sorted.stats.keysExamined).toBe(3);
    expect(sorted.docs.map((d) => d['n'])).toEqual([49, 49, 49]);
    const byId = await db.find('t', 'c', { filter: { _id: { $in: [3, 5] } } });
    expect(byId.plan).toMatchObject({ kind: 'IXSCAN', index: { name: '_id_' } });
    expect(byId.stats.docsExamined).toBe(2);
    await store.close();
  });

  it('exact bounds: a single-field equality or range on a scalar is answered as stored bytes, the same documents as a collection scan', async () => {
    const { db } = await openDb();
    const oid = new ObjectId('0123456789abcdef01234567');
    // Every type bracket near each other, a missing field, null, a document; no arrays yet.
    const values: unknown[] = [1, 2, 2.5, new Int32(2), Long.fromNumber(2), -0, 'a', 'b', '', true, false];
    values.push(new Date(5), new Date(7), oid, null, { x: 1 }, undefined);
    await db.insertMany(
      't',
      'x',
      values.map((v, i) => (v === undefined ? { _id: i } : { _id: i, v })),
    );
    await db.createIndex('t', 'x', { key: { v: 1 } });
    const same = async (filter: Doc, exact: boolean) => {
      const stored = await db.find('t', 'x', { filter, stored: true });
      const scan = await db.find('t', 'x', { filter, hint: { $natural: 1 } });
      expect(stored.stored !== undefined, JSON.stringify(filter)).toBe(exact);
      const got = stored.stored ? stored.stored.map((b) => BSON.deserialize(b)['_id']) : ids(stored.docs);
      expect([...got].sort(), JSON.stringify(filter)).toEqual([...ids(scan.docs)].sort());
    };
    for (const v of [2, 0, 'a', '', true, new Date(5), oid]) {
      await same({ v }, true);
      await same({ v: { $eq: v } }, true);
      await same({ v: { $gt: v } }, true);
      await same({ v: { $lte: v } }, true);
    }
    await same({ v: { $gte: 1, $lt: 2.5 } }, true);
    await same({ v: { $gt: 'a', $lte: 'b' } }, true);
    // Not exact: null (also matches a missing field), other operators, other fields, a dotted path.
    await same({ v: null }, false);
    await same({ v: { $ne: 2 } }, false);
    await same({ v: { $in: [1, 2] } }, false);
    await same({ v: 2, _id: 3 }, false);
    await same({ 'v.x': 1 }, false);
    await same({ v: { x: 1 } }, false);
    // A limit and a skip apply to the stored answer too.
    const page = await db.find('t', 'x', { filter: { v: { $gte: 0 } }, skip: 1, limit: 2, stored: true });
    expect(page.stored?.map((b) => BSON.deserialize(b)['v'])).toEqual([1, 2]);
    // Once the index holds an array it is multikey: a range could read one document twice.
    await db.insertMany('t', 'x', [{ _id: 100, v: [1, 2] }]);
    await same({ v: { $gte: 1 } }, false);
    await same({ v: 2 }, false);
  });

  it('multikey and sparse indexes; parallel arrays refused', async () => {
    const { db, store } = await openDb();
    await db.createIndex('t', 'm', { key: { tags: 1 } });
    await db.createIndex('t', 'm', { key: { opt: 1 }, sparse: true });
    await db.insertMany('t', 'm', [
      { _id: 1, tags: ['a', 'b'], opt: 1 },
      { _id: 2, tags: ['b', 'c'] },
      { _id: 3, tags: [] },
    ]);
    const tags = await db.find('t', 'm', { filter: { tags: { $in: ['b', 'c'] } } });
    expect(tags.plan).toMatchObject({ kind: 'IXSCAN', index: { name: 'tags_1', multikey: true } });
    expect(ids(tags.docs)).toEqual([1, 2]);
    expect((await db.find('t', 'm', { filter: { opt: 1 } })).plan).toMatchObject({
      index: { name: 'opt_1' },
    });
    // {opt: null} must see the documents the sparse index leaves out: no IXSCAN on it.
    const missing = await db.find('t', 'm', { filter: { opt: null } });
    expect(missing.plan.kind).toBe('COLLSCAN');
    expect(ids(missing.docs)).toEqual([2, 3]);
    await db.createIndex('t', 'm', { key: { tags: 1, other: 1 } });
    const { errors } = await db.insertMany('t', 'm', [{ _id: 4, tags: [1], other: [2] }]);
    expect(errors[0]).toMatchObject({ code: 171 });
    await store.close();
  });

  it('limits: a document over 16 MiB and nesting deeper than 100 are refused with MongoDB codes', async () => {
    const { db, store } = await openDb();
    const big = { _id: 1, s: 'x'.repeat(16 * 1024 * 1024) };
    const { errors } = await db.insertMany('t', 'l', [big]);
    expect(errors[0]).toMatchObject({ code: 10334 });
    expect(errors[0]!.errmsg).toMatch(/BSONObj size: \d+ \(0x[0-9A-F]+\) is invalid/);
    let deep: Doc = { v: 1 };
    for (let i = 0; i < 101; i++) deep = { d: deep };
    expect((await db.insertMany('t', 'l', [{ _id: 2, deep }])).errors[0]).toMatchObject({ code: 15 });
    await store.close();
  });
});

describe('find through the engine: differential against mingo, with and without indexes', () => {
  it('the same documents in the same order as mingo, whatever plan is chosen', async () => {
    const { db, store } = await openDb();
    let collection = 0;
    await fc.assert(
      fc.asyncProperty(docs, filter, sortSpec, fc.boolean(), async (generated, f, s, indexed) => {
        let rows = generated;
        const name = `c${collection++}`;
        if (indexed) {
          await db.createIndex('diff', name, { key: { a: 1 } });
          await db.createIndex('diff', name, { key: { 'b.a': -1, c: 1 } });
        }
        // With the compound index, a document with arrays in both b.a and c is refused (code 171), as MongoDB does.
        const { inserted } = await db.insertMany('diff', name, rows, false);
        rows = rows.filter((d) => inserted.includes(d._id));
        const sort = { ...s, _id: 1 };
        let theirs: unknown[];
        try {
          theirs = ids(mingoFind(rows, f).sort(sort).all() as Doc[]);
        } catch {
          return;
        }
        if (rows.some((d) => mingoDiverges(f, d))) return;
        // The order is compared where mingo's agrees with MongoDB's (named tests in projection-sort.test.ts).
        const hasArrays = !sortComparable(rows, s);
        const viaPlanner = await db.find('diff', name, { filter: f, sort });
        const viaScan = await db.find('diff', name, { filter: f, sort, hint: { $natural: 1 } });
        expect(ids(viaPlanner.docs)).toEqual(ids(viaScan.docs));
        if (hasArrays) expect([...ids(viaPlanner.docs)].sort()).toEqual([...theirs].sort());
        else expect(ids(viaPlanner.docs)).toEqual(theirs);
        if (indexed)
          expect((await db.checkIndexes('diff', name)).every((r) => r.missing === 0 && r.extra === 0)).toBe(
            true,
          );
        await db.dropCollection('diff', name);
      }),
      { numRuns: 300 },
    );
    await store.close();
  });
});

describe('index checker', () => {
  it('after random inserts, updates and deletes every index equals a rebuild from the collection', async () => {
    const { db, store } = await openDb('lsm');
    await db.createIndex('chk', 'c', { key: { a: 1 } });
    await db.createIndex('chk', 'c', { key: { 'b.a': 1, c: -1 } });
    await db.createIndex('chk', 'c', { key: { c: 1 }, sparse: true });
    await db.createIndex('chk', 'c', { key: { u: 1 }, unique: true, sparse: true });
    const op = fc.oneof(
      fc.record({ kind: fc.constant('insert' as const), docs }),
      fc.record({ kind: fc.constant('update' as const), filter, value: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ kind: fc.constant('delete' as const), filter }),
    );
    const ops = fc.sample(op, { numRuns: 150, seed: 42 });
    for (const o of ops) {
      if (o.kind === 'insert') await db.insertMany('chk', 'c', o.docs, false);
      else if (o.kind === 'update') {
        await db
          .update('chk', 'c', {
            q: o.filter,
            u: { $set: { a: [o.value, 'x'], u: o.value, 'b.a': o.value } },
            multi: true,
          })
          .catch((error: Error) => expect(error.message).toMatch(/E11000|Cannot create field|parallel/));
      } else await db.delete('chk', 'c', o.filter, 0);
    }
    const report = await db.checkIndexes('chk', 'c');
    expect(report).toHaveLength(4);
    for (const r of report) expect(r).toMatchObject({ missing: 0, extra: 0 });
    expect((await db.find('chk', 'c', {})).docs.length).toBeGreaterThan(0);
    await store.close();
  });

  it("canary: a document written behind the indexes' back is reported missing from them", async () => {
    const { db, store } = await openDb();
    await db.createIndex('chk', 'k', { key: { a: 1 } });
    await db.insertMany('chk', 'k', [{ _id: 1, a: 1 }]);
    const meta = db.collection('chk', 'k')!;
    await store.put(docKey(meta.id, 2), BSON.serialize({ _id: 2, a: 2 }));
    expect(await db.checkIndexes('chk', 'k')).toEqual([{ index: 'a_1', missing: 1, extra: 0 }]);
    await store.close();
  });
});

describe('$lookup through the engine', () => {
  // Values that stress the equality join: numbers, strings, null and missing, arrays (matched
  // by element on both sides), nested arrays (not walked), documents.
  const value = fc.oneof(
    fc.constantFrom(1, 2, 2.5, 'a', 'b', null, true),
    fc.constant({ x: 1 }),
    fc.array(fc.constantFrom(1, 'a', null, 3), { maxLength: 3 }),
    fc.constant([[1]]),
  );
  const row = fc.record({ k: value }, { requiredKeys: [] });
  const KEYED = [1, 2, 'a', 'b', true, { x: 1 }];

  /** The join as the stage defines it: every local against every foreign document (a nested loop). */
  function reference(locals: Doc[], foreign: Doc[], field: string): Doc[] {
    const members = (v: unknown) => (Array.isArray(v) ? v : [v ?? null]);
    return locals.map((l) => ({
      ...l,
      as: foreign.filter((f) =>
        members(f[field]).some((t) => members(l['k']).some((m) => compareValues(t, m) === 0)),
      ),
    }));
  }

  it('joins as a nested loop would: with an index on the foreign field, on _id, and without an index', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(row, { maxLength: 8 }), fc.array(row, { maxLength: 12 }), async (l, f) => {
        const { db, store } = await openDb();
        await db.insertMany(
          't',
          'local',
          l.map((r, i) => ({ _id: i, ...r })),
        );
        const foreign = f.map((r, i) => ({ _id: 100 + i, ...r }));
        await db.insertMany('t', 'plain', foreign);
        await db.insertMany('t', 'indexed', foreign);
        await db.createIndex('t', 'indexed', { key: { k: 1 } });
        await db.insertMany(
          't',
          'keyed',
          KEYED.map((k, n) => ({ _id: k, n })),
        );
        const stored = async (coll: string) => (await db.find('t', coll, {})).docs;
        const run = (from: string, foreignField: string) =>
          db.aggregate('t', 'local', [{ $lookup: { from, localField: 'k', foreignField, as: 'as' } }]);
        const locals = await stored('local');
        const expected = reference(locals, await stored('plain'), 'k');
        expect(await run('plain', 'k')).toEqual(expected);
        expect(await run('indexed', 'k')).toEqual(expected);
        expect(await run('keyed', '_id')).toEqual(reference(locals, await stored('keyed'), '_id'));
        await store.close();
      }),
      { numRuns: 300 },
    );
  });
});
