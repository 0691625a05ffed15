// DDIA ch. 2, Figure 2-5: Lucy and Alain as vertices and edges. Documents hold each vertex
// with its outgoing `within` edges; $graphLookup walks them to any depth, which is what the
// chapter's Cypher query (Example 2-3) and recursive SQL (Example 2-4) do. The same question is
// asked of PostgreSQL with the book's WITH RECURSIVE over a vertices/edges schema, when it is
// installed, and must give the same people.
import fc from 'fast-check';
import { aggregate as mingoAggregate } from 'mingo';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { findPostgresBin, startLocalPostgres } from '../../transactions/src/postgres/local-postgres.js';
import { runPipeline } from '../src/core/aggregate.js';
import { sortDocs } from '../src/core/sort.js';
import type { Doc } from '../src/core/values.js';
import { openDb } from './support/open.js';

// Locations: within edges point to the enclosing region.
const LOCATIONS: Doc[] = [
  { _id: 'namerica', type: 'continent', name: 'North America', within: [] },
  { _id: 'usa', type: 'country', name: 'United States', within: ['namerica'] },
  { _id: 'idaho', type: 'state', name: 'Idaho', within: ['usa'] },
  { _id: 'europe', type: 'continent', name: 'Europe', within: [] },
  { _id: 'france', type: 'country', name: 'France', within: ['europe'] },
  { _id: 'beaune', type: 'city', name: 'Beaune', within: ['france'] },
  { _id: 'uk', type: 'country', name: 'United Kingdom', within: ['europe'] },
  { _id: 'england', type: 'region', name: 'England', within: ['uk'] },
  { _id: 'london', type: 'city', name: 'London', within: ['england'] },
];
const PEOPLE: Doc[] = [
  { _id: 'lucy', name: 'Lucy', born_in: 'idaho', lives_in: 'london', married: 'alain' },
  { _id: 'alain', name: 'Alain', born_in: 'beaune', lives_in: 'london', married: 'lucy' },
  { _id: 'nobody', name: 'Nobody', born_in: 'nowhere', lives_in: 'idaho' },
];

// Example 2-3 as a pipeline: people born within the United States and living within Europe.
const EMIGRATED = [
  {
    $graphLookup: {
      from: 'locations',
      startWith: '$born_in',
      connectFromField: 'within',
      connectToField: '_id',
      as: 'born',
    },
  },
  {
    $graphLookup: {
      from: 'locations',
      startWith: '$lives_in',
      connectFromField: 'within',
      connectToField: '_id',
      as: 'lives',
    },
  },
  { $match: { 'born.name': 'United States', 'lives.name': 'Europe' } },
  { $project: { _id: 0, name: 1 } },
];

