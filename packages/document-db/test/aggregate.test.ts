import fc from 'fast-check';
import { aggregate as mingoAggregate } from 'mingo';
import { describe, expect, it } from 'vitest';
import { runPipeline } from '../src/core/aggregate.js';
import { DocDbError } from '../src/core/errors.js';
import { sortDocs } from '../src/core/sort.js';
import { isDoc } from '../src/core/values.js';
import { docs, FIELDS, RUNS } from './support/arbitraries.js';
import { openDb } from './support/open.js';

type Doc = Record<string, unknown>;
const env = { collection: async () => [] as Doc[] };
const field = fc.constantFrom(...FIELDS);
const numericField = fc.constantFrom('n', 'm');

/** Documents with numbers in n and m (so sums and averages mean something) plus generated fields. */
const rows = docs.chain((ds) =>
  fc
    .tuple(...ds.map(() => fc.tuple(fc.integer({ min: -5, max: 5 }), fc.integer({ min: 0, max: 3 }))))
    .map((nums) => ds.map((d, i) => ({ ...d, n: nums[i]![0], m: nums[i]![1] }))),
);

const accumulator = fc.oneof(
  numericField.map((f) => ({ $sum: `$${f}` })),
  numericField.map((f) => ({ $avg: `$${f}` })),
  numericField.map((f) => ({ $min: `$${f}` })),
  numericField.map((f) => ({ $max: `$${f}` })),
  fc.constant({ $sum: 1 }),
  fc.constant({ $count: {} }),
  fc.constant({ $push: '$m' }),
);

const stage: fc.Arbitrary<Doc> = fc.oneof(
  fc.record({
    $match: fc.oneof(
      numericField.map((f) => ({ [f]: { $gte: 0 } })),
      field.map((f) => ({ [f]: { $exists: true } })),
    ),
  }),
  fc.record({
    $group: fc.record({
      // '$n' has a single-field index in the engine's property below: a counting group on it
      // is answered from the index's keys (countGroup).
      _id: fc.oneof(fc.constant(null), fc.constant('$m'), fc.constant('$n')),
      total: accumulator,
      other: accumulator,
    }),
  }),
  fc.record({ $sort: fc.constantFrom({ n: 1, _id: 1 }, { m: -1, _id: 1 }) }),
  fc.record({ $limit: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ $skip: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ $project: fc.constantFrom({ n: 1, m: 1 }, { a: 0 }, { s: { $add: ['$n', '$m'] }, m: 1 }) }),
  fc.record({
    $addFields: fc.constantFrom({ twice: { $multiply: ['$n', 2] } }, { big: { $gt: ['$n', 2] } }),
  }),
  fc.record({ $count: fc.constant('count') }),
);

