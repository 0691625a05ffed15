// Transfer benchmark: throughput, latency and abort rate per isolation level, under low
// contention (many accounts) and high contention (few accounts), for our service over HTTP
// (a real process, WAL with group commit) beside PostgreSQL (a real server, fsync on) on the
// same workload when PostgreSQL is installed.
//   node --import tsx bench/run.ts [--quick]
// Beside the headline figures it records where a transfer's time goes: the client-side
// latency of each request, the server's own time for each route (common's
// http_request_duration_seconds, scraped before and after each cell), and lock waits. In a
// closed loop, p50 ~ clients / throughput (Little's law), so a high p50 with a low server
// time means requests queue for CPU in front of the server or inside the client.
// The client is common's HttpClient (undici request API, keep-alive pool): Node 20's global
// fetch costs several times more client CPU per request (WHATWG streams), and on 2 shared
// cores that cost alone capped the run at about a third of the throughput.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HttpClient } from '@ddia/common';
import { freePort } from '@ddia/testkit';
import pg from 'pg';
import { findPostgresBin, type LocalPostgres, startLocalPostgres } from '../src/postgres/local-postgres.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const QUICK = values.quick === true;
const DURATION_MS = QUICK ? 1_000 : 5_000;
/**
 * Unmeasured transfers before each system's first cell: without them the first cell (always
 * read-committed, low contention) paid for JIT warm-up in client and server and for opening
 * the pooled connections, and came out at a third of the next cells' throughput.
 */
const WARMUP_MS = QUICK ? 1_000 : 3_000;
const CLIENTS = 16;
const CONTENTION = { low: 1000, high: 10 } as const;
const OURS = ['read-committed', 'repeatable-read', 'serializable', 'serializable-2pl', 'serial'] as const;
const PG_LEVELS: Record<string, string> = {
  'read-committed': 'read committed',
  'repeatable-read': 'repeatable read',
  serializable: 'serializable',
};
const RESULTS = new URL('./results/', import.meta.url).pathname;
/** Generous: a transfer may wait for a lock up to the server's 2 s lock timeout. */
const REQUEST_DEADLINE_MS = 30_000;
const ROUTES = ['/tx', '/tx/:id/query', '/tx/:id/update', '/tx/:id/commit'] as const;
const ROUTE_NAMES: Record<(typeof ROUTES)[number], string> = {
  '/tx': 'begin',
  '/tx/:id/query': 'query',
  '/tx/:id/update': 'update',
  '/tx/:id/commit': 'commit',
};

interface Row {
  system: string;
  level: string;
  contention: string;
  commitsPerS: number;
  abortRate: number;
  p50Ms: number;
  p99Ms: number;
  /** Ours only: where the time goes, per request kind (ms). */
  breakdown?: Record<string, { clientP50Ms: number; serverMeanMs: number }>;
  /** Ours only: statements that waited for a lock, per attempted transfer. */
  lockWaitsPerTx?: number;
}

/** Sums and counts of the server's request-duration histogram per route, plus lock waits. */
interface ServerSample {
  sumS: Map<string, number>;
  count: Map<string, number>;
  waits: number;
}

function parseServerSample(metrics: string): ServerSample {
  const sample: ServerSample = { sumS: new Map(), count: new Map(), waits: 0 };
  for (const line of metrics.split('\n')) {
    const m = /^http_request_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$/.exec(line);
    if (m) {
      const route = /route="([^"]*)"/.exec(m[2]!)?.[1] ?? '';
      const into = m[1] === 'sum' ? sample.sumS : sample.count;
      into.set(route, (into.get(route) ?? 0) + Number(m[3]));
      continue;
    }
    const w = /^ddia_tx_waits(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (w) sample.waits = Number(w[1]);
  }
  return sample;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Runs `attempt` from CLIENTS loops for durationMs; attempt resolves true on commit. */