describe('Figure 2-5: Lucy and Alain, $graphLookup', () => {
  it('who emigrated from the US to Europe: Lucy (through the engine)', async () => {
    const { db } = await openDb();
    await db.insertMany('graph', 'locations', LOCATIONS);
    await db.insertMany('graph', 'people', PEOPLE);
    expect(await db.aggregate('graph', 'people', EMIGRATED)).toEqual([{ name: 'Lucy' }]);
  });

  it('maxDepth and depthField: how far each region is; cycles end', async () => {
    const env = {
      collection: async () => [...LOCATIONS, { _id: 'a', within: ['b'] }, { _id: 'b', within: ['a'] }],
    };
    const [london] = await runPipeline(
      [{ _id: 'x', at: 'london' }],
      [
        {
          $graphLookup: {
            from: 'l',
            startWith: '$at',
            connectFromField: 'within',
            connectToField: '_id',
            as: 'up',
            depthField: 'hops',
            maxDepth: 2,
          },
        },
      ],
      env,
    );
    const hops = Object.fromEntries((london!['up'] as Doc[]).map((d) => [d['_id'], d['hops']]));
    expect(hops).toEqual({ london: 0, england: 1, uk: 2 });
    const [cycle] = await runPipeline(
      [{ _id: 'y', at: 'a' }],
      [
        {
          $graphLookup: {
            from: 'l',
            startWith: '$at',
            connectFromField: 'within',
            connectToField: '_id',
            as: 'up',
          },
        },
      ],
      env,
    );
    expect((cycle!['up'] as Doc[]).map((d) => d['_id']).sort()).toEqual(['a', 'b']);
  });

  it('restrictSearchWithMatch stops the walk at documents that do not match; bad specs are refused', async () => {
    const env = { collection: async () => LOCATIONS };
    const [lucy] = await runPipeline(
      [PEOPLE[0]!],
      [
        {
          $graphLookup: {
            from: 'l',
            startWith: '$born_in',
            connectFromField: 'within',
            connectToField: '_id',
            as: 'up',
            restrictSearchWithMatch: { type: { $ne: 'country' } },
          },
        },
      ],
      env,
    );
    expect((lucy!['up'] as Doc[]).map((d) => d['_id'])).toEqual(['idaho']);
    await expect(runPipeline([{}], [{ $graphLookup: { from: 'l', as: 'x' } }], env)).rejects.toThrow(
      /graphLookup/,
    );
    await expect(
      runPipeline(
        [{}],
        [
          {
            $graphLookup: {
              from: 'l',
              startWith: 1,
              connectFromField: 'a',
              connectToField: 'b',
              as: 'x',
              maxDepth: -1,
            },
          },
        ],
        env,
      ),
    ).rejects.toThrow(/maxDepth/);
  });

  const hasPg = findPostgresBin() !== null || process.env.DDIA_PG_URL !== undefined;
  it.skipIf(!hasPg)(
    'PostgreSQL: the book’s WITH RECURSIVE (Example 2-4) over vertices and edges gives the same people',
    async () => {
      const local = await startLocalPostgres({ fsync: false });
      const client = new pg.Client({ connectionString: local.url });
      try {
        await client.connect();
        await client.query(`
          CREATE TABLE vertices (vertex_id text PRIMARY KEY, properties jsonb);
          CREATE TABLE edges (tail_vertex text REFERENCES vertices, head_vertex text REFERENCES vertices, label text);
          CREATE INDEX edges_tails ON edges (tail_vertex);
          CREATE INDEX edges_heads ON edges (head_vertex);`);
        for (const v of [...LOCATIONS, ...PEOPLE])
          await client.query('INSERT INTO vertices VALUES ($1, $2)', [
            v['_id'],
            JSON.stringify({ name: v['name'], type: v['type'] ?? 'person' }),
          ]);
        const edge = (tail: string, head: string, label: string) =>
          client.query('INSERT INTO edges VALUES ($1, $2, $3)', [tail, head, label]);
        for (const l of LOCATIONS)
          for (const up of l['within'] as string[]) await edge(l['_id'] as string, up, 'within');
        for (const p of PEOPLE) {
          if (LOCATIONS.some((l) => l['_id'] === p['born_in']))
            await edge(p['_id'] as string, p['born_in'] as string, 'born_in');
          await edge(p['_id'] as string, p['lives_in'] as string, 'lives_in');
        }
        const { rows } = await client.query(`
          WITH RECURSIVE
            in_usa(vertex_id) AS (
                SELECT vertex_id FROM vertices WHERE properties->>'name' = 'United States'
              UNION
                SELECT edges.tail_vertex FROM edges
                  JOIN in_usa ON edges.head_vertex = in_usa.vertex_id
                  WHERE edges.label = 'within'),
            in_europe(vertex_id) AS (
                SELECT vertex_id FROM vertices WHERE properties->>'name' = 'Europe'
              UNION
                SELECT edges.tail_vertex FROM edges
                  JOIN in_europe ON edges.head_vertex = in_europe.vertex_id
                  WHERE edges.label = 'within'),
            born_in_usa(vertex_id) AS (
              SELECT edges.tail_vertex FROM edges JOIN in_usa ON edges.head_vertex = in_usa.vertex_id
              WHERE edges.label = 'born_in'),
            lives_in_europe(vertex_id) AS (
              SELECT edges.tail_vertex FROM edges JOIN in_europe ON edges.head_vertex = in_europe.vertex_id
              WHERE edges.label = 'lives_in')
          SELECT vertices.properties->>'name' AS name
          FROM vertices
          JOIN born_in_usa ON vertices.vertex_id = born_in_usa.vertex_id
          JOIN lives_in_europe ON vertices.vertex_id = lives_in_europe.vertex_id`);
        const { db } = await openDb();
        await db.insertMany('graph', 'locations', LOCATIONS);
        await db.insertMany('graph', 'people', PEOPLE);
        expect(rows).toEqual(await db.aggregate('graph', 'people', EMIGRATED));
      } finally {
        await client.end().catch(() => {});
        await local.stop();
      }
    },
    60_000,
  );
});