/** Groups come out in no defined order: compare as sets when a $group or $bucket is not followed by a $sort. */
function normalize(out: Doc[], pipeline: Doc[]): string {
  const lastGroup = pipeline.findLastIndex((s) => '$group' in s);
  const lastSort = pipeline.findLastIndex((s) => '$sort' in s);
  const unordered = lastGroup >= 0 && lastSort < lastGroup;
  const hasLimitAfterGroup = pipeline.some((s, i) => i > lastGroup && ('$limit' in s || '$skip' in s));
  const rows = unordered ? sortDocs(out, [['_id', 1]]) : out;
  // Field order aside: mingo writes $project's fields in the projection's order.
  return JSON.stringify(unordered && hasLimitAfterGroup ? rows.length : rows, (_key, v) =>
    isDoc(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

describe('aggregation: differential against mingo', () => {
  it("pipelines of $match $group $sort $limit $skip $project $addFields $count $bucket give mingo's answer", async () => {
    await fc.assert(
      fc.asyncProperty(rows, fc.array(stage, { minLength: 1, maxLength: 4 }), async (input, pipeline) => {
        // $count of nothing outputs nothing in MongoDB and {count: 0} in mingo (named test below).
        for (let at = 0; at < pipeline.length; at++) {
          if (
            '$count' in pipeline[at]! &&
            (await runPipeline(input, pipeline.slice(0, at), env)).length === 0
          )
            return;
        }
        // After $count, $group or $project, m may be missing: $push of a missing value differs too.
        const reshaped = pipeline.findIndex((s) => '$count' in s || '$group' in s || '$project' in s);
        if (reshaped >= 0 && pipeline.slice(reshaped + 1).some((s) => JSON.stringify(s).includes('$push')))
          return;
        const ours = await runPipeline(input, pipeline, env);
        let theirs: Doc[];
        try {
          theirs = mingoAggregate(input, pipeline) as Doc[];
        } catch {
          return;
        }
        expect({ pipeline, out: normalize(ours, pipeline) }).toEqual({
          pipeline,
          out: normalize(theirs, pipeline),
        });
      }),
      { numRuns: RUNS / 4 },
    );
  });
});

describe('aggregation through the engine: the pushed-down $match/$sort/$skip/$limit prefix', () => {
  it('gives the pipeline run in memory over the whole collection, with and without indexes', async () => {
    const { db, store } = await openDb();
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          rows,
          fc.array(stage, { minLength: 1, maxLength: 4 }),
          fc.boolean(),
          async (input, pipeline, indexed) => {
            // A $limit or $skip before any $sort picks documents in an order MongoDB leaves open.
            const firstSort = pipeline.findIndex((st) => '$sort' in st);
            const firstCut = pipeline.findIndex((st) => '$limit' in st || '$skip' in st);
            if (firstCut >= 0 && (firstSort < 0 || firstCut < firstSort)) return;
            // $push, $first and $last see documents in input order, which MongoDB leaves to the
            // plan (a descending index scan's order, say) unless a $sort comes first.
            const firstOrdered = pipeline.findIndex(
              (st) => '$group' in st && /"\$(push|first|last)"/.test(JSON.stringify(st.$group)),
            );
            if (firstOrdered >= 0 && (firstSort < 0 || firstOrdered < firstSort)) return;
            const coll = `c${run++}`;
            if (indexed) {
              await db.createIndex('agg', coll, { key: { n: 1 } });
              await db.createIndex('agg', coll, { key: { m: -1, _id: 1 } });
            }
            if (input.length > 0) await db.insertMany('agg', coll, structuredClone(input));
            const all = (await db.find('agg', coll, {})).docs;
            const expected = await runPipeline(all, pipeline, env);
            const got = await db.aggregate('agg', coll, pipeline);
            // Without a $sort the order is the plan's (an index scan's order, say): compare as sets.
            const ordered = pipeline.some((st) => '$sort' in st);
            const asSet = (out: Doc[]) => (ordered ? out : sortDocs(out, [['_id', 1]]));
            expect({ pipeline, out: normalize(asSet(got), pipeline) }).toEqual({
              pipeline,
              out: normalize(asSet(expected), pipeline),
            });
          },
        ),
        { numRuns: RUNS / 10 },
      );
    } finally {
      await store.close();
    }
  });
});