async function drive(
  attempt: (client: number, accounts: number) => Promise<boolean>,
  accounts: number,
  durationMs = DURATION_MS,
) {
  const latencies: number[] = [];
  let commits = 0;
  let aborts = 0;
  const end = performance.now() + durationMs;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        if (await attempt(c, accounts)) {
          commits++;
          latencies.push(performance.now() - t0);
        } else aborts++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    attempts: commits + aborts,
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

async function benchOurs(rows: Row[]) {
  const dir = await mkdtemp(join(tmpdir(), 'ddia-tx-bench-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const main = new URL('../dist/main.js', import.meta.url).pathname;
  const child: ChildProcess = spawn(
    process.execPath,
    [main, '--port', String(port), '--data-dir', dir, '--log-level', 'warn', '--lock-timeout-ms', '2000'],
    { stdio: 'inherit' },
  );
  // POSTs are never retried (a retried commit could apply twice); one pooled connection per client.
  const http = new HttpClient({ deadlineMs: REQUEST_DEADLINE_MS, retries: 0, connectionsPerOrigin: CLIENTS });
  try {
    for (let i = 0; i < 200; i++) {
      if (
        await http
          .request(`${url}/ready`)
          .then((r) => r.status === 200)
          .catch(() => false)
      )
        break;
      await new Promise((r) => setTimeout(r, 50));
    }
    let timings: Map<string, number[]> | null = null;
    const post = async (path: string, body: unknown, kind?: string) => {
      const t0 = performance.now();
      const res = await http.request(url + path, { method: 'POST', body: body as object });
      if (timings && kind) {
        const list = timings.get(kind) ?? [];
        list.push(performance.now() - t0);
        timings.set(kind, list);
      }
      // biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes
      const json = res.json() as any;
      if (res.status >= 300) throw Object.assign(new Error(json.detail), { status: res.status });
      return json;
    };
    const sampleServer = async () => parseServerSample((await http.request(`${url}/metrics`)).text());
    const transfer =
      (level: string, table: string) =>
      async (_c: number, n: number): Promise<boolean> => {
        const [from, to, amount] = pickPair(n);
        let id: number | undefined;
        try {
          id = (await post('/tx', { isolation: level }, 'begin')).id;
          await post(`/tx/${id}/query`, { table, where: `id = ${from}` }, 'query');
          await post(
            `/tx/${id}/update`,
            { table, where: `id = ${from}`, set: { balance: `balance - ${amount}` } },
            'update',
          );
          await post(
            `/tx/${id}/update`,
            { table, where: `id = ${to}`, set: { balance: `balance + ${amount}` } },
            'update',
          );
          await post(`/tx/${id}/commit`, {}, 'commit');
          return true;
        } catch (e) {
          if ((e as { status?: number }).status !== 409) throw e;
          if (id !== undefined) await post(`/tx/${id}/rollback`, {}).catch(() => {});
          return false;
        }
      };
    for (const [name, accounts] of Object.entries(CONTENTION)) {
      const table = `accounts_${name}`;
      await post('/tables', { name: table, primaryKey: 'id' });
      const tx = (await post('/tx', {})).id;
      for (let a = 0; a < accounts; a++)
        await post(`/tx/${tx}/insert`, { table, row: { id: a, balance: 1000 } });
      await post(`/tx/${tx}/commit`, {});
      if (name === 'low') await drive(transfer('read-committed', table), accounts, WARMUP_MS);
      for (const level of OURS) {
        timings = new Map();
        const before = await sampleServer();
        const result = await drive(transfer(level, table), accounts);
        const after = await sampleServer();
        const breakdown: NonNullable<Row['breakdown']> = {};
        for (const route of ROUTES) {
          const kind = ROUTE_NAMES[route];
          const count = (after.count.get(route) ?? 0) - (before.count.get(route) ?? 0);
          const sumS = (after.sumS.get(route) ?? 0) - (before.sumS.get(route) ?? 0);
          const client = (timings.get(kind) ?? []).sort((a, b) => a - b);
          breakdown[kind] = {
            clientP50Ms: Number(percentile(client, 0.5).toFixed(2)),
            serverMeanMs: Number((count > 0 ? (sumS * 1000) / count : Number.NaN).toFixed(2)),
          };
        }
        timings = null;
        const { attempts, ...figures } = result;
        rows.push({
          system: 'ddia-transactions',
          level,
          contention: `${name} (${accounts} accounts)`,
          ...figures,
          breakdown,
          lockWaitsPerTx: Number(((after.waits - before.waits) / Math.max(1, attempts)).toFixed(3)),
        });
        console.log(JSON.stringify(rows.at(-1)));
      }
    }
  } finally {
    await http.close();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  }
}

/** The PostgreSQL peer; on any trouble with it, one line saying why and no rows (never a crash). */
async function benchPostgres(rows: Row[]): Promise<string | null> {
  if (!findPostgresBin() && !process.env.DDIA_PG_URL) {
    console.log('PostgreSQL peer skipped: not installed (apt-get install postgresql, or set DDIA_PG_URL)');
    return null;
  }
  let server: LocalPostgres;
  try {
    server = await startLocalPostgres({ fsync: true });
  } catch (e) {
    console.log(`PostgreSQL peer skipped: cannot start it: ${oneLine(e)}`);
    return null;
  }
  const pool = new pg.Pool({ connectionString: server.url, max: CLIENTS });
  let stopping = false;
  // pg.Pool re-emits errors of idle connections (e.g. 57P01 "terminating connection due to
  // administrator command" when the server stops before a closing socket is gone); unhandled,
  // that event kills the process. A connection that breaks mid-transfer fails its query instead.
  pool.on('error', (e) => {
    if (!stopping) console.log(`PostgreSQL: an idle connection failed: ${oneLine(e)}`);
  });
  const peerRows: Row[] = [];
  try {
    const transfer =
      (sqlLevel: string, table: string) =>
      async (_c: number, n: number): Promise<boolean> => {
        const [from, to, amount] = pickPair(n);
        const client = await pool.connect();
        let broken: Error | undefined;
        try {
          await client.query(`begin isolation level ${sqlLevel}`);
          await client.query(`select balance from ${table} where id = $1`, [from]);
          await client.query(`update ${table} set balance = balance - $1 where id = $2`, [amount, from]);
          await client.query(`update ${table} set balance = balance + $1 where id = $2`, [amount, to]);
          await client.query('commit');
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
    for (const [name, accounts] of Object.entries(CONTENTION)) {
      const table = `accounts_${name}`;
      await pool.query(`create table ${table} (id int primary key, balance int)`);
      await pool.query(`insert into ${table} select g, 1000 from generate_series(0, ${accounts - 1}) g`);
      if (name === 'low') await drive(transfer('read committed', table), accounts, WARMUP_MS);
      for (const [level, sqlLevel] of Object.entries(PG_LEVELS)) {
        const { attempts: _attempts, ...result } = await drive(transfer(sqlLevel, table), accounts);
        peerRows.push({
          system: 'PostgreSQL',
          level,
          contention: `${name} (${accounts} accounts)`,
          ...result,
        });
        console.log(JSON.stringify(peerRows.at(-1)));
      }
    }
    rows.push(...peerRows);
    return server.version;
  } catch (e) {
    console.log(`PostgreSQL peer failed, its rows are left out: ${oneLine(e)}`);
    return null;
  } finally {
    stopping = true;
    await pool.end();
    await server.stop();
  }
}

/** serialization_failure and deadlock_detected: the transfer is aborted, counted, not an error. */
const SERIALIZATION_SQLSTATES: ReadonlySet<string> = new Set(['40001', '40P01']);

function oneLine(e: unknown): string {
  const code = (e as { code?: string })?.code;
  const message = e instanceof Error ? e.message : String(e);
  return `${message.split('\n')[0]}${code ? ` (${code})` : ''}`;
}

const rows: Row[] = [];
await benchOurs(rows);
const pgVersion = await benchPostgres(rows);
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}${pgVersion ? `, ${pgVersion}` : ''}`;
const md = [
  `Transfers (read one balance, update two), ${CLIENTS} concurrent clients, ${DURATION_MS / 1000} s per cell; ${machine}.`,
  '',
  '| system | level | contention | commits/s | abort rate | p50 ms | p99 ms |',
  '|:--|:--|:--|--:|--:|--:|--:|',
  ...rows.map(
    (r) =>
      `| ${r.system} | ${r.level} | ${r.contention} | ${r.commitsPerS} | ${r.abortRate} | ${r.p50Ms} | ${r.p99Ms} |`,
  ),
  '',
  `Where a transfer's time goes (ours): client-side p50 of each request / the server's mean time`,
  'handling that route (ms), and statements that waited for a row or predicate lock per transfer.',
  '',
  '| level | contention | begin | query | update | commit | lock waits/tx |',
  '|:--|:--|--:|--:|--:|--:|--:|',
  ...rows
    .filter((r) => r.breakdown)
    .map((r) => {
      const cell = (k: string) => `${r.breakdown![k]!.clientP50Ms} / ${r.breakdown![k]!.serverMeanMs}`;
      return `| ${r.level} | ${r.contention} | ${cell('begin')} | ${cell('query')} | ${cell('update')} | ${cell('commit')} | ${r.lockWaitsPerTx} |`;
    }),
].join('\n');
await mkdir(RESULTS, { recursive: true });
await writeFile(
  join(RESULTS, `transfers${QUICK ? '-quick' : ''}.json`),
  JSON.stringify({ machine, rows }, null, 2),
);
await writeFile(join(RESULTS, `transfers${QUICK ? '-quick' : ''}.md`), `${md}\n`);
console.log(`\n${md}`);