// ---- $graphLookup through the engine: a query per frontier, against mingo ---------------------

/** A reference (startWith, `next`): a vertex number 0..9, or an array of them. */
const vertexRef = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 9 }) },
  { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 3 }) },
);
/**
 * 10 to 14 vertices: `_id` i, `key` i % 10 (alone, with another number in an array, or null),
 * so every reference finds a vertex by `_id` and by `key`. Every walk hits: mingo (7.2) returns
 * a phantom empty document `{}` for a value that finds nothing in an array it walks from, and
 * follows a missing connectFromField as null where MongoDB stops (named test below).
 */
const vertices = fc
  .array(
    fc.record({
      key: fc.oneof(fc.constant('self'), fc.integer({ min: 0, max: 9 }), fc.constant(null)),
      next: vertexRef,
      kind: fc.constantFrom('a', 'b'),
    }),
    { minLength: 10, maxLength: 14 },
  )
  .map((vs) =>
    vs.map(({ key, ...v }, i) => ({
      _id: i,
      key: key === 'self' ? i % 10 : key === null ? (i >= 10 ? null : i) : [i % 10, key],
      ...v,
    })),
  );
const graphStage = fc.record(
  {
    connectToField: fc.constantFrom('key', '_id'),
    maxDepth: fc.integer({ min: 0, max: 3 }),
    depthField: fc.constant('depth'),
    restrictSearchWithMatch: fc.constantFrom<Doc>({ kind: 'a' }, { next: { $gt: 4 } }),
  },
  { requiredKeys: ['connectToField'] },
);
/** Per input document: the found documents by _id (the `as` array has no defined order). */
const byId = (out: Doc[]) =>
  out.map((d) =>
    sortDocs(d['found'] as Doc[], [['_id', 1]]).map((f) => JSON.stringify(Object.entries(f).sort())),
  );