describe('aggregation through the engine: a counting $group from an index (COUNT_SCAN)', () => {
  const people: Doc[] = [
    { _id: 1, city: 'Paris' },
    { _id: 2, city: 'Oslo' },
    { _id: 3, city: 'Paris' },
    { _id: 4 },
    { _id: 5, city: null },
    { _id: 6, city: 7 },
    { _id: 7, city: 7.0 },
    { _id: 8, city: { zip: '0150' } },
    { _id: 9, city: 'Oslo' },
  ];
  const counting = [
    { $match: {} },
    { $group: { _id: '$city', n: { $sum: 1 }, c: { $count: {} }, weighted: { $sum: 3 } } },
    { $sort: { _id: 1 } },
  ];
  const inMemory = async (db: Awaited<ReturnType<typeof openDb>>['db'], coll: string, pipeline: Doc[]) =>
    runPipeline((await db.find('agg', coll, {})).docs, pipeline, env);

  it('reads one document per group, not the collection, and answers as the in-memory $group', async () => {
    const { db } = await openDb();
    for (const [coll, direction] of [
      ['up', 1],
      ['down', -1],
    ] as const) {
      await db.createIndex('agg', coll, { key: { city: direction } });
      await db.insertMany('agg', coll, structuredClone(people));
      const before = { ...db.coveredGroups };
      const got = await db.aggregate('agg', coll, counting);
      expect(db.coveredGroups.runs).toBe(before.runs + 1);
      // Five groups (missing and null are one, 7 and 7.0 are one): five documents read, nine keys.
      expect(db.coveredGroups.docsExamined - before.docsExamined).toBe(5);
      expect(db.coveredGroups.keysExamined - before.keysExamined).toBe(people.length);
      expect(got).toEqual(await inMemory(db, coll, counting));
      expect(got.find((g) => g['_id'] === 'Paris')).toEqual({ _id: 'Paris', n: 2, c: 2, weighted: 6 });
      expect(got.find((g) => g['_id'] === null)).toMatchObject({ n: 2 });
    }
  });

  it('falls back to the documents for a multikey or sparse index, or a $sum of a field', async () => {
    const { db } = await openDb();
    await db.createIndex('agg', 'multi', { key: { city: 1 } });
    await db.insertMany('agg', 'multi', [...structuredClone(people), { _id: 10, city: ['Paris', 'Oslo'] }]);
    await db.createIndex('agg', 'sparse', { key: { city: 1 }, sparse: true });
    await db.insertMany('agg', 'sparse', structuredClone(people));
    const byField = [{ $group: { _id: '$city', total: { $sum: '$_id' } } }, { $sort: { _id: 1 } }];
    const runs = db.coveredGroups.runs;
    for (const [coll, pipeline] of [
      ['multi', counting],
      ['sparse', counting],
      ['sparse', byField],
    ] as const) {
      expect(await db.aggregate('agg', coll, pipeline)).toEqual(await inMemory(db, coll, pipeline));
    }
    expect(db.coveredGroups.runs).toBe(runs);
    // The array is its own group, as MongoDB groups by the whole value.
    expect((await db.aggregate('agg', 'multi', counting)).find((g) => Array.isArray(g['_id']))).toMatchObject(
      {
        _id: ['Paris', 'Oslo'],
        n: 1,
      },
    );
  });
});

