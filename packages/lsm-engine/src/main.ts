// Entry: `node packages/lsm-engine/dist/main.js --port 7010 --data-dir DIR [--compaction tiered]`
// Serves one LSM store over HTTP: /kv/:key, range scans, batches, compaction and stats.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configOrExit, createService, sizeLimits } from '@ddia/common';
import { LsmLevel } from './lsm-level.js';
import { KEY_BYTES_MAX_DEFAULT, registerLsmRoutes, VALUE_BYTES_MAX_DEFAULT } from './server.js';

/** Room for a maximal value plus the JSON framing of a batch. */
const BODY_OVERHEAD_BYTES = 1024 * 1024;

const config = configOrExit({
  'key-bytes-max': {
    type: 'number',
    description: 'Largest key in bytes',
    default: KEY_BYTES_MAX_DEFAULT,
    min: 1,
  },
  'value-bytes-max': {
    type: 'number',
    description: 'Largest value in bytes',
    default: VALUE_BYTES_MAX_DEFAULT,
    min: 0,
  },
  compaction: {
    type: 'string',
    description: 'Compaction style',
    default: 'leveled',
    choices: ['leveled', 'tiered'],
  },
  'bloom-bits-per-key': {
    type: 'number',
    description: 'Bloom filter bits per key (0: none)',
    default: 10,
    min: 0,
    max: 64,
  },
});

const location = config.dataDir ? join(config.dataDir, 'lsm') : await mkdtemp(join(tmpdir(), 'ddia-lsm-'));
const db = new LsmLevel(location, {
  compaction: config.extra.compaction === 'tiered' ? 'tiered' : 'leveled',
  bloomBitsPerKey: config.extra['bloom-bits-per-key'],
});
try {
  await db.open();
} catch (error) {
  console.error(`lsm-engine failed to open ${location}: ${(error as Error).message}`);
  process.exit(1);
}

const service = await createService({
  name: 'lsm-engine',
  config,
  description: 'Chapter 3: a log-structured merge-tree storage engine',
  bodyLimitBytes: config.extra['value-bytes-max'] + BODY_OVERHEAD_BYTES,
  ready: () => db.status === 'open',
  onClose: () => db.close(),
});
registerLsmRoutes(service, db, sizeLimits(config.extra));
const url = await service.listen();
service.log.info({ url, location }, 'lsm-engine listening');
