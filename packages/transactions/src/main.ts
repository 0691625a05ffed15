// Entry: node packages/transactions/dist/main.js --port N [--data-dir DIR]
// A multi-version transactional store with six isolation levels (DDIA chapter 7).
import { configOrExit, createService, SystemClock } from '@ddia/common';
import { CHECKPOINT_WAL_BYTES_DEFAULT } from './durability/checkpoint.js';
import { openDatabase } from './durability/wal.js';
import { IDLE_TIMEOUT_DEFAULT_MS, LOCK_TIMEOUT_DEFAULT_MS } from './engine/database.js';
import { registerRoutes } from './server.js';

const config = configOrExit({
  'lock-timeout-ms': {
    type: 'number',
    description: 'how long a statement waits for a lock before its transaction is aborted',
    default: LOCK_TIMEOUT_DEFAULT_MS,
    min: 1,
    max: 600_000,
  },
  'idle-timeout-ms': {
    type: 'number',
    description: 'an open transaction idle this long is rolled back',
    default: IDLE_TIMEOUT_DEFAULT_MS,
    min: 1,
    max: 86_400_000,
  },
  'checkpoint-wal-bytes': {
    type: 'number',
    description:
      'WAL growth (bytes) after which the tables are checkpointed and the WAL behind them deleted; 0 = never',
    default: CHECKPOINT_WAL_BYTES_DEFAULT,
    min: 0,
    max: 2 ** 40,
  },
});

let log: { error(o: object, m: string): void } | undefined;

const opened = await openDatabase({
  clock: new SystemClock(),
  dataDir: config.dataDir,
  lockTimeoutMs: config.extra['lock-timeout-ms'],
  idleTimeoutMs: config.extra['idle-timeout-ms'],
  checkpointWalBytes: config.extra['checkpoint-wal-bytes'],
  onCheckpointError: (err) =>
    log?.error({ err }, 'checkpoint failed; the previous one and the WAL still hold everything'),
});
const service = await createService({
  name: 'transactions',
  config,
  description: 'Chapter 7: MVCC store with isolation levels, anomaly demos and two-phase commit',
  onClose: () => opened.close(),
});
log = service.log;
registerRoutes(service.app, opened.db, service.registry, {
  chaos: config.chaos,
  walStats: () => opened.walStats(),
});
const url = await service.listen();
service.log.info(
  {
    url,
    recovered: opened.recovered,
    checkpointWalIndex: opened.checkpointWalIndex,
    dataDir: config.dataDir ?? null,
  },
  'transactions ready',
);
