// Transfer benchmark: our service beside PostgreSQL on the same workload, same durability.
//   node --import tsx bench/run.ts [--quick] [--rounds N]
// A transfer reads one balance and moves an amount between two accounts, from 16 concurrent
// clients, at read committed and serializable, under low contention (1000 accounts) and high
// contention (10 accounts), in two shapes with the same round trips on both sides:
//   interactive  one request per statement: begin, select, update, update, commit (5 round
//                trips); ours over HTTP/JSON, PostgreSQL over its wire protocol (pg).
//   batch        the whole transaction in one request: ours `POST /transaction`, PostgreSQL
//                one multi-statement query string (`begin ...; select ...; update ...; commit`).
// Durability is the same: our WAL acknowledges a commit after its O_DSYNC write (group
// commit), PostgreSQL runs with fsync=on, synchronous_commit=on (its defaults, set explicitly).
// Both servers run for the whole bench; each round measures every cell of one system, then
// of the other, and the order alternates between rounds. Memory (PSS of all the system's
// processes) is sampled after each system's turn, the load average with every cell.
// In a closed loop p50 ~ clients / throughput (Little's law): a high p50 with a fast server
// means requests queue for CPU, here on 2 cores shared with other work.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HttpClient, pollUntil } from '@ddia/common';
import { freePort } from '@ddia/testkit';
import pg from 'pg';
import { findPostgresBin, type LocalPostgres, startLocalPostgres } from '../src/postgres/local-postgres.js';

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, rounds: { type: 'string' } },
});
const QUICK = values.quick === true;
const ROUNDS = Number(values.rounds ?? (QUICK ? 1 : 3));
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS > 20) {
  console.error('--rounds must be an integer from 1 to 20');
  process.exit(2);
}
/** Per cell. --quick is CI's smoke run: it proves every cell still runs, not a figure. */
const DURATION_MS = QUICK ? 400 : 5_000;
/** Unmeasured transfers per system before round 1: JIT warm-up and opening connections. */
const WARMUP_MS = QUICK ? 300 : 3_000;
const CLIENTS = 16;
const CONTENTION = { low: 1000, high: 10 } as const;
const LEVELS = { 'read-committed': 'read committed', serializable: 'serializable' } as const;
const MODES = ['interactive', 'batch'] as const;
type Level = keyof typeof LEVELS;
type Mode = (typeof MODES)[number];
type Contention = keyof typeof CONTENTION;
const RESULTS = new URL('./results/', import.meta.url).pathname;
/** Generous: a transfer may wait for a lock up to the server's 2 s lock timeout. */
const REQUEST_DEADLINE_MS = 30_000;
const KIB_PER_MIB = 1024;

interface Cell {
  round: number;
  system: string;
  mode: Mode;
  level: Level;
  contention: Contention;
  commitsPerS: number;
  abortRate: number;
  p50Ms: number;
  p99Ms: number;
  /** 1-minute load average when the cell started. */
  load1: number;
  /** Ours: commits made durable per O_DSYNC write of the WAL (the group commit factor). */
  walAppendsPerWrite?: number;
}

interface System {
  name: string;
  /** Creates the accounts tables. */
  setup(): Promise<void>;
  /** One transfer attempt; resolves true on commit, false on a serialization failure or deadlock. */
  transfer(mode: Mode, level: Level, contention: Contention): () => Promise<boolean>;
  /** PSS of the system's processes, MiB (null where /proc cannot tell). */
  memoryMiB(): number | null;
  /** Ours: the WAL's counters from /metrics. */
  walCounters?(): Promise<{ appends: number; writes: number }>;
  close(): Promise<void>;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function median(xs: number[]): number {
  return percentile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
}

/** Runs `attempt` from CLIENTS loops for durationMs. */
async function drive(attempt: () => Promise<boolean>, durationMs: number) {
  const latencies: number[] = [];
  let commits = 0;
  let aborts = 0;
  const end = performance.now() + durationMs;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        if (await attempt()) {
          commits++;
          latencies.push(performance.now() - t0);
        } else aborts++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    commitsPerS: Math.round((commits / durationMs) * 1000),
    abortRate: Number((aborts / Math.max(1, commits + aborts)).toFixed(3)),
    p50Ms: Number(percentile(latencies, 0.5).toFixed(2)),
    p99Ms: Number(percentile(latencies, 0.99).toFixed(2)),
  };
}

function pickPair(accounts: number): [number, number, number] {
  const from = Math.floor(Math.random() * accounts);
  const to = (from + 1 + Math.floor(Math.random() * (accounts - 1))) % accounts;
  return [from, to, 1 + Math.floor(Math.random() * 10)];
}

