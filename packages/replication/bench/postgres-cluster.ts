// PostgreSQL 15 streaming replication on this machine, the production reference for
// single-leader replication: a primary (initdb) and two standbys cloned with pg_basebackup,
// streaming from it, with synchronous_standby_names = 'ANY 1 (s1, s2)'. The commit level is
// chosen per session (synchronous_commit = off | on | remote_apply). PostgreSQL refuses to run
// as root: as root the servers run as the Debian package's `postgres` user.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const INSTALL_HINT =
  'PostgreSQL is not installed: rerun with --install, or `apt-get update && apt-get install -y postgresql`.';

export interface PostgresCluster {
  primaryUrl: string;
  version: string;
  /** The primary's and the standbys' data directories (their postmaster.pid names the server). */
  dataDirs: string[];
  stop(): Promise<void>;
}

export function findPostgresBin(): string | null {
  const fromConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (fromConfig.status === 0 && existsSync(join(fromConfig.stdout.trim(), 'pg_basebackup')))
    return fromConfig.stdout.trim();
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_basebackup')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : null;
}

export async function installPostgres(): Promise<void> {
  await run('apt-get', ['update'], { maxBuffer: 64 * 1024 * 1024 });
  await run('apt-get', ['install', '-y', 'postgresql'], { maxBuffer: 64 * 1024 * 1024 });
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

export async function startPostgresCluster(bin: string): Promise<PostgresCluster> {
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'ddia-pgrep-'));
  const exec = (cmd: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : run(join(bin, cmd), args);
  if (asRoot) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    await chown(dir, uid, gid);
    await chmod(dir, 0o700);
  }
  const started: string[] = [];
  const stop = async () => {
    for (const data of started.reverse())
      await exec('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const primary = join(dir, 'primary');
    const primaryPort = await freePort();
    await exec('initdb', ['-D', primary, '-A', 'trust', '-U', 'postgres']);
    const common = (port: number) =>
      [
        `-p ${port}`,
        `-k ${dir}`,
        "-c listen_addresses='127.0.0.1'",
        '-c fsync=on',
        '-c max_connections=100',
      ].join(' ');
    const primarySettings = [
      common(primaryPort),
      '-c wal_level=replica',
      '-c max_wal_senders=10',
      "-c synchronous_standby_names='ANY 1 (s1, s2)'",
    ].join(' ');
    await exec('pg_ctl', [
      '-D',
      primary,
      '-l',
      join(dir, 'primary.log'),
      '-o',
      primarySettings,
      '-w',
      'start',
    ]);
    started.push(primary);
    for (const name of ['s1', 's2']) {
      const data = join(dir, name);
      const port = await freePort();
      // -R writes primary_conninfo and standby.signal: the clone starts as a streaming standby.
      await exec('pg_basebackup', [
        '-h',
        '127.0.0.1',
        '-p',
        String(primaryPort),
        '-U',
        'postgres',
        '-D',
        data,
        '-R',
        '-X',
        'stream',
      ]);
      const settings = `${common(port)} -c primary_conninfo='host=127.0.0.1 port=${primaryPort} user=postgres application_name=${name}' -c hot_standby=on`;
      await exec('pg_ctl', ['-D', data, '-l', join(dir, `${name}.log`), '-o', settings, '-w', 'start']);
      started.push(data);
    }
    const version = (await exec('postgres', ['--version'])).stdout.trim();
    return {
      primaryUrl: `postgres://postgres@127.0.0.1:${primaryPort}/postgres`,
      version,
      dataDirs: [...started],
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
