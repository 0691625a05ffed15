// Transfer benchmark: throughput, latency and abort rate per isolation level, under low
// contention (many accounts) and high contention (few accounts), for our service over HTTP
// (a real process, WAL with group commit) beside PostgreSQL (a real server, fsync on) on the
// same workload when PostgreSQL is installed.
//   node --import tsx bench/run.ts [--quick]
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '@ddia/testkit';
import pg from 'pg';
import { findPostgresBin, startLocalPostgres } from '../src/postgres/local-postgres.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const QUICK = values.quick === true;
const DURATION_MS = QUICK ? 1_000 : 5_000;
const CLIENTS = 16;
const CONTENTION = { low: 1000, high: 10 } as const;
const OURS = ['read-committed', 'repeatable-read', 'serializable', 'serializable-2pl', 'serial'] as const;
const PG_LEVELS: Record<string, string> = {
  'read-committed': 'read committed',
  'repeatable-read': 'repeatable read',
  serializable: 'serializable',
};
const RESULTS = new URL('./results/', import.meta.url).pathname;

interface Row {
  system: string;
  level: string;
  contention: string;
  commitsPerS: number;
  abortRate: number;
  p50Ms: number;
  p99Ms: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Runs `attempt` from CLIENTS loops for DURATION_MS; attempt resolves true on commit. */
async function drive(attempt: (client: number, accounts: number) => Promise<boolean>, accounts: number) {
  const latencies: number[] = [];
  let commits = 0;
  let aborts = 0;
  const end = performance.now() + DURATION_MS;
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
    commitsPerS: Math.round((commits / DURATION_MS) * 1000),
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
  try {
    for (let i = 0; i < 200; i++) {
      if (
        await fetch(`${url}/ready`)
          .then((r) => r.ok)
          .catch(() => false)
      )
        break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const post = async (path: string, body: unknown) => {
      const res = await fetch(url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      // biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes
      const json = (await res.json()) as any;
      if (res.status >= 300) throw Object.assign(new Error(json.detail), { status: res.status });
      return json;
    };
    for (const [name, accounts] of Object.entries(CONTENTION)) {
      const table = `accounts_${name}`;
      await post('/tables', { name: table, primaryKey: 'id' });
      const tx = (await post('/tx', {})).id;
      for (let a = 0; a < accounts; a++)
        await post(`/tx/${tx}/insert`, { table, row: { id: a, balance: 1000 } });
      await post(`/tx/${tx}/commit`, {});
      for (const level of OURS) {
        const result = await drive(async (_c, n) => {
          const [from, to, amount] = pickPair(n);
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
            if ((e as { status?: number }).status !== 409) throw e;
            if (id !== undefined) await post(`/tx/${id}/rollback`, {}).catch(() => {});
            return false;
          }
        }, accounts);
        rows.push({
          system: 'ddia-transactions',
          level,
          contention: `${name} (${accounts} accounts)`,
          ...result,
        });
        console.log(rows.at(-1));
      }
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  }
}

async function benchPostgres(rows: Row[]): Promise<string | null> {
  if (!findPostgresBin() && !process.env.DDIA_PG_URL) {
    console.log('PostgreSQL not installed: skipping the peer (apt-get install postgresql)');
    return null;
  }
  const server = await startLocalPostgres({ fsync: true });
  const pool = new pg.Pool({ connectionString: server.url, max: CLIENTS });
  try {
    for (const [name, accounts] of Object.entries(CONTENTION)) {
      const table = `accounts_${name}`;
      await pool.query(`create table ${table} (id int primary key, balance int)`);
      await pool.query(`insert into ${table} select g, 1000 from generate_series(0, ${accounts - 1}) g`);
      for (const [level, sqlLevel] of Object.entries(PG_LEVELS)) {
        const result = await drive(async (_c, n) => {
          const [from, to, amount] = pickPair(n);
          const client = await pool.connect();
          try {
            await client.query(`begin isolation level ${sqlLevel}`);
            await client.query(`select balance from ${table} where id = $1`, [from]);
            await client.query(`update ${table} set balance = balance - $1 where id = $2`, [amount, from]);
            await client.query(`update ${table} set balance = balance + $1 where id = $2`, [amount, to]);
            await client.query('commit');
            return true;
          } catch (e) {
            await client.query('rollback').catch(() => {});
            if (!['40001', '40P01'].includes((e as { code?: string }).code ?? '')) throw e;
            return false;
          } finally {
            client.release();
          }
        }, accounts);
        rows.push({ system: 'PostgreSQL', level, contention: `${name} (${accounts} accounts)`, ...result });
        console.log(rows.at(-1));
      }
    }
    return server.version;
  } finally {
    await pool.end();
    await server.stop();
  }
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
].join('\n');
await mkdir(RESULTS, { recursive: true });
await writeFile(
  join(RESULTS, `transfers${QUICK ? '-quick' : ''}.json`),
  JSON.stringify({ machine, rows }, null, 2),
);
await writeFile(join(RESULTS, `transfers${QUICK ? '-quick' : ''}.md`), `${md}\n`);
console.log(`\n${md}`);