/** Proportional set size of these processes, MiB: shared pages are split among their sharers. */
function pssMiB(pids: number[]): number | null {
  try {
    let kib = 0;
    for (const pid of pids) {
      const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      kib += Number(/^Pss:\s+(\d+) kB/m.exec(text)?.[1] ?? Number.NaN);
    }
    return Number.isFinite(kib) ? Number((kib / KIB_PER_MIB).toFixed(1)) : null;
  } catch {
    return null;
  }
}

/** A process and its children (PostgreSQL: the postmaster and its backends and workers). */
function withChildren(pid: number): number[] {
  const children: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const ppid = /^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${name}/status`, 'utf8'))?.[1];
      if (Number(ppid) === pid) children.push(Number(name));
    } catch {
      // The process ended while we looked.
    }
  }
  return [pid, ...children];
}

async function startOurs(): Promise<System> {
  const dir = await mkdtemp(join(tmpdir(), 'ddia-tx-bench-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const main = new URL('../dist/main.js', import.meta.url).pathname;
  const extra = process.env.DDIA_TX_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...extra,
      main,
      ...['--port', String(port), '--data-dir', dir, '--log-level', 'warn', '--lock-timeout-ms', '2000'],
    ],
    { stdio: 'inherit' },
  );
  // POSTs are never retried (a retried commit could apply twice); one pooled connection per client.
  const http = new HttpClient({ deadlineMs: REQUEST_DEADLINE_MS, retries: 0, connectionsPerOrigin: CLIENTS });
  await pollUntil(
    () =>
      http.request(`${url}/ready`).then(
        (r) => r.status === 200,
        () => false,
      ),
    {
      timeoutMs: 20_000,
      what: 'our transactions service to be ready',
    },
  );
  const post = async (path: string, body: unknown) => {
    const res = await http.request(url + path, { method: 'POST', body: body as object });
    // biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes
    const json = res.json() as any;
    if (res.status >= 300) throw Object.assign(new Error(json.detail), { status: res.status });
    return json;
  };
  const aborted = (e: unknown) => {
    if ((e as { status?: number }).status !== 409) throw e;
    return false;
  };
  return {
    name: 'ddia-transactions',
    async setup() {
      for (const [name, accounts] of Object.entries(CONTENTION)) {
        const table = `accounts_${name}`;
        await post('/tables', { name: table, primaryKey: 'id' });
        const rows = Array.from({ length: accounts }, (_, id) => ({
          op: 'insert',
          table,
          row: { id, balance: 1000 },
        }));
        for (let i = 0; i < rows.length; i += 64)
          await post('/transaction', { statements: rows.slice(i, i + 64) });
      }
    },
    transfer: (mode, level, contention) => {
      const table = `accounts_${contention}`;
      const accounts = CONTENTION[contention];
      if (mode === 'batch') {
        return () => {
          const [from, to, amount] = pickPair(accounts);
          return post('/transaction', {
            isolation: level,
            statements: [
              { op: 'query', table, where: `id = ${from}` },
              { op: 'update', table, where: `id = ${from}`, set: { balance: `balance - ${amount}` } },
              { op: 'update', table, where: `id = ${to}`, set: { balance: `balance + ${amount}` } },
            ],
          }).then(() => true, aborted);
        };
      }
      return async () => {
        const [from, to, amount] = pickPair(accounts);
        let id: number | undefined;
        try {
          id = (await post('/tx', { isolation: level })).id;
          await post(`/tx/${id}/query`, { table, where: `id = ${from}` });
          await post(`/tx/${id}/update`, {
            table,
            where: `id = ${from}`,
            set: { balance: `balance - ${amount}` },
          });
          await post(`/tx/${id}/update`, {
            table,
            where: `id = ${to}`,
            set: { balance: `balance + ${amount}` },
          });
          await post(`/tx/${id}/commit`, {});
          return true;
        } catch (e) {
          const result = aborted(e);
          if (id !== undefined) await post(`/tx/${id}/rollback`, {}).catch(() => {});
          return result;
        }
      };
    },
    memoryMiB: () => (child.pid === undefined ? null : pssMiB([child.pid])),
    async walCounters() {
      const text = (await http.request(`${url}/metrics`)).text();
      const gauge = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1]);
      return { appends: gauge('ddia_tx_wal_appends'), writes: gauge('ddia_tx_wal_writes') };
    },
    async close() {
      await http.close();
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** serialization_failure and deadlock_detected: the transfer is aborted, counted, not an error. */
const SERIALIZATION_SQLSTATES: ReadonlySet<string> = new Set(['40001', '40P01']);

async function startPostgres(): Promise<{ system: System; version: string } | string> {
  if (!findPostgresBin() && !process.env.DDIA_PG_URL) {
    return 'not installed (apt-get install postgresql, or set DDIA_PG_URL)';
  }
  let server: LocalPostgres;
  try {
    server = await startLocalPostgres({ fsync: true });
  } catch (e) {
    return `cannot start it: ${oneLine(e)}`;
  }
  const pool = new pg.Pool({ connectionString: server.url, max: CLIENTS });
  let stopping = false;
  // pg.Pool re-emits errors of idle connections (e.g. 57P01 when the server stops first);
  // unhandled, that event kills the process.
  pool.on('error', (e) => {
    if (!stopping) console.log(`PostgreSQL: an idle connection failed: ${oneLine(e)}`);
  });
  const settings = await pool.query(
    "select name, setting from pg_settings where name in ('fsync', 'synchronous_commit', 'wal_sync_method')",
  );
  const postmaster = Number(
    /^PPid:\s+(\d+)/m.exec(
      readFileSync(
        `/proc/${(await pool.query('select pg_backend_pid() as pid')).rows[0].pid}/status`,
        'utf8',
      ),
    )?.[1],
  );
  const run = async (body: (client: pg.PoolClient) => Promise<void>): Promise<boolean> => {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await body(client);
      return true;
    } catch (e) {
      await client.query('rollback').catch((r: Error) => {
        broken = r;
      });
      if (!SERIALIZATION_SQLSTATES.has((e as { code?: string }).code ?? '')) throw e;
      return false;
    } finally {
      // A connection whose rollback failed is discarded, not handed to the next transfer.
      client.release(broken);
    }
  };
  const system: System = {
    name: 'PostgreSQL',
    async setup() {
      for (const [name, accounts] of Object.entries(CONTENTION)) {
        await pool.query(`create table accounts_${name} (id int primary key, balance int)`);
        await pool.query(
          `insert into accounts_${name} select g, 1000 from generate_series(0, ${accounts - 1}) g`,
        );
      }
    },
    transfer: (mode, level, contention) => {
      const table = `accounts_${contention}`;
      const accounts = CONTENTION[contention];
      const sqlLevel = LEVELS[level];
      if (mode === 'batch') {
        // The simple query protocol runs a string of statements in one round trip; the numbers
        // are ours, not user input, so inlining them is safe.
        return () => {
          const [from, to, amount] = pickPair(accounts);
          return run(async (client) => {
            await client.query(
              `begin isolation level ${sqlLevel}; select balance from ${table} where id = ${from}; ` +
                `update ${table} set balance = balance - ${amount} where id = ${from}; ` +
                `update ${table} set balance = balance + ${amount} where id = ${to}; commit`,
            );
          });
        };
      }
      return () => {
        const [from, to, amount] = pickPair(accounts);
        return run(async (client) => {
          await client.query(`begin isolation level ${sqlLevel}`);
          await client.query(`select balance from ${table} where id = $1`, [from]);
          await client.query(`update ${table} set balance = balance - $1 where id = $2`, [amount, from]);
          await client.query(`update ${table} set balance = balance + $1 where id = $2`, [amount, to]);
          await client.query('commit');
        });
      };
    },
    memoryMiB: () => (Number.isInteger(postmaster) ? pssMiB(withChildren(postmaster)) : null),
    async close() {
      stopping = true;
      await pool.end();
      await server.stop();
    },
  };
  const shown = settings.rows
    .map((r: { name: string; setting: string }) => `${r.name}=${r.setting}`)
    .join(', ');
  return { system, version: `${server.version} (${shown})` };
}

function oneLine(e: unknown): string {
  const code = (e as { code?: string })?.code;
  const message = e instanceof Error ? e.message : String(e);
  return `${message.split('\n')[0]}${code ? ` (${code})` : ''}`;
}

const cells: Cell[] = [];
const memory: { round: number; system: string; pssMiB: number | null }[] = [];
const order: string[][] = [];
const systems: System[] = [await startOurs()];
const peer = await startPostgres();
let pgVersion: string | null = null;
if (typeof peer === 'string') console.log(`PostgreSQL peer skipped: ${peer}`);
else {
  systems.push(peer.system);
  pgVersion = peer.version;
}
try {
  for (const system of systems) {
    await system.setup();
    await drive(system.transfer('interactive', 'read-committed', 'low'), WARMUP_MS);
    await drive(system.transfer('batch', 'read-committed', 'low'), WARMUP_MS);
  }
  for (let round = 1; round <= ROUNDS; round++) {
    const turn = round % 2 === 1 ? systems : [...systems].reverse();
    order.push(turn.map((s) => s.name));
    for (const system of turn) {
      for (const mode of MODES)
        for (const contention of Object.keys(CONTENTION) as Contention[])
          for (const level of Object.keys(LEVELS) as Level[]) {
            const load1 = Number(loadavg()[0]!.toFixed(2));
            const walBefore = await system.walCounters?.();
            const result = await drive(system.transfer(mode, level, contention), DURATION_MS);
            const walAfter = await system.walCounters?.();
            const cell: Cell = { round, system: system.name, mode, level, contention, ...result, load1 };
            if (walBefore && walAfter) {
              const writes = walAfter.writes - walBefore.writes;
              cell.walAppendsPerWrite = Number(
                ((walAfter.appends - walBefore.appends) / Math.max(1, writes)).toFixed(2),
              );
            }
            cells.push(cell);
            console.log(JSON.stringify(cells.at(-1)));
          }
      memory.push({ round, system: system.name, pssMiB: system.memoryMiB() });
    }
  }
} finally {
  for (const system of systems) await system.close();
}

// The table: medians over the rounds, the spread as min-max, and the ratio of the medians.
const fmt = (xs: number[]) => `${median(xs)} (${Math.min(...xs)}-${Math.max(...xs)})`;
const tableRows: string[] = [];
const summary: Record<string, unknown>[] = [];
for (const mode of MODES)
  for (const contention of Object.keys(CONTENTION) as Contention[])
    for (const level of Object.keys(LEVELS) as Level[]) {
      const of = (system: string) =>
        cells.filter(
          (c) => c.system === system && c.mode === mode && c.level === level && c.contention === contention,
        );
      const ours = of('ddia-transactions');
      const theirs = of('PostgreSQL');
      const ourRate = median(ours.map((c) => c.commitsPerS));
      const theirRate = theirs.length > 0 ? median(theirs.map((c) => c.commitsPerS)) : Number.NaN;
      const ratio = Number((ourRate / theirRate).toFixed(2));
      summary.push({
        mode,
        level,
        contention,
        oursCommitsPerS: ourRate,
        postgresCommitsPerS: theirRate,
        ratio,
      });
      const side = (cs: Cell[]) =>
        cs.length === 0
          ? '— | — | —'
          : `${fmt(cs.map((c) => c.commitsPerS))} | ${median(cs.map((c) => c.abortRate))} | ${median(cs.map((c) => c.p50Ms))} / ${median(cs.map((c) => c.p99Ms))}`;
      tableRows.push(
        `| ${mode} | ${level} | ${contention} (${CONTENTION[contention]}) | ${side(ours)} | ${side(theirs)} | ${Number.isFinite(ratio) ? `${ratio}×` : '—'} |`,
      );
    }
const loads = cells.map((c) => c.load1);
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}${pgVersion ? `, ${pgVersion}` : ''}`;
const memoryLine = systems
  .map((s) => {
    const xs = memory.filter((m) => m.system === s.name && m.pssMiB !== null).map((m) => m.pssMiB!);
    return `${s.name} ${xs.length > 0 ? `${median(xs)} MiB` : 'unknown'}`;
  })
  .join(', ');
const groupCommit = cells.filter((c) => c.walAppendsPerWrite !== undefined).map((c) => c.walAppendsPerWrite!);
const md = [
  `Transfers (read one balance, update two), ${CLIENTS} clients, ${DURATION_MS / 1000} s per cell, ${ROUNDS} round(s), ` +
    `systems alternated (order per round: ${order.map((o) => o.join(' → ')).join('; ')}); ${machine}.`,
  `Load average (1 min) during the cells: ${Math.min(...loads)}-${Math.max(...loads)} on ${cpus().length} cores: the machine was shared.`,
  `Memory (PSS of all the system's processes, median over rounds): ${memoryLine}.`,
  groupCommit.length > 0
    ? `Our WAL's group commit: ${median(groupCommit)} commits per O_DSYNC write (median over cells; ${Math.min(...groupCommit)}-${Math.max(...groupCommit)}).`
    : '',
  '',
  '| shape | level | contention | ours commits/s median (min-max) | ours abort rate | ours p50 / p99 ms | PostgreSQL commits/s median (min-max) | PostgreSQL abort rate | PostgreSQL p50 / p99 ms | ours / PostgreSQL |',
  '|:--|:--|:--|--:|--:|--:|--:|--:|--:|--:|',
  ...tableRows,
].join('\n');
await mkdir(RESULTS, { recursive: true });
await writeFile(
  join(RESULTS, `transfers${QUICK ? '-quick' : ''}.json`),
  `${JSON.stringify({ machine, clients: CLIENTS, durationMs: DURATION_MS, rounds: ROUNDS, order, summary, memory, cells }, null, 2)}\n`,
);
await writeFile(join(RESULTS, `transfers${QUICK ? '-quick' : ''}.md`), `${md}\n`);
console.log(`\n${md}`);
