// DDIA ch. 2, Figure 2-5: Lucy and Alain as vertices and edges. Documents hold each vertex
// with its outgoing `within` edges; $graphLookup walks them to any depth, which is what the
// chapter's Cypher query (Example 2-3) and recursive SQL (Example 2-4) do. The same question is
// asked of PostgreSQL with the book's WITH RECURSIVE over a vertices/edges schema, when it is
// installed, and must give the same people.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { findPostgresBin, startLocalPostgres } from '../../transactions/src/postgres/local-postgres.js';
import { runPipeline } from '../src/core/aggregate.js';
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
