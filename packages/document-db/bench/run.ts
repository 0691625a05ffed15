// Benchmark: the same document workload through the official mongodb driver against
// document-db (a real process, LSM engine, synced writes) and through `pg` against PostgreSQL
// JSONB (a real server, fsync on, a GIN index plus expression indexes on the queried fields),
// with mingo in process on the same data as the floor. Several rounds, the systems' order
// alternating per round; ops/s and p99 per phase, memory (RSS) of both servers.
//   pnpm --filter @ddia/document-db bench [--quick] [--install]
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { aggregate as mingoAggregate, find as mingoFind } from 'mingo';
import pg from 'pg';
// The throwaway PostgreSQL cluster helper lives in the transactions package for now (the
// lead is asked to move it to testkit); imported, not copied.
import {
  findPostgresBin,
  INSTALL_HINT,
  installPostgres,
  type LocalPostgres,
  startLocalPostgres,
} from '../../transactions/src/postgres/local-postgres.js';
import {
  CITIES,
  closedLoop,
  type Measure,
  type Person,
  parentPid,
  person,
  pssOf,
  settle,
  startDocumentDbProcess,
  treeCpuMs,
} from './support.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    // Installs PostgreSQL with apt-get first (root and network needed); never done unasked.
    install: { type: 'boolean', default: false },
  },
});
const QUICK = values.quick === true;
const DOCS = QUICK ? 2_000 : 100_000;
const ROUNDS = QUICK ? 1 : 3;
const PHASE_MS = QUICK ? 700 : 4_000;
const CLIENTS = 8;
const INSERT_BATCH = 1_000;
const RESULTS = new URL('./results/', import.meta.url).pathname;

interface System {
  name: string;
  load(docs: Person[]): Promise<void>;
  /** The cheapest request the protocol has (MongoDB's ping, PostgreSQL's SELECT 1): what the
   *  client library, the protocol and the server's request handling cost before any query. */
  roundTrip(): Promise<unknown>;
  byId(id: number): Promise<unknown>;
  byCity(city: string): Promise<unknown>;
  byAgeRange(age: number): Promise<unknown>;
  groupByCity(): Promise<unknown>;
  update(id: number): Promise<unknown>;
  rssBytes(): Promise<number>;
  /** The server's root process, whose CPU (with its children's) is measured per phase. */
  serverPid(): Promise<number | undefined>;
  close(): Promise<void>;
}

async function startOurs(): Promise<System> {
  const server = await startDocumentDbProcess(CLIENTS);
  const client = server.client;
  const coll = client.db('bench').collection<Person>('people');
  return {
    name: 'document-db',
    async load(docs) {
      await coll.createIndex({ city: 1 });
      await coll.createIndex({ age: 1 });
      for (let i = 0; i < docs.length; i += INSERT_BATCH)
        await coll.insertMany(docs.slice(i, i + INSERT_BATCH));
    },
    roundTrip: () => client.db('admin').command({ ping: 1 }),
    byId: (id) => coll.findOne({ _id: id }),
    byCity: (city) => coll.find({ city }).limit(10).toArray(),
    byAgeRange: (age) =>
      coll
        .find({ age: { $gte: age, $lt: age + 1 } })
        .limit(10)
        .toArray(),
    groupByCity: () => coll.aggregate([{ $group: { _id: '$city', n: { $sum: 1 } } }]).toArray(),
    update: (id) => coll.updateOne({ _id: id }, { $inc: { age: 1 } }),
    rssBytes: async () => pssOf(server.pid),
    serverPid: async () => server.pid,
    close: () => server.close(),
  };
}

