// DDIA ch. 2, Figure 2-1: the résumé as one document (one-to-many nested, many-to-one by id with
// $lookup) and as normalized tables in PostgreSQL (joins), asked the same questions through the
// real MongoDB driver and through pg. Both must give the profiles the data says, field by field.
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPostgresBin, startLocalPostgres } from '../../transactions/src/postgres/local-postgres.js';
import type { DocumentDbNode } from '../src/node.js';
import { startTestNode } from './support/node.js';
import {
  INDUSTRIES,
  PROFILE_SQL,
  type Profile,
  profileFromDocument,
  profileFromRow,
  profilePipeline,
  REGION_SQL,
  REGIONS,
  RELATIONAL_SCHEMA,
  type Resume,
  regionPipeline,
  relationalRows,
  resumes,
} from './support/resume.js';

const USERS = 60;
const docs = resumes(USERS);

/** What the data says a profile is, computed here without any database. */
function expected(d: Resume): Profile {
  return {
    id: d._id,
    name: `${d.first_name} ${d.last_name}`,
    region: REGIONS[d.region_id]!,
    industry: INDUSTRIES[d.industry_id]!,
    positions: d.positions,
    education: d.education,
    blog: d.contact_info.blog,
  };
}

const expectedRegion = (region: number, limit: number) =>
  docs
    .filter((d) => d.region_id === region)
    .slice(0, limit)
    .map((d) => ({ name: `${d.first_name} ${d.last_name}`, industry: INDUSTRIES[d.industry_id] }));

describe('the résumé as a document, with $lookup for many-to-one', () => {
  let node: DocumentDbNode;
  let client: MongoClient;
  beforeAll(async () => {
    node = await startTestNode();
    client = await new MongoClient(`mongodb://127.0.0.1:${node.mongoPort}`).connect();
    const db = client.db('linkedin');
    await db.collection('regions').insertMany(REGIONS.map((name, _id) => ({ _id, name }) as never));
    await db.collection('industries').insertMany(INDUSTRIES.map((name, _id) => ({ _id, name }) as never));
    // Equality, then the sort key (MongoDB's ESR rule): the index answers the order too.
    await db.collection('users').createIndex({ region_id: 1, _id: 1 });
    await db.collection('users').insertMany(docs as never[]);
  });
  afterAll(async () => {
    await client?.close();
    await node?.service.close();
  });

  it("fetches Bill Gates' profile (Example 2-1) in one document, region and industry looked up", async () => {
    const [gates] = await client.db('linkedin').collection('users').aggregate(profilePipeline(251)).toArray();
    expect(profileFromDocument(gates)).toEqual({
      id: 251,
      name: 'Bill Gates',
      region: 'Greater Seattle Area',
      industry: 'Philanthropy',
      positions: [
        { job_title: 'Co-chair', organization: 'Bill & Melinda Gates Foundation' },
        { job_title: 'Co-founder, Chairman', organization: 'Microsoft' },
      ],
      education: [
        { school_name: 'Harvard University', start: 1973, end: 1975 },
        { school_name: 'Lakeside School, Seattle', start: 1970, end: null },
      ],
      blog: 'http://thegatesnotes.com',
    });
  });

  it('every profile equals what the data says', async () => {
    const users = client.db('linkedin').collection('users');
    for (const d of docs) {
      const [got] = await users.aggregate(profilePipeline(d._id)).toArray();
      expect(profileFromDocument(got)).toEqual(expected(d));
    }
  });

  it('the people of a region with their industry: an index scan, then a $lookup per person', async () => {
    const users = client.db('linkedin').collection('users');
    for (let region = 0; region < REGIONS.length; region++) {
      const got = await users.aggregate(regionPipeline(region, 5)).toArray();
      expect(got.map((u) => ({ name: `${u.first_name} ${u.last_name}`, industry: u.industry }))).toEqual(
        expectedRegion(region, 5),
      );
    }
    // The page is read in index order and stops after 5: no in-memory sort of the region.
    const explained = await users.find({ region_id: 2 }).sort({ _id: 1 }).limit(5).explain();
    const winning = JSON.stringify(explained.queryPlanner.winningPlan);
    expect(winning).toContain('region_id_1__id_1');
    expect(winning).not.toContain('"SORT"');
  });
});

const hasPg = findPostgresBin() !== null || process.env.DDIA_PG_URL !== undefined;
describe.skipIf(!hasPg)('the résumé as normalized tables in PostgreSQL, with joins', () => {
  it('gives the same profiles and the same region lists as the documents', async () => {
    const local = await startLocalPostgres({ fsync: false });
    const sql = new pg.Client({ connectionString: local.url });
    try {
      await sql.connect();
      await sql.query(RELATIONAL_SCHEMA);
      const rows = relationalRows(docs);
      for (const [i, name] of REGIONS.entries())
        await sql.query('INSERT INTO regions VALUES ($1, $2)', [i, name]);
      for (const [i, name] of INDUSTRIES.entries())
        await sql.query('INSERT INTO industries VALUES ($1, $2)', [i, name]);
      for (const u of rows.users) await sql.query('INSERT INTO users VALUES ($1, $2, $3, $4, $5, $6)', u);
      for (const p of rows.positions)
        await sql.query(
          'INSERT INTO positions (user_id, ord, job_title, organization) VALUES ($1, $2, $3, $4)',
          p,
        );
      for (const e of rows.education)
        await sql.query(
          'INSERT INTO education (user_id, ord, school_name, start, "end") VALUES ($1, $2, $3, $4, $5)',
          e,
        );
      for (const c of rows.contact_info) await sql.query('INSERT INTO contact_info VALUES ($1, $2, $3)', c);
      for (const d of docs) {
        const { rows: found } = await sql.query(PROFILE_SQL, [d._id]);
        expect(profileFromRow(found[0])).toEqual(expected(d));
      }
      for (let region = 0; region < REGIONS.length; region++) {
        const { rows: found } = await sql.query(REGION_SQL, [region, 5]);
        expect(found.map((r) => ({ name: `${r.first_name} ${r.last_name}`, industry: r.industry }))).toEqual(
          expectedRegion(region, 5),
        );
      }
    } finally {
      await sql.end();
      await local.stop();
    }
  }, 120_000);
});
