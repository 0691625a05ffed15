// Entry:
//   node packages/batch/dist/main.js coordinator --port 7601 [--data-dir DIR]
//   node packages/batch/dist/main.js worker --coordinator http://127.0.0.1:7601 [--slots N] [--port N]
// A MapReduce coordinator and its workers (DDIA chapter 10).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, createService, type FlagSpec, parseConfig, usage } from '@ddia/common';
import { Coordinator } from './coordinator.js';
import { registerCoordinatorRoutes, registerWorkerRoutes } from './server.js';
import { SqlEngine } from './sql.js';
import { BatchWorker, HEARTBEAT_DEFAULT_MS } from './worker.js';

const ROLES = ['coordinator', 'worker'] as const;
type Role = (typeof ROLES)[number];
/** How often the coordinator expires leases and commits finished jobs. */
const TICK_MS = 100;

const COORDINATOR_FLAGS = {
  'lease-ms': {
    type: 'number',
    description: 'a worker silent this long is dead and its tasks run again',
    default: 3_000,
    min: 100,
    max: 600_000,
  },
  'backup-after-ms': {
    type: 'number',
    description: 'a task running this long (and 2x the median) gets a speculative backup',
    default: 5_000,
    min: 100,
    max: 86_400_000,
  },
} as const satisfies Record<string, FlagSpec>;

const WORKER_FLAGS = {
  coordinator: { type: 'string', description: 'the coordinator URL, e.g. http://127.0.0.1:7601' },
  slots: { type: 'number', description: 'tasks run at once (threads)', default: 1, min: 1, max: 64 },
  'heartbeat-ms': {
    type: 'number',
    description: 'how often the worker renews its lease',
    default: HEARTBEAT_DEFAULT_MS,
    min: 10,
    max: 60_000,
  },
} as const satisfies Record<string, FlagSpec>;

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

const [roleArg, ...rest] = process.argv.slice(2);
if (roleArg === '--help' || roleArg === '-h' || roleArg === undefined) {
  process.stdout.write(
    `usage: main.js coordinator|worker [flags]\n\ncoordinator ${usage(COORDINATOR_FLAGS)}\n\nworker ${usage(WORKER_FLAGS)}\n`,
  );
  process.exit(roleArg === undefined ? 2 : 0);
}
if (!(ROLES as readonly string[]).includes(roleArg))
  fail(`${roleArg}: the first argument must be coordinator or worker`);
const role = roleArg as Role;
if (rest.includes('--help') || rest.includes('-h')) {
  process.stdout.write(`${usage(role === 'coordinator' ? COORDINATOR_FLAGS : WORKER_FLAGS)}\n`);
  process.exit(0);
}

if (role === 'coordinator') {
  let config: ReturnType<typeof parseConfig<typeof COORDINATOR_FLAGS>>;
  try {
    config = parseConfig(rest, process.env, COORDINATOR_FLAGS);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const sql = new SqlEngine();
  let coordinator: Coordinator | null = null;
  const service = await createService({
    name: 'batch',
    config: { ...config, id: 'coordinator' },
    description:
      'Chapter 10: a MapReduce coordinator (jobs, workers, shuffle, joins) and DuckDB over Parquet',
    onClose: () => {
      coordinator?.stop();
      sql?.close();
    },
  });
  coordinator = new Coordinator({
    dataDir: config.dataDir,
    scheduler: { leaseMs: config.extra['lease-ms'], backupAfterMsMin: config.extra['backup-after-ms'] },
    log: service.log,
  });
  const { recovered } = await coordinator.open();
  registerCoordinatorRoutes(service.app, coordinator, service.registry, sql);
  coordinator.start(TICK_MS);
  const url = await service.listen();
  service.log.info({ url, role, recovered, dataDir: config.dataDir ?? null }, 'batch coordinator ready');
} else {
  let config: ReturnType<typeof parseConfig<typeof WORKER_FLAGS>>;
  try {
    config = parseConfig(rest, process.env, WORKER_FLAGS);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const coordinatorUrl = config.extra.coordinator;
  if (!coordinatorUrl) fail('--coordinator: required (the coordinator URL)');
  if (!/^https?:\/\/[^/]+/.test(coordinatorUrl))
    fail(`--coordinator: '${coordinatorUrl}' is not an http(s) URL`);
  const dataDir = config.dataDir ?? (await mkdtemp(join(tmpdir(), 'ddia-batch-worker-')));
  let worker: BatchWorker | null = null;
  const service = await createService({
    name: 'batch',
    config: { ...config, id: `worker-${process.pid}` },
    description: 'Chapter 10: a MapReduce worker (runs tasks, serves map output to the shuffle)',
    ready: () => worker?.id != null,
    onClose: () => worker?.stop(),
  });
  worker = new BatchWorker({
    coordinatorUrl: coordinatorUrl.replace(/\/+$/, ''),
    slots: config.extra.slots,
    dataDir,
    heartbeatMs: config.extra['heartbeat-ms'],
    log: service.log,
  });
  registerWorkerRoutes(service.app, worker);
  const selfUrl = await service.listen();
  await worker.start(selfUrl);
  service.log.info(
    { url: selfUrl, role, worker: worker.id, dataDir, slots: config.extra.slots },
    'batch worker ready',
  );
}