async function startPostgres(local: LocalPostgres): Promise<System> {
  const pool = new pg.Pool({ connectionString: local.url, max: CLIENTS });
  // Idle connections report the server's shutdown at close as an error event; nothing to do.
  pool.on('error', () => {});
  await pool.query('DROP TABLE IF EXISTS people');
  await pool.query('CREATE TABLE people (id integer PRIMARY KEY, doc jsonb NOT NULL)');
  return {
    name: 'postgres-jsonb',
    async load(docs) {
      await pool.query('CREATE INDEX people_doc_gin ON people USING GIN (doc jsonb_path_ops)');
      await pool.query("CREATE INDEX people_city ON people ((doc->>'city'))");
      await pool.query("CREATE INDEX people_age ON people (((doc->>'age')::int))");
      for (let i = 0; i < docs.length; i += INSERT_BATCH) {
        const batch = docs.slice(i, i + INSERT_BATCH);
        await pool.query('INSERT INTO people (id, doc) SELECT * FROM unnest($1::int[], $2::jsonb[])', [
          batch.map((d) => d._id),
          batch.map((d) => JSON.stringify(d)),
        ]);
      }
      await pool.query('ANALYZE people');
    },
    roundTrip: () => pool.query('SELECT 1'),
    byId: (id) => pool.query('SELECT doc FROM people WHERE id = $1', [id]),
    byCity: (city) => pool.query("SELECT doc FROM people WHERE doc->>'city' = $1 LIMIT 10", [city]),
    byAgeRange: (age) =>
      pool.query(
        "SELECT doc FROM people WHERE (doc->>'age')::int >= $1 AND (doc->>'age')::int < $2 LIMIT 10",
        [age, age + 1],
      ),
    groupByCity: () => pool.query("SELECT doc->>'city' AS city, count(*) FROM people GROUP BY 1"),
    update: (id) =>
      pool.query(
        "UPDATE people SET doc = jsonb_set(doc, '{age}', to_jsonb((doc->>'age')::int + 1)) WHERE id = $1",
        [id],
      ),
    // Every server process PostgreSQL reports (backends, checkpointer, writers), summed by PSS.
    async rssBytes() {
      const { rows } = await pool.query('SELECT pid FROM pg_stat_activity');
      return rows.reduce((sum, r) => sum + pssOf(r.pid as number), 0);
    },
    // The postmaster: the parent of this connection's backend (absent for DDIA_PG_URL's remote server).
    async serverPid() {
      if (process.env.DDIA_PG_URL) return undefined;
      const { rows } = await pool.query('SELECT pg_backend_pid() AS pid');
      return parentPid(rows[0].pid as number);
    },
    close: () => pool.end(),
  };
}

function mingoSystem(docs: Person[]): System {
  return {
    name: 'mingo (in process)',
    load: async () => {},
    roundTrip: async () => {},
    byId: async (id) => mingoFind(docs, { _id: id }).next(),
    byCity: async (city) => mingoFind(docs, { city }).limit(10).all(),
    byAgeRange: async (age) =>
      mingoFind(docs, { age: { $gte: age, $lt: age + 1 } })
        .limit(10)
        .all(),
    groupByCity: async () => mingoAggregate(docs, [{ $group: { _id: '$city', n: { $sum: 1 } } }]),
    update: async () => {},
    rssBytes: async () => process.memoryUsage().rss,
    serverPid: async () => undefined,
    close: async () => {},
  };
}

const PHASES = ['roundTrip', 'pointById', 'eqIndexed', 'rangeIndexed', 'groupBy', 'updateMix'] as const;
type Phase = (typeof PHASES)[number] | 'bulkInsert';

type Settled = Awaited<ReturnType<typeof settle>>;

