// The two systems under test, as real processes on loopback: our 3-node kv-store and a
// 3-member etcd cluster. Both fsync on commit (our Raft log: fsync 'group'; etcd: WAL fsync by
// default). Each knows how to phrase a put and a get, find its leader and kill a member.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Request } from './load.js';

export const MAIN_JS = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

export interface System {
  name: string;
  urls: string[];
  put(origin: string, key: string, value: Buffer): Request;
  get(origin: string, key: string): Request;
  leaderIndex(): Promise<number>;
  /** Process ids of the running members (for CPU accounting). */
  pids(): number[];
  kill(index: number): void;
  restart(index: number): Promise<void>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls `probe` until it says yes; throws on timeout, or at once when `failure` names one. */
async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  failure: () => string | null = () => null,
): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  while (performance.now() < deadline) {
    const failed = failure();
    if (failed !== null) throw new Error(failed);
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** How to run the members of one kv-store cluster; every field is optional. */
export interface KvStoreOptions {
  /** Node.js arguments before the script, e.g. `--max-semi-space-size=8` or `--import <preload>`. */
  nodeArgs?: readonly string[];
  /** kv-store flags after the standard ones; a flag given twice takes its last value. */
  flags?: readonly string[];
  /** Another build's main.js (e.g. a worktree of another commit) instead of this package's. */
  mainJs?: string;
}

export interface KvStore extends System {
  /** The cluster's temp dir: members' data dirs and logs; also `$KV_BENCH_DIR` in each member,
   *  where a preloaded monitor writes its files. Removed by close() unless a member crashed. */
  dir: string;
  /** The log (stdout and stderr) of each member, by index. */
  logPaths: string[];
}

/** The member's environment variable that names the cluster's temp dir (see KvStore.dir). */
export const KV_BENCH_DIR_ENV = 'KV_BENCH_DIR';

export async function startKvStore(options: KvStoreOptions = {}): Promise<KvStore> {
  const nodeArgs = options.nodeArgs ?? [];
  const mainJs = resolve(options.mainJs ?? MAIN_JS);
  const extraFlags = options.flags ?? [];
  const dir = await mkdtemp(join(tmpdir(), 'kv-bench-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const peers = urls.map((u, i) => `n${i + 1}=${u}`).join(',');
  const logPaths = urls.map((_, i) => join(dir, `n${i + 1}.log`));
  const children: (ChildProcess | null)[] = [];
  const spawnNode = (i: number) => {
    const logPath = logPaths[i] as string;
    const logFile = openSync(logPath, 'a');
    const child = spawn(
      process.execPath,
      [
        ...nodeArgs,
        mainJs,
        '--id',
        `n${i + 1}`,
        '--port',
        String(ports[i]),
        '--peers',
        peers,
        '--data-dir',
        join(dir, `n${i + 1}`),
        '--log-level',
        'warn',
        ...extraFlags,
      ],
      {
        stdio: ['ignore', logFile, logFile],
        env: { ...process.env, NODE_ENV: 'production', [KV_BENCH_DIR_ENV]: dir },
      },
    );
    // A node that dies on its own (not killed by the failover step) spoils the figures: say so.
    child.on('exit', (code, signal) => {
      if (children[i] === child)
        console.error(`kv-store n${i + 1} exited (code ${code}, signal ${signal}); log: ${logPath}`);
    });
    children[i] = child;
  };
  for (let i = 0; i < 3; i++) spawnNode(i);
  const ready = async (i: number) => (await fetch(`${urls[i]}/ready`)).status === 200;
  // A member that exits while starting (a bad Node argument or flag, a broken build) will not
  // become ready: stop at once rather than after READY_TIMEOUT_MS, and leave no member behind.
  const startFailure = () => {
    const i = children.findIndex((c) => c !== null && (c.exitCode !== null || c.signalCode !== null));
    return i < 0 ? null : `kv-store n${i + 1} exited while starting; log: ${logPaths[i]}`;
  };
  try {
    await waitUntil(
      'kv-store readiness',
      async () => (await Promise.all([0, 1, 2].map(ready))).every(Boolean),
      startFailure,
    );
  } catch (error) {
    for (const [i, c] of children.entries()) {
      children[i] = null;
      c?.kill('SIGKILL');
    }
    throw new Error(`${(error as Error).message}; members' logs and data: ${dir}`);
  }
  return {
    name: 'ddia kv-store',
    dir,
    logPaths,
    urls,
    put: (origin, key, value) => ({
      origin,
      method: 'PUT',
      path: `/kv/${key}`,
      body: value,
      headers: { 'content-type': 'application/octet-stream' },
    }),
    get: (origin, key) => ({ origin, method: 'GET', path: `/kv/${key}` }),
    async leaderIndex() {
      for (let i = 0; i < 3; i++) {
        if (!children[i]) continue;
        try {
          const status = (await (await fetch(`${urls[i]}/cluster/node`)).json()) as { role: string };
          if (status.role === 'leader') return i;
        } catch {
          // down
        }
      }
      return -1;
    },
    pids: () => children.flatMap((c) => (c?.pid === undefined ? [] : [c.pid])),
    kill(i) {
      const child = children[i];
      children[i] = null;
      child?.kill('SIGKILL');
    },
    async restart(i) {
      spawnNode(i);
      await waitUntil('restarted node', () => ready(i));
    },
    async close() {
      // A member that exited, or died by a signal (V8 out of memory, the kernel's OOM killer),
      // leaves its log behind for the reader.
      const crashed = children.some((c) => c === null || c.exitCode !== null || c.signalCode !== null);
      for (const [i, c] of children.entries()) {
        children[i] = null;
        c?.kill('SIGKILL');
      }
      if (!crashed) await rm(dir, { recursive: true, force: true });
    },
  };
}

export function etcdBinary(): string | undefined {
  try {
    return execFileSync('which', ['etcd'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

export async function startEtcd(binary: string): Promise<System> {
  const dir = await mkdtemp(join(tmpdir(), 'etcd-bench-'));
  const clientPorts = [await freePort(), await freePort(), await freePort()];
  const peerPorts = [await freePort(), await freePort(), await freePort()];
  const urls = clientPorts.map((p) => `http://127.0.0.1:${p}`);
  const initialCluster = peerPorts.map((p, i) => `e${i + 1}=http://127.0.0.1:${p}`).join(',');
  const children: (ChildProcess | null)[] = [];
  const spawnMember = (i: number, state: 'new' | 'existing') => {
    children[i] = spawn(
      binary,
      [
        '--name',
        `e${i + 1}`,
        '--data-dir',
        join(dir, `e${i + 1}`),
        '--listen-client-urls',
        urls[i] as string,
        '--advertise-client-urls',
        urls[i] as string,
        '--listen-peer-urls',
        `http://127.0.0.1:${peerPorts[i]}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${peerPorts[i]}`,
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-state',
        state,
        '--initial-cluster-token',
        'ddia-bench',
        '--log-level',
        'error',
      ],
      {
        stdio: ['ignore', 'ignore', 'ignore'],
        env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch },
      },
    );
  };
  for (let i = 0; i < 3; i++) spawnMember(i, 'new');
  const status = async (i: number) =>
    (await (await fetch(`${urls[i]}/v3/maintenance/status`, { method: 'POST', body: '{}' })).json()) as {
      leader?: string;
      header?: { member_id?: string };
    };
  await waitUntil('etcd leader', async () => {
    const s = await status(0);
    return s.leader !== undefined && s.leader !== '0';
  });
  return {
    name: `etcd ${execFileSync(binary, ['--version'], { encoding: 'utf8' }).split('\n')[0]?.replace('etcd Version: ', '')}`,
    urls,
    put: (origin, key, value) => ({
      origin,
      method: 'POST',
      path: '/v3/kv/put',
      body: JSON.stringify({ key: b64(key), value: b64(value) }),
      headers: { 'content-type': 'application/json' },
    }),
    get: (origin, key) => ({
      origin,
      method: 'POST',
      path: '/v3/kv/range',
      body: JSON.stringify({ key: b64(key) }),
      headers: { 'content-type': 'application/json' },
    }),
    async leaderIndex() {
      for (let i = 0; i < 3; i++) {
        if (!children[i]) continue;
        try {
          const s = await status(i);
          if (s.leader && s.leader === s.header?.member_id) return i;
        } catch {
          // down
        }
      }
      return -1;
    },
    pids: () => children.flatMap((c) => (c?.pid === undefined ? [] : [c.pid])),
    kill(i) {
      children[i]?.kill('SIGKILL');
      children[i] = null;
    },
    async restart(i) {
      spawnMember(i, 'existing');
      await waitUntil('restarted etcd member', async () => (await status(i)).leader !== undefined);
    },
    async close() {
      for (const c of children) c?.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Linux reports process times in clock ticks of 1/100 s (USER_HZ) on every common platform. */
const CLOCK_TICK_MS = 10;

/** CPU time (user + system, ms) used so far by these processes; null where /proc is absent. */
export function cpuMs(pids: number[]): number | null {
  try {
    let total = 0;
    for (const pid of pids) {
      // Fields after the command name: utime and stime are the 12th and 13th, in clock ticks.
      const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] as string).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
    }
    return total;
  } catch {
    return null;
  }
}
