// A throwaway PostgreSQL cluster for comparisons (Hermitage side by side, benchmarks):
// initdb into a temporary directory, start on a free port, stop and delete afterwards.
// Uses DDIA_PG_URL instead when it is set. PostgreSQL refuses to run as root, so when we
// are root the server runs as the `postgres` user (the Debian package creates it).
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const INSTALL_HINT =
  'PostgreSQL is not installed. On Debian/Ubuntu: `apt-get update && apt-get install -y postgresql` ' +
  '(or point DDIA_PG_URL at a server, e.g. postgres://postgres@127.0.0.1:5432/postgres).';

export class PostgresUnavailableError extends Error {
  override name = 'PostgresUnavailableError';
}

export interface LocalPostgres {
  url: string;
  version: string;
  stop(): Promise<void>;
}

export function findPostgresBin(): string | null {
  const fromConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (fromConfig.status === 0 && existsSync(join(fromConfig.stdout.trim(), 'initdb')))
    return fromConfig.stdout.trim();
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Installs PostgreSQL with apt-get (only when asked: it needs root and network). */
export async function installPostgres(): Promise<void> {
  await run('apt-get', ['update'], { maxBuffer: 64 * 1024 * 1024 });
  await run('apt-get', ['install', '-y', 'postgresql'], { maxBuffer: 64 * 1024 * 1024 });
}

export async function startLocalPostgres(options: { fsync?: boolean } = {}): Promise<LocalPostgres> {
  if (process.env.DDIA_PG_URL) {
    return { url: process.env.DDIA_PG_URL, version: 'external', stop: async () => {} };
  }
  const bin = findPostgresBin();
  if (!bin) throw new PostgresUnavailableError(INSTALL_HINT);
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'ddia-pg-'));
  const data = join(dir, 'data');
  const exec = async (cmd: string, args: string[]) => {
    if (!asRoot) return run(join(bin, cmd), args);
    return run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]);
  };
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']).catch(() => {
      throw new PostgresUnavailableError(
        'running as root but there is no postgres user to run the server as',
      );
    });
    const uid = Number(stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    await chown(dir, uid, gid);
    await chmod(dir, 0o700);
  }
  const port = await freePort();
  await exec('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const settings = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses='127.0.0.1'",
    `-c fsync=${options.fsync === false ? 'off' : 'on'}`,
    // Its default, stated: a commit returns once its WAL is flushed (what our WAL does too).
    `-c synchronous_commit=${options.fsync === false ? 'off' : 'on'}`,
    '-c max_connections=200',
    // Hermitage's blocked steps wait; keep deadlock detection quick so scenarios finish fast.
    '-c deadlock_timeout=200ms',
  ].join(' ');
  await exec('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-o', settings, '-w', 'start']);
  const version = (await exec('postgres', ['--version'])).stdout.trim();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    version,
    stop: async () => {
      await exec('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
