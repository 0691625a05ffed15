// @ddia/lsm-engine: chapter 3's log-structured merge-tree, as an abstract-level database.
// Importing the package registers it with @ddia/common, so `openStore({ engine: 'lsm' })`
// finds it.
import { registerEngine } from '@ddia/common';
import { LsmLevel } from './lsm-level.js';

export { BlockCache } from './block-cache.js';
export { bloomHash, bloomMayContain, buildBloom } from './bloom.js';
export type { CompactionStyle } from './compaction.js';
export { LsmDb, type LsmStats } from './db.js';
export {
  CorruptManifestError,
  CorruptTableError,
  CorruptWalError,
  DatabaseLocationError,
  DatabaseLockedError,
  EngineFailedError,
  LsmOptionsError,
} from './errors.js';
export { LsmLevel, type LsmLevelOptions } from './lsm-level.js';
export { Memtable } from './memtable.js';
export { LSM_DEFAULTS, type LsmOptions } from './options.js';
export { prewarmTableWorkers, tableWorkersReady } from './table-workers.js';

registerEngine('lsm', (location, options) => new LsmLevel(location, options));
