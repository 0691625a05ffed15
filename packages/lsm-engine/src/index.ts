// @ddia/lsm-engine: chapter 3's log-structured merge-tree, as an abstract-level database.
// Services open it through common's `openStore({ engine: 'lsm', lsm: lsmEngine })`.
import type { StoreFactory } from '@ddia/common';
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

/** The engine's constructor in the shape `openStore({ lsm })` takes. */
export const lsmEngine: StoreFactory = (location, options) => new LsmLevel(location, options);
export { LSM_SYNC } from './sync-points.js';