async function runSystem(
  system: System,
  docs: Person[],
  round: number,
): Promise<{ phases: Record<Phase, Measure>; settled: Settled }> {
  const out = {} as Record<Phase, Measure>;
  const root = await system.serverPid();
  // CPU per operation on each side: this process (the client library: the mongodb driver or
  // pg) and the server's processes. On two shared cores, both come out of the same budget.
  const withCpu = async (run: () => Promise<Measure>, ops: (m: Measure) => number): Promise<Measure> => {
    const server0 = treeCpuMs(root);
    const client0 = process.cpuUsage();
    const measure = await run();
    const client = process.cpuUsage(client0);
    const n = Math.max(1, ops(measure));
    return {
      ...measure,
      clientCpuMs: (client.user + client.system) / 1000 / n,
      serverCpuMs: root === undefined ? 0 : (treeCpuMs(root) - server0) / n,
    };
  };
  const perPhase = (m: Measure) => (m.opsPerS * PHASE_MS) / 1000;
  out.bulkInsert = await withCpu(
    async () => {
      const started = performance.now();
      await system.load(docs);
      return { opsPerS: docs.length / ((performance.now() - started) / 1000), p99Ms: 0 };
    },
    () => docs.length,
  );
  // The load's deferred work (compactions, checkpoints) finishes before the reads are measured.
  const settled = await settle(root);
  const rand = (i: number) => (i * 7919 + round * 104729) % DOCS;
  out.roundTrip = await withCpu(() => closedLoop(() => system.roundTrip(), PHASE_MS, CLIENTS), perPhase);
  out.pointById = await withCpu(() => closedLoop((i) => system.byId(rand(i)), PHASE_MS, CLIENTS), perPhase);
  out.eqIndexed = await withCpu(
    () => closedLoop((i) => system.byCity(`city${i % CITIES}`), PHASE_MS, CLIENTS),
    perPhase,
  );
  out.rangeIndexed = await withCpu(
    () => closedLoop((i) => system.byAgeRange(18 + (i % 60)), PHASE_MS, CLIENTS),
    perPhase,
  );
  out.groupBy = await withCpu(() => closedLoop(() => system.groupByCity(), PHASE_MS, 2), perPhase);
  out.updateMix = await withCpu(
    () => closedLoop((i) => (i % 4 === 0 ? system.update(rand(i)) : system.byId(rand(i))), PHASE_MS, CLIENTS),
    perPhase,
  );
  return { phases: out, settled };
}

