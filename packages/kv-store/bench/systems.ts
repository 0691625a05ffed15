// The two systems under test, as real processes on loopback: our kv-store and an etcd
// cluster of 3 or 5 members each. Both fsync on commit (our Raft log: O_DSYNC writes; etcd:
// WAL fsync by default) and run the same Raft timing (a 50 ms heartbeat, elections after
// 500-1000 ms, pre-vote, check-quorum). Each knows its driver (drivers.ts), finds its leader,
// kills and restarts a member, and names its members' processes (for CPU and memory).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { etcdDriver, kvStoreDriver } from './drivers.js';
import type { Driver } from './load.js';

export const MAIN_JS = fileURLToPath(new URL('../dist/main.js', import.meta.url));
/** Three to five members booting at once (each with its LSM table workers) on a loaded 2-core
 *  machine took over 30 s to all answer /ready. */
const READY_TIMEOUT_MS = 120_000;

/** Members of a cluster unless told. */
export const MEMBERS_DEFAULT = 3;

export interface System {
  name: string;
  /** The members' client URLs (the origins of their requests). */
  urls: string[];
  /** How the members were started, beyond the cluster's addresses (for the report). */
  settings: string;
  /** A driver for `connections` concurrent clients; the caller closes it. */
  driver(connections: number): Driver;
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
  /** Members of the cluster (default 3). */
  members?: number;
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
  const members = options.members ?? MEMBERS_DEFAULT;
  const ports: number[] = [];
  for (let i = 0; i < members; i++) ports.push(await freePort());
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
  for (let i = 0; i < members; i++) spawnNode(i);
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
      async () => (await Promise.all(urls.map((_, i) => ready(i)))).every(Boolean),
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
    settings: [
      `node ${[...nodeArgs, '(+ src/gc-settings.ts)'].join(' ')}`,
      `defaults (--tick-ms 50 --election-ticks 10, pre-vote, check-quorum)`,
      ...(extraFlags.length ? [extraFlags.join(' ')] : []),
    ].join('; '),
    driver: kvStoreDriver,
    async leaderIndex() {
      for (let i = 0; i < members; i++) {
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

/** etcd's Raft timing, set to our members' (`--tick-ms 50 --election-ticks 10`, pre-vote):
 *  a heartbeat every 50 ms, an election after 500-1000 ms (etcd also randomises in [t, 2t)). */
const ETCD_RAFT_FLAGS = ['--heartbeat-interval=50', '--election-timeout=500', '--pre-vote'];
/** Go's equivalent of the heap growth our members give V8 (src/gc-settings.ts,
 *  --heap-growing-percent=300): the next collection when the heap reaches 4x what the last one
 *  kept. Our other two V8 settings have no Go counterpart (see the README). */
const ETCD_ENV = { GOGC: '300' };

export async function startEtcd(binary: string, members = MEMBERS_DEFAULT): Promise<System> {
  const dir = await mkdtemp(join(tmpdir(), 'etcd-bench-'));
  const clientPorts: number[] = [];
  const peerPorts: number[] = [];
  for (let i = 0; i < members; i++) {
    clientPorts.push(await freePort());
    peerPorts.push(await freePort());
  }
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
        ...ETCD_RAFT_FLAGS,
      ],
      {
        stdio: ['ignore', 'ignore', 'ignore'],
        env: {
          ...process.env,
          ...ETCD_ENV,
          ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch,
        },
      },
    );
  };
  for (let i = 0; i < members; i++) spawnMember(i, 'new');
  // Leadership is asked through etcd's JSON gateway: a control call, outside the measurements.
  const status = async (i: number) =>
    (await (await fetch(`${urls[i]}/v3/maintenance/status`, { method: 'POST', body: '{}' })).json()) as {
      leader?: string;
      header?: { member_id?: string };
    };
  try {
    await waitUntil('etcd leader', async () => {
      const s = await status(0);
      return s.leader !== undefined && s.leader !== '0';
    });
  } catch (error) {
    for (const c of children) c?.kill('SIGKILL');
    throw error;
  }
  return {
    name: `etcd ${execFileSync(binary, ['--version'], { encoding: 'utf8' }).split('\n')[0]?.replace('etcd Version: ', '')}`,
    urls,
    settings: `${Object.entries(ETCD_ENV)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')} etcd ${ETCD_RAFT_FLAGS.join(' ')}`,
    driver: etcdDriver,
    async leaderIndex() {
      for (let i = 0; i < members; i++) {
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