describe('aggregation: stages and expressions', () => {
  const orders = [
    {
      _id: 1,
      customer: 'ann',
      items: [
        { sku: 'a', qty: 2 },
        { sku: 'b', qty: 1 },
      ],
      total: 30,
    },
    { _id: 2, customer: 'bob', items: [{ sku: 'a', qty: 5 }], total: 50 },
    { _id: 3, customer: 'ann', items: [], total: 5 },
  ];

  it('$unwind, $group with $push/$first/$last, $lookup, $facet', async () => {
    const perSku = await runPipeline(
      orders,
      [
        { $unwind: '$items' },
        { $group: { _id: '$items.sku', qty: { $sum: '$items.qty' }, who: { $addToSet: '$customer' } } },
        { $sort: { _id: 1 } },
      ],
      env,
    );
    expect(perSku).toEqual([
      { _id: 'a', qty: 7, who: ['ann', 'bob'] },
      { _id: 'b', qty: 1, who: ['ann'] },
    ]);
    const kept = await runPipeline(
      orders,
      [{ $unwind: { path: '$items', preserveNullAndEmptyArrays: true, includeArrayIndex: 'i' } }],
      env,
    );
    expect(kept).toHaveLength(4);
    expect(kept[3]).toEqual({ _id: 3, customer: 'ann', total: 5, i: null });
    const customers = [
      { _id: 'ann', city: 'Oslo' },
      { _id: 'bob', city: 'Lima' },
    ];
    const joined = await runPipeline(
      orders,
      [
        { $lookup: { from: 'customers', localField: 'customer', foreignField: '_id', as: 'c' } },
        { $project: { city: { $arrayElemAt: ['$c.city', 0] } } },
      ],
      {
        collection: async () => customers,
      },
    );
    expect(joined).toEqual([
      { _id: 1, city: 'Oslo' },
      { _id: 2, city: 'Lima' },
      { _id: 3, city: 'Oslo' },
    ]);
    const facets = await runPipeline(
      orders,
      [
        {
          $facet: {
            n: [{ $count: 'n' }],
            big: [{ $match: { total: { $gt: 20 } } }, { $project: { _id: 1 } }],
          },
        },
      ],
      env,
    );
    expect(facets).toEqual([{ n: [{ n: 3 }], big: [{ _id: 1 }, { _id: 2 }] }]);
    const firsts = await runPipeline(
      orders,
      [
        { $sort: { total: 1 } },
        {
          $group: {
            _id: '$customer',
            first: { $first: '$total' },
            last: { $last: '$total' },
            all: { $push: '$total' },
          },
        },
        { $sort: { _id: 1 } },
      ],
      env,
    );
    expect(firsts).toEqual([
      { _id: 'ann', first: 5, last: 30, all: [5, 30] },
      { _id: 'bob', first: 50, last: 50, all: [50] },
    ]);
  });

  it('$bucket outputs only buckets that hold documents (MongoDB; mingo also outputs empty ones)', async () => {
    const spec = {
      $bucket: {
        groupBy: '$total',
        boundaries: [0, 10, 40, 100],
        default: 'other',
        output: { n: { $sum: 1 } },
      },
    };
    expect(await runPipeline(orders, [spec], env)).toEqual([
      { _id: 0, n: 1 },
      { _id: 10, n: 1 },
      { _id: 40, n: 1 },
    ]);
    expect(await runPipeline([], [spec], env)).toEqual([]);
  });

  it('$count of no documents outputs none; $addToSet and $push skip missing values (mingo: {count: 0}, [null])', async () => {
    expect(await runPipeline([], [{ $count: 'n' }], env)).toEqual([]);
    const out = await runPipeline(
      [{ _id: 1 }, { _id: 2, v: 1 }],
      [{ $group: { _id: null, s: { $addToSet: '$v' }, p: { $push: '$v' } } }],
      env,
    );
    expect(out).toEqual([{ _id: null, s: [1], p: [1] }]);
  });

  it('expressions: $cond, $ifNull, $concat, $toUpper, $size, $in', async () => {
    const out = await runPipeline(
      orders,
      [
        {
          $project: {
            _id: 0,
            label: {
              $concat: [
                { $toUpper: '$customer' },
                '-',
                { $cond: [{ $gte: ['$total', 30] }, 'big', 'small'] },
              ],
            },
            n: { $size: '$items' },
            vip: { $in: ['$customer', ['bob']] },
            note: { $ifNull: ['$note', 'none'] },
          },
        },
      ],
      env,
    );
    expect(out[0]).toEqual({ label: 'ANN-big', n: 2, vip: false, note: 'none' });
    expect(out[1]).toEqual({ label: 'BOB-big', n: 1, vip: true, note: 'none' });
  });

  it('bad pipelines are errors with MongoDB codes', async () => {
    for (const bad of [
      [{ $nope: 1 }],
      [{ $group: { total: { $sum: 1 } } }],
      [{ $limit: -1 }],
      [{ $project: { a: { $bogus: 1 } } }],
      [{ $match: 1, $sort: 1 }],
    ]) {
      await expect(runPipeline(orders, bad, env)).rejects.toBeInstanceOf(DocDbError);
    }
    await expect(runPipeline(orders, 'x', env)).rejects.toBeInstanceOf(DocDbError);
  });
});
