// Profiling aid: document-db alone under the JSONB bench's phases, with the CPU each side
// (server process, driver in this process) spends per operation. To profile the server:
//   DOCDB_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' node --import tsx bench/profile.ts [docs] [ms] [phases]
import { readFileSync } from 'node:fs';
import { closedLoop, type Measure, type Person, person, startDocumentDbProcess } from './support.js';

const DOCS = Number(process.argv[2] ?? 20_000);
const MS = Number(process.argv[3] ?? 3_000);
const ONLY = (process.argv[4] ?? 'byId,eq,range,group,mix').split(',');
const server = await startDocumentDbProcess(8);
const coll = server.client.db('bench').collection<Person>('people');

function serverCpuMs(): number {
  const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function phase(name: string, run: () => Promise<Measure>): Promise<void> {
  if (!ONLY.includes(name)) return;
  const s = serverCpuMs();
  const c = process.cpuUsage();
  const r = await run();
  const ops = (r.opsPerS * MS) / 1000;
  const client = process.cpuUsage(c);
  console.log(
    `${name}: ${Math.round(r.opsPerS)} ops/s p99 ${r.p99Ms.toFixed(2)} ms; CPU per op: server ${((serverCpuMs() - s) / ops).toFixed(3)} ms, driver ${((client.user + client.system) / 1000 / ops).toFixed(3)} ms`,
  );
}

await coll.createIndex({ city: 1 });
await coll.createIndex({ age: 1 });
const t = performance.now();
for (let i = 0; i < DOCS; i += 1000)
  await coll.insertMany(Array.from({ length: Math.min(1000, DOCS - i) }, (_, j) => person(i + j)));
console.log('insert docs/s', Math.round(DOCS / ((performance.now() - t) / 1000)));
const rand = (i: number) => (i * 7919) % DOCS;
const c = coll;
await phase('byId', () => closedLoop((i) => c.findOne({ _id: rand(i) }), MS, 8));
await phase('eq', () =>
  closedLoop(
    (i) =>
      c
        .find({ city: `city${i % 50}` })
        .limit(10)
        .toArray(),
    MS,
    8,
  ),
);
await phase('range', () =>
  closedLoop(
    (i) =>
      c
        .find({ age: { $gte: 18 + (i % 60), $lt: 19 + (i % 60) } })
        .limit(10)
        .toArray(),
    MS,
    8,
  ),
);
await phase('group', () =>
  closedLoop(() => c.aggregate([{ $group: { _id: '$city', n: { $sum: 1 } } }]).toArray(), MS, 2),
);
await phase('mix', () =>
  closedLoop(
    (i) => (i % 4 === 0 ? c.updateOne({ _id: rand(i) }, { $inc: { age: 1 } }) : c.findOne({ _id: rand(i) })),
    MS,
    8,
  ),
);
await server.close();

// The client's share: the same point read and equality query through `pg` against PostgreSQL
// JSONB, with the client CPU per operation, to compare the two drivers' cost on this machine.
if (process.env.DOCDB_PROFILE_PG) {
  const { startLocalPostgres } = await import('../../transactions/src/postgres/local-postgres.js');
  const pg = (await import('pg')).default;
  const local = await startLocalPostgres();
  const pool = new pg.Pool({ connectionString: local.url, max: 8 });
  pool.on('error', () => {});
  await pool.query('CREATE TABLE people (id integer PRIMARY KEY, doc jsonb NOT NULL)');
  await pool.query("CREATE INDEX people_city ON people ((doc->>'city'))");
  await pool.query(
    "INSERT INTO people SELECT i, jsonb_build_object('_id', i, 'name', 'user' || i, 'city', 'city' || (i % 50), 'age', 18 + i % 60) FROM generate_series(0, $1) i",
    [DOCS - 1],
  );
  await pool.query('ANALYZE people');
  for (const [name, op] of [
    ['pg byId', (i: number) => pool.query('SELECT doc FROM people WHERE id = $1', [rand(i)])],
    [
      'pg eq',
      (i: number) => pool.query("SELECT doc FROM people WHERE doc->>'city' = $1 LIMIT 10", [`city${i % 50}`]),
    ],
  ] as const) {
    const c0 = process.cpuUsage();
    const r = await closedLoop(op, MS, 8);
    const cpu = process.cpuUsage(c0);
    console.log(
      `${name}: ${Math.round(r.opsPerS)} ops/s; client CPU per op ${((cpu.user + cpu.system) / 1000 / ((r.opsPerS * MS) / 1000)).toFixed(3)} ms`,
    );
  }
  await pool.end();
  await local.stop();
}