async function main(): Promise<void> {
  const startLoad = loadavg();
  const docs = Array.from({ length: DOCS }, (_, i) => person(i));
  if (values.install && findPostgresBin() === null) await installPostgres();
  const hasPg = findPostgresBin() !== null || process.env.DDIA_PG_URL !== undefined;
  if (!hasPg)
    console.log(
      `PostgreSQL is not installed: measuring document-db and mingo only. Run with --install, or: ${INSTALL_HINT}`,
    );
  const rows: {
    round: number;
    system: string;
    phase: Phase;
    opsPerS: number;
    p99Ms: number;
    clientCpuMs?: number;
    serverCpuMs?: number;
    rssMiB: number;
    /** The machine's 1-minute load average when the system's round ended (a shared machine). */
    load1: number;
  }[] = [];
  /** How long each server took to settle after its load, and the CPU its background work used. */
  const settles: ({ round: number; system: string } & Settled)[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['ours', 'pg'] : ['pg', 'ours'];
    for (const which of order) {
      if (which === 'pg' && !hasPg) continue;
      const local = which === 'pg' ? await startLocalPostgres() : undefined;
      const system = which === 'pg' ? await startPostgres(local!) : await startOurs();
      try {
        const { phases: result, settled } = await runSystem(system, docs, round);
        settles.push({ round, system: system.name, ...settled });
        const rssMiB = Math.round((await system.rssBytes()) / 2 ** 20);
        for (const phase of Object.keys(result) as Phase[])
          rows.push({ round, system: system.name, phase, ...result[phase], rssMiB, load1: loadavg()[0]! });
        console.log(
          `round ${round} ${system.name}: ${JSON.stringify(result)} rss ${rssMiB} MiB load ${loadavg()[0]!.toFixed(1)}`,
        );
      } finally {
        await system.close();
        await local?.stop();
      }
    }
  }
  const floor = (await runSystem(mingoSystem(docs), docs, 0)).phases;
  // mingo has nothing to load (it filters a JavaScript array) and no round trip, so those two
  // are not measurements: left out rather than reported as billions of operations a second.
  for (const phase of (Object.keys(floor) as Phase[]).filter((p) => p !== 'bulkInsert' && p !== 'roundTrip'))
    rows.push({
      round: 0,
      system: 'mingo (in process)',
      phase,
      ...floor[phase],
      rssMiB: 0,
      load1: loadavg()[0]!,
    });
  // Median over rounds per system and phase, with the spread (min..max).
  const summary: Record<
    string,
    Record<
      string,
      { opsPerS: number; min: number; max: number; p99Ms: number; clientCpuMs: number; serverCpuMs: number }
    >
  > = {};
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  for (const row of rows) {
    const same = rows.filter((r) => r.system === row.system && r.phase === row.phase);
    const ops = same.map((r) => r.opsPerS).sort((a, b) => a - b);
    const p99 = same.map((r) => r.p99Ms).sort((a, b) => a - b);
    summary[row.system] ??= {};
    summary[row.system]![row.phase] = {
      opsPerS: Math.round(ops[Math.floor(ops.length / 2)]!),
      min: Math.round(ops[0]!),
      max: Math.round(ops[ops.length - 1]!),
      p99Ms: Number(p99[Math.floor(p99.length / 2)]!.toFixed(2)),
      clientCpuMs: Number(median(same.map((r) => r.clientCpuMs ?? 0)).toFixed(3)),
      serverCpuMs: Number(median(same.map((r) => r.serverCpuMs ?? 0)).toFixed(3)),
    };
  }
  const machine = { cpus: cpus().length, model: cpus()[0]?.model, node: process.version };
  await mkdir(RESULTS, { recursive: true });
  const file = join(
    RESULTS,
    QUICK ? 'quick.json' : `run-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
  );
  await writeFile(
    file,
    JSON.stringify(
      {
        docs: DOCS,
        rounds: ROUNDS,
        phaseMs: PHASE_MS,
        clients: CLIENTS,
        machine,
        server: process.env.DOCDB_MAIN ?? 'dist/main.js',
        loadAverages: { start: startLoad, end: loadavg() },
        settles,
        summary,
        rows,
      },
      null,
      2,
    ),
  );
  console.log(
    '\n| phase | document-db ops/s (min..max) | p99 ms | postgres-jsonb ops/s (min..max) | p99 ms | ratio | mingo ops/s |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const phase of ['bulkInsert', ...PHASES]) {
    const o = summary['document-db']?.[phase];
    const p = summary['postgres-jsonb']?.[phase];
    const m = summary['mingo (in process)']?.[phase];
    const cell = (s?: { opsPerS: number; min: number; max: number }) =>
      s ? `${s.opsPerS} (${s.min}..${s.max})` : 'n/a';
    const ratio = o && p ? (o.opsPerS / p.opsPerS).toFixed(2) : 'n/a';
    console.log(
      `| ${phase} | ${cell(o)} | ${o?.p99Ms ?? ''} | ${cell(p)} | ${p?.p99Ms ?? ''} | ${ratio}x | ${m ? m.opsPerS : ''} |`,
    );
  }
  // The ceiling: what this machine's cores could do if the client and the server were the only
  // work and both used every core (cores x 1000 ms / CPU ms per operation). A client library
  // that costs more than the other side's client and server together caps the ratio by itself.
  console.log(
    `\n| phase | CPU ms/op: mongodb driver + document-db | ceiling ops/s on ${cpus().length} cores | pg + PostgreSQL | ceiling ops/s |`,
  );
  console.log('|---|---|---|---|---|');
  for (const phase of ['bulkInsert', ...PHASES]) {
    const o = summary['document-db']?.[phase];
    const p = summary['postgres-jsonb']?.[phase];
    const cpu = (s?: { clientCpuMs: number; serverCpuMs: number }) =>
      s ? `${s.clientCpuMs} + ${s.serverCpuMs}` : 'n/a';
    const ceiling = (s?: { clientCpuMs: number; serverCpuMs: number }) =>
      s && s.clientCpuMs + s.serverCpuMs > 0
        ? String(Math.round((cpus().length * 1000) / (s.clientCpuMs + s.serverCpuMs)))
        : 'n/a';
    console.log(`| ${phase} | ${cpu(o)} | ${ceiling(o)} | ${cpu(p)} | ${ceiling(p)} |`);
  }
  console.log(`\nresults: ${file}`);
}

await main();
