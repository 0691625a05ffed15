// Benchmark: DDIA ch. 2's Figure 2-1 both ways, measured. The same résumés stored as documents
// in document-db (one-to-many nested; region and industry by id, resolved with $lookup) and as
// normalized tables in PostgreSQL 15 (users, positions, education, contact_info, regions,
// industries; joins), both with synced writes, reached through their own drivers (mongodb, pg).
// Questions: a whole profile by id (document: one read + two $lookups; SQL: joins plus two
// subqueries for the one-to-many parts), the same profile without the many-to-one parts (the
// document's locality: one read), and the first 20 people of a region with their industry's
// name ($match on an index + $lookup per person vs an index scan + a join). Rounds alternate
// which system goes first; the answers of both are checked equal before timing.
//   pnpm --filter @ddia/document-db bench:resume [--quick] [--install]
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  findPostgresBin,
  INSTALL_HINT,
  installPostgres,
  startLocalPostgres,
} from '../../transactions/src/postgres/local-postgres.js';
import {
  INDUSTRIES,
  PROFILE_SQL,
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
} from '../test/support/resume.js';
import { closedLoop, type Measure, pssOf, startDocumentDbProcess } from './support.js';

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, install: { type: 'boolean', default: false } },
});
const QUICK = values.quick === true;
const USERS = QUICK ? 2_000 : 50_000;
const ROUNDS = QUICK ? 1 : 3;
const PHASE_MS = QUICK ? 700 : 4_000;
const CLIENTS = 8;
const LOAD_BATCH = 1_000;
const REGION_PAGE = 20;
const RESULTS = new URL('./results/', import.meta.url).pathname;

const PHASES = ['profile', 'profileNoLookups', 'regionJoin'] as const;
type Phase = (typeof PHASES)[number];

interface Side {
  name: string;
  load(docs: Resume[]): Promise<void>;
  profile(id: number): Promise<unknown>;
  profileNoLookups(id: number): Promise<unknown>;
  regionJoin(region: number): Promise<unknown>;
  /** Both answers as plain data, to check the sides agree before timing them. */
  sample(id: number, region: number): Promise<unknown>;
  rssBytes(): Promise<number>;
  close(): Promise<void>;
}

async function documentSide(): Promise<Side> {
  const server = await startDocumentDbProcess(CLIENTS);
  const db = server.client.db('linkedin');
  const users = db.collection<Resume>('users');
  return {
    name: 'document-db ($lookup)',
    async load(docs) {
      await db.collection('regions').insertMany(REGIONS.map((name, _id) => ({ _id, name }) as never));
      await db.collection('industries').insertMany(INDUSTRIES.map((name, _id) => ({ _id, name }) as never));
      // Equality, then the sort key (MongoDB's ESR rule), as the tables' (region_id, user_id).
      await users.createIndex({ region_id: 1, _id: 1 });
      for (let i = 0; i < docs.length; i += LOAD_BATCH) await users.insertMany(docs.slice(i, i + LOAD_BATCH));
    },
    profile: (id) => users.aggregate(profilePipeline(id)).toArray(),
    profileNoLookups: (id) => users.findOne({ _id: id }),
    regionJoin: (region) => users.aggregate(regionPipeline(region, REGION_PAGE)).toArray(),
    async sample(id, region) {
      const [p] = await users.aggregate(profilePipeline(id)).toArray();
      const r = await users.aggregate(regionPipeline(region, REGION_PAGE)).toArray();
      return { profile: profileFromDocument(p), region: r.map((u) => [u.first_name, u.industry]) };
    },
    rssBytes: async () => pssOf(server.pid),
    close: () => server.close(),
  };
}

async function relationalSide(): Promise<Side> {
  const local = await startLocalPostgres();
  const pool = new pg.Pool({ connectionString: local.url, max: CLIENTS });
  // Idle connections report the server's shutdown at close as an error event; nothing to do.
  pool.on('error', () => {});
  return {
    name: `PostgreSQL ${/\d+(\.\d+)?/.exec(local.version)?.[0] ?? local.version} (joins)`,
    async load(docs) {
      await pool.query(RELATIONAL_SCHEMA);
      await pool.query('INSERT INTO regions SELECT * FROM unnest($1::int[], $2::text[])', [
        REGIONS.map((_, i) => i),
        REGIONS,
      ]);
      await pool.query('INSERT INTO industries SELECT * FROM unnest($1::int[], $2::text[])', [
        INDUSTRIES.map((_, i) => i),
        INDUSTRIES,
      ]);
      const column = <T>(rows: unknown[][], i: number) => rows.map((r) => r[i] as T);
      for (let i = 0; i < docs.length; i += LOAD_BATCH) {
        const rows = relationalRows(docs.slice(i, i + LOAD_BATCH));
        // One transaction per batch, as insertMany is one synced batch on the other side.
        const c = await pool.connect();
        try {
          await c.query('BEGIN');
          await c.query(
            'INSERT INTO users SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[])',
            [0, 1, 2, 3, 4, 5].map((k) => column(rows.users, k)),
          );
          await c.query(
            'INSERT INTO positions (user_id, ord, job_title, organization) SELECT * FROM unnest($1::int[], $2::int[], $3::text[], $4::text[])',
            [0, 1, 2, 3].map((k) => column(rows.positions, k)),
          );
          await c.query(
            'INSERT INTO education (user_id, ord, school_name, start, "end") SELECT * FROM unnest($1::int[], $2::int[], $3::text[], $4::int[], $5::int[])',
            [0, 1, 2, 3, 4].map((k) => column(rows.education, k)),
          );
          await c.query(
            'INSERT INTO contact_info SELECT * FROM unnest($1::int[], $2::text[], $3::text[])',
            [0, 1, 2].map((k) => column(rows.contact_info, k)),
          );
          await c.query('COMMIT');
        } finally {
          c.release();
        }
      }
      await pool.query('ANALYZE');
    },
    profile: (id) => pool.query(PROFILE_SQL, [id]),
    profileNoLookups: (id) =>
      pool.query(
        `SELECT u.*, (SELECT json_agg(p ORDER BY p.ord) FROM positions p WHERE p.user_id = u.user_id) AS positions,
           (SELECT json_agg(e ORDER BY e.ord) FROM education e WHERE e.user_id = u.user_id) AS education,
           c.blog, c.twitter
         FROM users u LEFT JOIN contact_info c ON c.user_id = u.user_id WHERE u.user_id = $1`,
        [id],
      ),
    regionJoin: (region) => pool.query(REGION_SQL, [region, REGION_PAGE]),
    async sample(id, region) {
      const p = (await pool.query(PROFILE_SQL, [id])).rows[0];
      const r = (await pool.query(REGION_SQL, [region, REGION_PAGE])).rows;
      return { profile: profileFromRow(p), region: r.map((u) => [u.first_name, u.industry]) };
    },
    async rssBytes() {
      const { rows } = await pool.query('SELECT pid FROM pg_stat_activity');
      return rows.reduce((sum, r) => sum + pssOf(r.pid as number), 0);
    },
    async close() {
      await pool.end();
      await local.stop();
    },
  };
}