describe('$graphLookup through the engine: one query per frontier', () => {
  it("gives mingo's answer, with an index on connectToField (and one on kind) and without", async () => {
    const { db } = await openDb();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        vertices,
        fc.array(vertexRef, { minLength: 1, maxLength: 3 }),
        graphStage,
        fc.boolean(),
        async (vs, starts, stage, indexed) => {
          const coll = `v${n++}`;
          if (indexed) {
            await db.createIndex('g', coll, { key: { key: 1 } });
            await db.createIndex('g', coll, { key: { kind: 1 } });
          }
          if (vs.length > 0) await db.insertMany('g', coll, vs);
          const inputs = starts.map((s, i) => ({ _id: i, s }));
          await db.insertMany('g', `${coll}in`, inputs);
          const pipeline = [
            {
              $graphLookup: {
                from: coll,
                startWith: '$s',
                connectFromField: 'next',
                as: 'found',
                ...stage,
              },
            },
            { $sort: { _id: 1 } },
          ];
          const ours = await db.aggregate('g', `${coll}in`, pipeline);
          const theirs = mingoAggregate(inputs, pipeline, { collectionResolver: () => vs }) as Doc[];
          expect(byId(ours)).toEqual(byId(theirs));
        },
      ),
      { numRuns: Number(process.env.DDIA_LONG) ? 5_000 : 150 },
    );
  });

  /** A chain of 500 vertices: i's `next` is i + 1, its `key` is i. */
  async function chain(indexed: boolean) {
    const { db } = await openDb();
    if (indexed) await db.createIndex('g', 'chain', { key: { key: 1 } });
    await db.insertMany(
      'g',
      'chain',
      Array.from({ length: 500 }, (_, i) => ({ _id: i, key: i, next: i + 1, kind: i % 2 ? 'odd' : 'even' })),
    );
    await db.insertMany('g', 'start', [{ _id: 1, at: 10 }]);
    return db;
  }
  const walk = (restrictSearchWithMatch?: Doc) => [
    {
      $graphLookup: {
        from: 'chain',
        startWith: '$at',
        connectFromField: 'next',
        connectToField: 'key',
        as: 'found',
        maxDepth: 4,
        depthField: 'depth',
        ...(restrictSearchWithMatch ? { restrictSearchWithMatch } : {}),
      },
    },
  ];

  it('looks each frontier up through the index on connectToField: 5 levels read 5 documents', async () => {
    const db = await chain(true);
    const [out] = await db.aggregate('g', 'start', walk());
    expect((out!['found'] as Doc[]).map((d) => [d['_id'], d['depth']])).toEqual([
      [10, 0],
      [11, 1],
      [12, 2],
      [13, 3],
      [14, 4],
    ]);
    expect(db.graphLookupReads).toEqual({ queries: 5, indexed: 5, keysExamined: 5, docsExamined: 5 });
  });

  it('keeps to that index when restrictSearchWithMatch names another indexed field; scans without one', async () => {
    const db = await chain(true);
    await db.createIndex('g', 'chain', { key: { kind: 1 } });
    const [out] = await db.aggregate('g', 'start', walk({ kind: 'even' }));
    // 10 is even, 11 is odd: the walk stops there.
    expect((out!['found'] as Doc[]).map((d) => d['_id'])).toEqual([10]);
    expect(db.graphLookupReads).toMatchObject({ queries: 2, indexed: 2, docsExamined: 2 });

    const plain = await chain(false);
    const [same] = await plain.aggregate('g', 'start', walk());
    expect((same!['found'] as Doc[]).map((d) => d['_id'])).toEqual([10, 11, 12, 13, 14]);
    // No index: each level is a collection scan that keeps only its matches.
    expect(plain.graphLookupReads).toEqual({ queries: 5, indexed: 0, keysExamined: 0, docsExamined: 2_500 });
  });

  it('a missing startWith or connectFromField leads nowhere, null looks for null (MongoDB; mingo follows missing as null)', async () => {
    const { db } = await openDb();
    await db.insertMany('g', 'v', [
      { _id: 1, key: 1 }, // no `next`: the walk ends here
      { _id: 2, next: 1 }, // no `key`: found by null
      { _id: 3, key: null, next: 2 },
    ]);
    await db.insertMany('g', 'in', [{ _id: 'from1', s: 1 }, { _id: 'missing' }, { _id: 'null', s: null }]);
    const out = await db.aggregate('g', 'in', [
      {
        $graphLookup: {
          from: 'v',
          startWith: '$s',
          connectFromField: 'next',
          connectToField: 'key',
          as: 'found',
        },
      },
    ]);
    const ids = Object.fromEntries(
      out.map((d) => [d['_id'], (d['found'] as Doc[]).map((f) => f['_id']).sort()]),
    );
    // mingo gives from1 [1, 2, 3] (it follows 1's missing `next` as null) and missing [2, 3].
    expect(ids).toEqual({ from1: [1], missing: [], null: [1, 2, 3] });
  });
});