async function measure(side: Side, round: number): Promise<Record<Phase, Measure>> {
  const id = (i: number) => 251 + ((i * 7919 + round * 104729) % USERS);
  return {
    profile: await closedLoop((i) => side.profile(id(i)), PHASE_MS, CLIENTS),
    profileNoLookups: await closedLoop((i) => side.profileNoLookups(id(i)), PHASE_MS, CLIENTS),
    regionJoin: await closedLoop((i) => side.regionJoin(i % REGIONS.length), PHASE_MS, CLIENTS),
  };
}

async function main(): Promise<void> {
  const docs = resumes(USERS);
  if (values.install && findPostgresBin() === null) await installPostgres();
  const hasPg = findPostgresBin() !== null || process.env.DDIA_PG_URL !== undefined;
  if (!hasPg) console.log(`PostgreSQL is not installed: measuring document-db only. ${INSTALL_HINT}`);
  const rows: {
    round: number;
    side: string;
    phase: Phase;
    opsPerS: number;
    p99Ms: number;
    memMiB: number;
  }[] = [];
  const samples: Record<string, unknown> = {};
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['doc', 'sql'] : ['sql', 'doc'];
    for (const which of order) {
      if (which === 'sql' && !hasPg) continue;
      const side = which === 'doc' ? await documentSide() : await relationalSide();
      try {
        const started = performance.now();
        await side.load(docs);
        console.log(
          `round ${round} ${side.name}: loaded ${USERS} résumés in ${((performance.now() - started) / 1000).toFixed(1)} s`,
        );
        samples[which] = await side.sample(251 + 17, 3);
        const result = await measure(side, round);
        const memMiB = Math.round((await side.rssBytes()) / 2 ** 20);
        for (const phase of PHASES) rows.push({ round, side: side.name, phase, ...result[phase], memMiB });
        console.log(`round ${round} ${side.name}: ${JSON.stringify(result)} memory ${memMiB} MiB`);
      } finally {
        await side.close();
      }
    }
  }
  if (samples.sql && JSON.stringify(samples.doc) !== JSON.stringify(samples.sql))
    throw new Error(`the two sides disagree: ${JSON.stringify(samples)}`);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const sides = [...new Set(rows.map((r) => r.side))];
  const summary: Record<
    string,
    Record<string, { opsPerS: number; min: number; max: number; p99Ms: number }>
  > = {};
  for (const side of sides)
    for (const phase of PHASES) {
      const same = rows.filter((r) => r.side === side && r.phase === phase);
      const ops = same.map((r) => r.opsPerS);
      summary[side] ??= {};
      summary[side]![phase] = {
        opsPerS: Math.round(median(ops)),
        min: Math.round(Math.min(...ops)),
        max: Math.round(Math.max(...ops)),
        p99Ms: Number(median(same.map((r) => r.p99Ms)).toFixed(2)),
      };
    }
  const machine = { cpus: cpus().length, model: cpus()[0]?.model, node: process.version };
  await mkdir(RESULTS, { recursive: true });
  const file = join(
    RESULTS,
    QUICK ? 'resume-quick.json' : `resume-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
  );
  await writeFile(
    file,
    JSON.stringify(
      { users: USERS, rounds: ROUNDS, phaseMs: PHASE_MS, clients: CLIENTS, machine, summary, rows },
      null,
      2,
    ),
  );
  const [doc, sql] = sides;
  console.log(
    `\n| question | ${doc} ops/s (min..max) | p99 ms | ${sql ?? 'PostgreSQL'} ops/s (min..max) | p99 ms | ratio |`,
  );
  console.log('|---|---|---|---|---|---|');
  for (const phase of PHASES) {
    const o = summary[doc!]?.[phase];
    const p = sql ? summary[sql]?.[phase] : undefined;
    const cell = (s?: { opsPerS: number; min: number; max: number }) =>
      s ? `${s.opsPerS} (${s.min}..${s.max})` : 'n/a';
    const ratio = o && p ? `${(o.opsPerS / p.opsPerS).toFixed(2)}×` : 'n/a';
    console.log(`| ${phase} | ${cell(o)} | ${o?.p99Ms ?? ''} | ${cell(p)} | ${p?.p99Ms ?? ''} | ${ratio} |`);
  }
  console.log(`\nresults: ${file}`);
}

await main();
